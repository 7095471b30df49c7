"""An incident's impact on recorded sessions: error spikes, affected users, frustration, replays.

The window runs from `window_before_minutes` before the incident started to its resolution (or
now), limited to the incident's apps and page URL globs. Errors are read through
ix_error_events_t / ix_error_events_group_t; frustration signals through the sessions that
overlap the window (ix_sessions_started or ix_sessions_app_started, then
ix_frustrations_session), since frustrations have no index on time alone.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

import msgspec
from sqlalchemy import ColumnElement, Select, distinct, func, or_, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from replayhub.config import IncidentSettings
from replayhub.db.models import ErrorEvent, ErrorGroup, Frustration, ReplaySession
from replayhub.incidents import Scope
from replayhub.index.errors import DAY, HOUR
from replayhub.index.sessions import iso
from replayhub.ingest.store import user_key

MINUTE = 60_000
SESSION_SPAN = 24 * HOUR
"""Sessions that started up to this long before the window are looked at for signals in it."""
CHUNK = 500


class ErrorSpike(msgspec.Struct):
    fingerprint: str
    app_id: str
    type: str
    message: str
    count: int
    """Occurrences in the window."""
    baseline_counts: list[int]
    """Occurrences in the same window 1, 2, ... days before."""
    baseline_mean: float
    ratio: float | None
    """count / baseline_mean; None when the baseline is 0."""
    spiked: bool
    """count >= spike_ratio * baseline_mean (or any count over a zero baseline)."""
    sessions: int
    users: int
    sessions_url: str


class Affected(msgspec.Struct):
    sessions: int
    """Sessions with an error or a frustration signal in the window (in scope)."""
    users: int
    """Distinct users among them (user id, else email, else the session)."""
    sessions_url: str


class FirstAffected(msgspec.Struct):
    session_id: str
    at: str
    """The first error or frustration signal of the session in the window."""
    user: str
    replay_url: str
    sessions_url: str


class FrustrationPage(msgspec.Struct):
    url: str
    count: int
    sessions: int
    sessions_url: str


class FrustrationElement(msgspec.Struct):
    selector: str
    url: str
    count: int
    sessions: int
    sessions_url: str


class Replay(msgspec.Struct):
    session_id: str
    user: str
    started_at: str
    errors: int
    """Errors in the window."""
    frustrations: int
    """Frustration signals in the window."""
    first_error_at: str | None
    replay_url: str
    """The player, positioned at the first error in the window (else the first signal)."""


class Impact(msgspec.Struct):
    incident_id: str
    since: str
    until: str
    app_ids: list[str]
    url_patterns: list[str]
    error_groups: list[ErrorSpike]
    affected: Affected
    first_affected: FirstAffected | None
    frustration_pages: list[FrustrationPage]
    frustration_elements: list[FrustrationElement]
    replays: list[Replay]


class _SessionFigures(msgspec.Struct):
    errors: int = 0
    first_error: int | None = None
    frustrations: int = 0
    first_frustration: int | None = None

    @property
    def first_signal(self) -> int:
        return min(t for t in (self.first_error, self.first_frustration) if t is not None)


def glob_to_like(pattern: str) -> str:
    """A URL glob as a LIKE pattern (`*` → `%`, `?` → `_`, the rest literal)."""
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


def _url_clause(column: ColumnElement[str], scope: Scope) -> list[ColumnElement[bool]]:
    if not scope.url_patterns:
        return []
    return [or_(*(column.ilike(glob_to_like(p), escape="\\") for p in scope.url_patterns))]


def error_filters(scope: Scope, since: int, until: int) -> list[ColumnElement[bool]]:
    clauses = [ErrorEvent.t >= since, ErrorEvent.t < until, *_url_clause(ErrorEvent.url, scope)]
    if scope.app_ids:
        clauses.append(ErrorEvent.group_id.in_(
            select(ErrorGroup.id).where(ErrorGroup.app_id.in_(scope.app_ids))))
    return clauses


def frustration_filters(scope: Scope, since: int, until: int) -> list[ColumnElement[bool]]:
    """Signals in the window, found through the sessions that can hold one."""
    clauses = [
        ReplaySession.started_at >= since - SESSION_SPAN, ReplaySession.started_at < until,
        ReplaySession.ended_at >= since,
        or_(ReplaySession.rage_click_count > 0, ReplaySession.dead_click_count > 0,
            ReplaySession.error_click_count > 0),
        Frustration.session_id == ReplaySession.id,
        Frustration.t >= since, Frustration.t < until, *_url_clause(Frustration.url, scope)]
    if scope.app_ids:
        clauses.append(ReplaySession.app_id.in_(scope.app_ids))
    return clauses


class _Links:
    def __init__(self, base_url: str, scope: Scope, since: int, until: int) -> None:
        self.base_url = base_url
        self.common = {"since": iso(since), "until": iso(until)}
        if len(scope.app_ids) == 1:
            self.common["app_id"] = scope.app_ids[0]
        self.url = ""
        if len(scope.url_patterns) == 1:  # the search takes a substring: the glob's longest
            self.url = max(re.split(r"[*?\[\]]", scope.url_patterns[0]), key=len)

    def sessions(self, **filters: str) -> str:
        """The session search for these filters, over the window (started in it)."""
        if self.url and "url" not in filters:
            filters["url"] = self.url
        return f"{self.base_url}/api/v1/sessions?{urlencode({**filters, **self.common})}"

    def replay(self, session_id: str, t: int) -> str:
        return f"{self.base_url}/replays/{session_id}?t={max(t, 0)}"


def impact_window(started_at: int, resolved_at: int | None, settings: IncidentSettings,
                  now: int) -> tuple[int, int]:
    """The measured window: from `window_before_minutes` before the start to the end."""
    since = started_at - settings.window_before_minutes * MINUTE
    return since, max(resolved_at if resolved_at is not None else now, since + 1)


def affected_session_ids(scope: Scope, since: int, until: int) -> Select[tuple[str]]:
    """The sessions with an error or a frustration signal in the window and scope."""
    errors = select(ErrorEvent.session_id).where(*error_filters(scope, since, until))
    signals = (select(Frustration.session_id).select_from(ReplaySession)
               .join(Frustration, Frustration.session_id == ReplaySession.id)
               .where(*frustration_filters(scope, since, until)))
    return union(errors, signals)  # type: ignore[return-value]


async def incident_impact(tx: AsyncSession, incident_id: str, started_at: int,
                          resolved_at: int | None, scope: Scope, settings: IncidentSettings,
                          now: int, base_url: str = "") -> Impact:
    since, until = impact_window(started_at, resolved_at, settings, now)
    links = _Links(base_url, scope, since, until)
    groups = await _error_spikes(tx, scope, since, until, settings, links)
    figures = await _session_figures(tx, scope, since, until)
    sessions = await sessions_by_id(tx, list(figures))
    pages, elements = await _frustration_spots(tx, scope, since, until, links)
    users = {user_key(sessions[sid]) for sid in figures if sid in sessions}
    first = None
    if figures:
        first_id = min(figures, key=lambda sid: (figures[sid].first_signal, sid))
        session = sessions[first_id]
        first = FirstAffected(
            session_id=first_id, at=iso(figures[first_id].first_signal),
            user=user_label(session),
            replay_url=links.replay(first_id, figures[first_id].first_signal - session.started_at),
            sessions_url=links.sessions(user_email=session.user_email)
            if session.user_email else links.sessions())
    return Impact(
        incident_id=incident_id, since=iso(since), until=iso(until), app_ids=scope.app_ids,
        url_patterns=scope.url_patterns, error_groups=groups,
        affected=Affected(len(figures), len(users),
                          f"{base_url}/api/v1/sessions?{urlencode({'incident': incident_id})}"),
        first_affected=first, frustration_pages=pages, frustration_elements=elements,
        replays=_rank_replays(figures, sessions, started_at, settings.max_replays, links))


async def _error_spikes(tx: AsyncSession, scope: Scope, since: int, until: int,
                        settings: IncidentSettings, links: _Links) -> list[ErrorSpike]:
    rows = (await tx.execute(
        select(ErrorEvent.group_id, func.count(), func.count(distinct(ErrorEvent.session_id)),
               func.count(distinct(ErrorEvent.user_key)))
        .where(*error_filters(scope, since, until)).group_by(ErrorEvent.group_id))).all()
    if not rows:
        return []
    ids = [row[0] for row in rows]
    groups = {g.id: g for g in (await tx.execute(
        select(ErrorGroup).where(ErrorGroup.id.in_(ids)))).scalars()}
    baseline: dict[int, list[int]] = {group_id: [] for group_id in ids}
    for day in range(1, settings.baseline_days + 1):
        shift = day * DAY
        counts = dict((await tx.execute(
            select(ErrorEvent.group_id, func.count())
            .where(ErrorEvent.group_id.in_(ids),
                   *error_filters(Scope([], scope.url_patterns), since - shift, until - shift))
            .group_by(ErrorEvent.group_id))).all())
        for group_id in ids:
            baseline[group_id].append(counts.get(group_id, 0))
    spikes = []
    for group_id, count, session_count, user_count in rows:
        group = groups[group_id]
        days = baseline[group_id]
        mean = sum(days) / len(days) if days else 0.0
        ratio = round(count / mean, 2) if mean else None
        spikes.append(ErrorSpike(
            fingerprint=group.fingerprint, app_id=group.app_id, type=group.type,
            message=group.message, count=count, baseline_counts=days,
            baseline_mean=round(mean, 2), ratio=ratio,
            spiked=count > 0 and (mean == 0 or count >= settings.spike_ratio * mean),
            sessions=session_count, users=user_count,
            sessions_url=links.sessions(error=group.fingerprint)))
    return sorted(spikes, key=lambda s: (not s.spiked, -(s.ratio or float("inf")), -s.count,
                                         s.fingerprint))


async def _session_figures(tx: AsyncSession, scope: Scope, since: int,
                           until: int) -> dict[str, _SessionFigures]:
    figures: dict[str, _SessionFigures] = {}
    errors = await tx.execute(
        select(ErrorEvent.session_id, func.count(), func.min(ErrorEvent.t))
        .where(*error_filters(scope, since, until)).group_by(ErrorEvent.session_id))
    for session_id, count, first in errors:
        figures[session_id] = _SessionFigures(errors=count, first_error=first)
    signals = await tx.execute(
        select(Frustration.session_id, func.count(), func.min(Frustration.t))
        .select_from(ReplaySession).join(Frustration, Frustration.session_id == ReplaySession.id)
        .where(*frustration_filters(scope, since, until)).group_by(Frustration.session_id))
    for session_id, count, first in signals:
        entry = figures.setdefault(session_id, _SessionFigures())
        entry.frustrations, entry.first_frustration = count, first
    return figures


class SessionUser(msgspec.Struct, frozen=True):
    """What the figures read of a session: its user and its start."""

    id: str
    user_id: str | None
    user_email: str | None
    started_at: int


async def sessions_by_id(tx: AsyncSession, ids: list[str]) -> dict[str, SessionUser]:
    """The sessions among `ids` that exist. Only these columns: whole ORM rows for a thousand
    affected sessions cost more than the queries of the impact."""
    found: dict[str, SessionUser] = {}
    for start in range(0, len(ids), CHUNK):
        rows = await tx.execute(
            select(ReplaySession.id, ReplaySession.user_id, ReplaySession.user_email,
                   ReplaySession.started_at)
            .where(ReplaySession.id.in_(ids[start:start + CHUNK])))
        found.update({row[0]: SessionUser(*row) for row in rows})
    return found


async def _frustration_spots(tx: AsyncSession, scope: Scope, since: int, until: int,
                             links: _Links) -> tuple[list[FrustrationPage],
                                                     list[FrustrationElement]]:
    filters = frustration_filters(scope, since, until)
    base = select().select_from(ReplaySession).join(
        Frustration, Frustration.session_id == ReplaySession.id).where(*filters)
    count, sessions = func.count(), func.count(distinct(Frustration.session_id))
    page_rows = (await tx.execute(
        base.add_columns(Frustration.url, count, sessions).group_by(Frustration.url)
        .order_by(count.desc(), Frustration.url))).all()
    element_rows = (await tx.execute(
        base.add_columns(Frustration.selector, Frustration.url, count, sessions)
        .group_by(Frustration.selector, Frustration.url)
        .order_by(count.desc(), Frustration.selector, Frustration.url).limit(50)))
    pages = [FrustrationPage(url, n, s, links.sessions(url=url, frustration="any"))
             for url, n, s in page_rows]
    elements = [FrustrationElement(selector, url, n, s,
                                   links.sessions(url=url, frustration="any"))
                for selector, url, n, s in element_rows]
    return pages, elements


def user_label(session: ReplaySession | SessionUser) -> str:
    return session.user_email or session.user_id or "anonymous"


def _rank_replays(figures: dict[str, _SessionFigures], sessions: dict[str, SessionUser],
                  incident_start: int, limit: int, links: _Links) -> list[Replay]:
    """Errors nearest the incident's start first, then the most frustration; one session per
    user before a second one of the same user."""

    def key(session_id: str) -> tuple[int, int, int, str]:
        figure = figures[session_id]
        if figure.first_error is not None:
            return (0, abs(figure.first_error - incident_start), -figure.frustrations,
                    session_id)
        return (1, -figure.frustrations, figure.first_signal, session_id)

    ordered = sorted((sid for sid in figures if sid in sessions), key=key)
    seen: set[str] = set()
    first_per_user, later = [], []
    for session_id in ordered:
        user = user_key(sessions[session_id])
        (later if user in seen else first_per_user).append(session_id)
        seen.add(user)
    replays = []
    for session_id in (first_per_user + later)[:limit]:
        figure, session = figures[session_id], sessions[session_id]
        moment = figure.first_error if figure.first_error is not None else figure.first_signal
        replays.append(Replay(
            session_id=session_id, user=user_label(session), started_at=iso(session.started_at),
            errors=figure.errors, frustrations=figure.frustrations,
            first_error_at=iso(figure.first_error) if figure.first_error is not None else None,
            replay_url=links.replay(session_id, moment - session.started_at)))
    return replays
