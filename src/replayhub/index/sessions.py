"""Session search (filters, newest first, keyset cursor) and the session timeline."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime

import msgspec
from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from replayhub.db.models import (
    Action,
    ErrorEvent,
    ErrorGroup,
    Frustration,
    PageView,
    ReplaySession,
    SessionUrl,
    Url,
)

FRUSTRATION_COLUMNS = {
    "rage_click": ReplaySession.rage_click_count,
    "dead_click": ReplaySession.dead_click_count,
    "error_click": ReplaySession.error_click_count,
}
RARE_MATCHES = 5_000
"""A url or error filter with fewer matching rows (in session_urls or error_events) than this
collects the matching sessions first; with more, scanning sessions newest-first and probing
each one fills a page sooner. At 1M sessions both plans cost about the same here (see bench/)."""


class BadFilter(ValueError):
    """A filter value the hub cannot use; the message names the parameter."""


class SessionFilters(msgspec.Struct):
    user_email: str | None = None
    user_id: str | None = None
    url: str | None = None
    error: str | None = None
    frustration: str | None = None
    since: int | None = None
    until: int | None = None
    app_id: str | None = None


class User(msgspec.Struct, omit_defaults=True):
    id: str | None = None
    email: str | None = None
    name: str | None = None


class Counts(msgspec.Struct):
    pages: int
    clicks: int
    errors: int
    rage_clicks: int
    dead_clicks: int
    error_clicks: int


class SessionSummary(msgspec.Struct):
    id: str
    app_id: str
    started_at: str
    ended_at: str
    duration_ms: int
    user: User
    first_url: str
    last_url: str
    browser: str
    os: str
    device: str
    viewport: dict[str, int] | None
    counts: Counts
    replay_url: str


class TimelineEntry(msgspec.Struct, omit_defaults=True):
    t: int
    kind: str
    """page, click, input, error or one of rage_click, dead_click, error_click."""
    label: str
    url: str = ""
    selector: str | None = None
    title: str | None = None
    message: str | None = None
    error_type: str | None = None
    stack: str | None = None
    fingerprint: str | None = None
    clicks: int | None = None


class SessionDetail(SessionSummary):
    timeline: list[TimelineEntry] = []


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def parse_time(value: str | None, name: str) -> int | None:
    """Epoch milliseconds or an ISO 8601 time (UTC unless it says otherwise)."""
    if value is None or value == "":
        return None
    if EPOCH_MS.fullmatch(value):
        return _in_range(int(value), name)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise BadFilter(f"{name}: expected ISO 8601 or epoch ms, got {value!r}") from error
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return _in_range(int(parsed.timestamp() * 1000), name)


def _in_range(ms: int, name: str) -> int:
    if not 0 <= ms < MAX_MS:
        raise BadFilter(f"{name}: {ms} is outside the years 1970 to 9999")
    return ms


EPOCH_MS = re.compile(r"-?[0-9]{1,16}")
MAX_MS = 253_402_300_800_000  # 10000-01-01T00:00:00Z


def encode_cursor(session: ReplaySession) -> str:
    raw = f"{session.started_at}:{session.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        started, _, session_id = raw.partition(":")
        if not EPOCH_MS.fullmatch(started):
            raise ValueError(started)
        return _in_range(int(started), "cursor"), session_id
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise BadFilter("cursor: not a cursor this hub returned") from error


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _url_ids(text: str) -> Select[tuple[int]]:
    return select(Url.id).where(Url.url.ilike(_like(text), escape="\\"))


def _group_ids(text: str) -> Select[tuple[int]]:
    return select(ErrorGroup.id).where(or_(ErrorGroup.fingerprint == text,
                                           ErrorGroup.message.ilike(_like(text), escape="\\")))


def session_query(filters: SessionFilters,
                  rare: frozenset[str] = frozenset()) -> Select[tuple[ReplaySession]]:
    """The filtered query, newest first; the same filters serve search and saved playlists.

    `rare` names the filters ("url", "error") that match few rows (see `rare_filters`): those
    select the matching session ids first instead of probing every session newest-first.
    """
    query = select(ReplaySession)
    if filters.app_id:
        query = query.where(ReplaySession.app_id == filters.app_id)
    if filters.user_email:
        query = query.where(ReplaySession.user_email == filters.user_email.strip().lower())
    if filters.user_id:
        query = query.where(ReplaySession.user_id == filters.user_id)
    if filters.url:
        urls = _url_ids(filters.url)
        if "url" in rare:
            query = query.where(ReplaySession.id.in_(
                select(SessionUrl.session_id).where(SessionUrl.url_id.in_(urls))))
        else:
            # `+ 0`: probe the session's few rows (ix_session_urls_session) and test each url_id
            # against the list, rather than one index seek per matching URL.
            query = query.where(exists().where(SessionUrl.session_id == ReplaySession.id,
                                               (SessionUrl.url_id + 0).in_(urls)))
    if filters.error:
        matches = ErrorEvent.group_id.in_(_group_ids(filters.error))
        if "error" in rare:
            query = query.where(ReplaySession.id.in_(
                select(ErrorEvent.session_id).where(matches)))
        else:
            query = query.where(exists().where(ErrorEvent.session_id == ReplaySession.id,
                                               matches))
    if filters.frustration:
        query = query.where(_frustration_clause(filters.frustration))
    if filters.since is not None:
        query = query.where(ReplaySession.started_at >= filters.since)
    if filters.until is not None:
        query = query.where(ReplaySession.started_at < filters.until)
    return query.order_by(ReplaySession.started_at.desc(), ReplaySession.id.desc())


async def rare_filters(tx: AsyncSession, filters: SessionFilters) -> frozenset[str]:
    """The url and error filters with fewer than RARE_MATCHES matching rows (a bounded count)."""
    rare = set()
    if filters.url and await _fewer_than(tx, select(SessionUrl.url_id).where(
            SessionUrl.url_id.in_(_url_ids(filters.url)))):
        rare.add("url")
    if filters.error and await _fewer_than(tx, select(ErrorEvent.group_id).where(
            ErrorEvent.group_id.in_(_group_ids(filters.error)))):
        rare.add("error")
    return frozenset(rare)


async def _fewer_than(tx: AsyncSession, rows: Select[tuple[int]]) -> bool:
    bounded = rows.limit(RARE_MATCHES).subquery()
    count = (await tx.execute(select(func.count()).select_from(bounded))).scalar_one()
    return count < RARE_MATCHES


def _frustration_clause(kind: str):  # type: ignore[no-untyped-def]
    if kind == "any":
        return or_(*(column > 0 for column in FRUSTRATION_COLUMNS.values()))
    if kind not in FRUSTRATION_COLUMNS:
        names = ", ".join([*FRUSTRATION_COLUMNS, "any"])
        raise BadFilter(f"frustration: expected one of {names}, got {kind!r}")
    return FRUSTRATION_COLUMNS[kind] > 0


async def search_sessions(tx: AsyncSession, filters: SessionFilters, limit: int,
                          cursor: str | None, among: Select[tuple[str]] | None = None,
                          ) -> tuple[list[ReplaySession], str | None]:
    """One page of sessions and the cursor of the next page (None at the end); `among`
    limits them to a set of session ids (an incident's affected sessions)."""
    query = session_query(filters, await rare_filters(tx, filters))
    if among is not None:
        query = query.where(ReplaySession.id.in_(among))
    return await keyset_page(tx, query, limit, cursor)


async def keyset_page(tx: AsyncSession, query: Select[tuple[ReplaySession]], limit: int,
                      cursor: str | None) -> tuple[list[ReplaySession], str | None]:
    """A page of a newest-first session query after `cursor`, and the next page's cursor."""
    if cursor:
        started, session_id = decode_cursor(cursor)
        query = query.where(or_(ReplaySession.started_at < started,
                                and_(ReplaySession.started_at == started,
                                     ReplaySession.id < session_id)))
    rows = list((await tx.execute(query.limit(limit + 1))).scalars().all())
    next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], next_cursor


def summarize(session: ReplaySession, base_url: str) -> SessionSummary:
    viewport = None
    if session.viewport_width and session.viewport_height:
        viewport = {"width": session.viewport_width, "height": session.viewport_height}
    return SessionSummary(
        id=session.id, app_id=session.app_id, started_at=iso(session.started_at),
        ended_at=iso(session.ended_at), duration_ms=session.duration_ms,
        user=User(session.user_id, session.user_email, session.user_name),
        first_url=session.first_url, last_url=session.last_url, browser=session.browser,
        os=session.os, device=session.device, viewport=viewport,
        counts=Counts(session.page_count, session.click_count, session.error_count,
                      session.rage_click_count, session.dead_click_count,
                      session.error_click_count),
        replay_url=f"{base_url}/replays/{session.id}")


async def session_detail(tx: AsyncSession, session: ReplaySession,
                         base_url: str) -> SessionDetail:
    summary = summarize(session, base_url)
    timeline = await timeline_of(tx, session)
    return SessionDetail(**msgspec.structs.asdict(summary), timeline=timeline)


async def timeline_of(tx: AsyncSession, session: ReplaySession) -> list[TimelineEntry]:
    """Pages, actions, errors and frustration signals, `t` in ms from the session start."""
    start = session.started_at
    entries: list[TimelineEntry] = []
    for page in await _rows(tx, PageView, session.id):
        entries.append(TimelineEntry(page.t - start, "page", page.title or page.url, page.url,
                                     title=page.title))
    for action in await _rows(tx, Action, session.id):
        entries.append(TimelineEntry(action.t - start, action.kind, action.selector, action.url,
                                     selector=action.selector))
    errors = (await tx.execute(select(ErrorEvent, ErrorGroup.fingerprint)
                               .join(ErrorGroup, ErrorGroup.id == ErrorEvent.group_id)
                               .where(ErrorEvent.session_id == session.id))).all()
    for error, fingerprint in errors:
        entries.append(TimelineEntry(error.t - start, "error", error.message, error.url,
                                     message=error.message, error_type=error.type,
                                     stack=error.stack, fingerprint=fingerprint))
    for signal in await _rows(tx, Frustration, session.id):
        entries.append(TimelineEntry(signal.t - start, signal.kind, signal.selector, signal.url,
                                     selector=signal.selector, clicks=signal.clicks,
                                     fingerprint=signal.error_fingerprint))
    return sorted(entries, key=lambda entry: entry.t)


async def _rows(tx: AsyncSession, model: type, session_id: str) -> list:  # type: ignore[type-arg]
    query = select(model).where(model.session_id == session_id).order_by(model.t)
    return list((await tx.execute(query)).scalars().all())
