"""Playlists: collections of sessions picked by hand, and saved searches kept fresh.

A collection holds sessions with the moment to open each at and a note; a saved search
holds the filters of GET /api/v1/sessions and always lists exactly what that search would.
The scheduler's refresh tick records each saved search's count, its new matches since the
last refresh and, per watching person, how many matches they have not opened yet; the
watchers hear about new matches once per refresh (alerts: playlist.new_sessions).
Three built-in playlists need no setup: watched by me, mentions of me, commented.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from typing import TYPE_CHECKING, Any

import msgspec
import structlog
from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from replayhub.clock import now_ms
from replayhub.db.models import (
    Comment,
    Playlist,
    PlaylistItem,
    PlaylistWatcher,
    ReplaySession,
    ReplayView,
    Report,
)
from replayhub.index.sessions import (
    BadFilter,
    SessionFilters,
    keyset_page,
    parse_time,
    rare_filters,
    session_query,
)
from replayhub.signing import sign, unsign

if TYPE_CHECKING:
    from replayhub.hub import Hub

log = structlog.get_logger(__name__)
COLLECTION, SEARCH, BUILTIN = "collection", "search", "builtin"
BUILTINS = {"watched": "Watched by me", "mentions": "Mentions of me", "commented": "Commented"}
COUNT_CAP = 10_000
"""A refresh counts matches up to this many (a larger count shows as 10,000+)."""
RECOUNT_MS = 24 * 3_600_000
"""A saved search is counted in full again once a day (retention and late sessions move the
count); between two full counts, refreshes add the new matches."""
SETTLE_MS = 60_000
"""A refresh looks at sessions stored up to a minute before it: a batch still being written
then is seen by the next refresh, once (each refresh takes the window after the last)."""
COUNTS_PER_TICK = 5
COUNT_BUDGET_SECONDS = 2.0
"""Full counts in one tick (each may read many sessions): at most COUNTS_PER_TICK, none
started after this long; the others wait for a later tick."""
SHARE_PURPOSE = "playlist"
FILTER_KEYS = tuple(SessionFilters.__struct_fields__)


class PlaylistError(ValueError):
    """A request the playlist cannot take; `status` is the HTTP answer, the message the fix."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def parse_filters(raw: dict[str, Any]) -> SessionFilters:
    """The saved filters, checked as GET /api/v1/sessions would check them."""
    unknown = sorted(set(raw) - set(FILTER_KEYS))
    if unknown:
        raise PlaylistError(422, f"unknown filter {unknown[0]!r} (use {', '.join(FILTER_KEYS)})")
    values: dict[str, Any] = {}
    try:
        for key, value in raw.items():
            if value is None or value == "":
                continue
            if not isinstance(value, str | int) or isinstance(value, bool):
                raise BadFilter(f"{key}: expected a string")
            values[key] = (parse_time(str(value), key) if key in ("since", "until")
                           else str(value))
        filters = SessionFilters(**values)
        session_query(filters)
    except BadFilter as bad:
        raise PlaylistError(422, str(bad)) from None
    if not values:
        raise PlaylistError(422, "a saved search needs at least one filter "
                                 f"({', '.join(FILTER_KEYS)})")
    return filters


def filters_of(playlist: Playlist) -> SessionFilters:
    return msgspec.json.decode(playlist.filters, type=SessionFilters)


def new_playlist(name: str, owner: str, kind: str, filters: SessionFilters | None) -> Playlist:
    now = now_ms()
    encoded = msgspec.json.encode(filters or SessionFilters()).decode()
    return Playlist(id=f"pl_{secrets.token_hex(8)}", name=name.strip()[:200], kind=kind,
                    filters=encoded, owner=owner[:200], created_at=now, updated_at=now)


async def create_playlist(hub: Hub, *, name: str, owner: str,
                          filters: dict[str, Any] | None = None,
                          session_ids: list[str] | None = None) -> Playlist:
    """A saved search (`filters`) or a collection (`session_ids`), never both."""
    if not name.strip():
        raise PlaylistError(422, "name: a playlist needs a name")
    if (filters is None) == (session_ids is None):
        raise PlaylistError(422, "send either filters (a saved search) or session_ids "
                                 "(a collection), not both")
    if filters is not None:
        playlist = new_playlist(name, owner, SEARCH, parse_filters(filters))
        async with hub.db.write() as tx:
            tx.add(playlist)
        return playlist
    playlist = new_playlist(name, owner, COLLECTION, None)
    ids = list(dict.fromkeys(session_ids or []))
    async with hub.db.write() as tx:
        await _check_sessions(tx, ids)
        tx.add(playlist)
        await tx.flush()
        for index, session_id in enumerate(ids):
            tx.add(PlaylistItem(playlist_id=playlist.id, session_id=session_id, t=0,
                                added_by=owner[:200], added_at=playlist.created_at + index))
    return playlist


async def _check_sessions(tx: AsyncSession, session_ids: list[str]) -> None:
    if not session_ids:
        return
    found = set((await tx.execute(select(ReplaySession.id).where(
        ReplaySession.id.in_(session_ids)))).scalars())  # type: ignore[attr-defined]
    missing = [session_id for session_id in session_ids if session_id not in found]
    if missing:
        raise PlaylistError(422, f"no session {missing[0]!r}"
                                 + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))


async def get_playlist(hub: Hub, playlist_id: str) -> Playlist:
    async with hub.db.read() as tx:
        playlist = await tx.get(Playlist, playlist_id)
    if playlist is None:
        raise PlaylistError(404, f"no playlist {playlist_id!r}")
    return playlist


async def list_playlists(hub: Hub) -> list[Playlist]:
    async with hub.db.read() as tx:
        return list((await tx.execute(select(Playlist).order_by(
            Playlist.name, Playlist.id))).scalars())


async def update_playlist(hub: Hub, playlist_id: str, *, name: str | None = None,
                          filters: dict[str, Any] | None = None,
                          watchers: list[str] | None = None) -> Playlist:
    """Rename, change a saved search's filters, or replace the watchers."""
    playlist = await get_playlist(hub, playlist_id)
    if filters is not None and playlist.kind != SEARCH:
        raise PlaylistError(422, "a collection has no filters: add or remove its sessions")
    changes: dict[str, Any] = {"updated_at": now_ms()}
    if name is not None:
        if not name.strip():
            raise PlaylistError(422, "name: a playlist needs a name")
        changes["name"] = name.strip()[:200]
    if filters is not None:
        changes["filters"] = msgspec.json.encode(parse_filters(filters)).decode()
        changes["refreshed_at"] = changes["seen_until"] = changes["counted_at"] = None
    checked = [check_watcher(w) for w in watchers] if watchers is not None else None
    async with hub.db.write() as tx:
        await tx.execute(update(Playlist).where(Playlist.id == playlist_id).values(**changes))
        if checked is not None:
            await _replace_watchers(tx, playlist_id, checked)
    return await get_playlist(hub, playlist_id)


def check_watcher(watcher: str) -> str:
    """An e-mail, `team:NAME` or `slack:CHANNEL`; anything else is refused."""
    value = watcher.strip()
    kind, _, name = value.partition(":")
    if kind in ("team", "slack") and name.strip():
        return value
    if "@" in value and " " not in value and "." in value.rsplit("@", 1)[-1]:
        return value.lower()
    raise PlaylistError(422, f"watcher {watcher!r}: use an e-mail, team:NAME or slack:CHANNEL")


async def _replace_watchers(tx: AsyncSession, playlist_id: str, watchers: list[str]) -> None:
    await tx.execute(delete(PlaylistWatcher).where(PlaylistWatcher.playlist_id == playlist_id))
    for watcher in dict.fromkeys(watchers):
        tx.add(PlaylistWatcher(playlist_id=playlist_id, watcher=watcher, created_at=now_ms()))


async def watchers_of(hub: Hub, playlist_id: str) -> list[PlaylistWatcher]:
    async with hub.db.read() as tx:
        return list((await tx.execute(select(PlaylistWatcher).where(
            PlaylistWatcher.playlist_id == playlist_id)
            .order_by(PlaylistWatcher.watcher))).scalars())


async def collection_size(hub: Hub, playlist_id: str) -> int:
    async with hub.db.read() as tx:
        return int((await tx.execute(select(func.count()).where(
            PlaylistItem.playlist_id == playlist_id))).scalar_one())


async def delete_playlist(hub: Hub, playlist_id: str) -> None:
    """Delete the playlist; refused (409) while a report is made from it."""
    await get_playlist(hub, playlist_id)
    async with hub.db.write() as tx:
        used_by = list((await tx.execute(select(Report.name).where(
            Report.playlist_id == playlist_id))).scalars())
        if used_by:
            raise PlaylistError(409, f"the report {used_by[0]!r} is made from this playlist: "
                                     "change or delete the report first")
        for model in (PlaylistItem, PlaylistWatcher):
            await tx.execute(delete(model).where(model.playlist_id == playlist_id))
        await tx.execute(delete(Playlist).where(Playlist.id == playlist_id))


async def put_session(hub: Hub, playlist_id: str, session_id: str, *, t: int = 0,
                      note: str = "", by: str = "") -> PlaylistItem:
    """Add a session to a collection, or change its moment and note."""
    playlist = await get_playlist(hub, playlist_id)
    if playlist.kind != COLLECTION:
        raise PlaylistError(409, "a saved search lists what its filters match: change the "
                                 "filters instead of adding sessions")
    async with hub.db.write() as tx:
        await _check_sessions(tx, [session_id])
        item = await tx.get(PlaylistItem, (playlist_id, session_id))
        if item is None:
            item = PlaylistItem(playlist_id=playlist_id, session_id=session_id,
                                added_by=by[:200], added_at=now_ms())
            tx.add(item)
        item.t, item.note = t, note
        await tx.execute(update(Playlist).where(Playlist.id == playlist_id)
                         .values(updated_at=now_ms()))
    return item


async def remove_session(hub: Hub, playlist_id: str, session_id: str) -> None:
    playlist = await get_playlist(hub, playlist_id)
    if playlist.kind != COLLECTION:
        raise PlaylistError(409, "a saved search lists what its filters match: change the "
                                 "filters instead of removing sessions")
    async with hub.db.write() as tx:
        gone = await tx.execute(delete(PlaylistItem).where(
            PlaylistItem.playlist_id == playlist_id, PlaylistItem.session_id == session_id))
        if gone.rowcount == 0:  # type: ignore[attr-defined]
            raise PlaylistError(404, f"session {session_id!r} is not in this playlist")


class Page(msgspec.Struct):
    sessions: list[ReplaySession]
    next_cursor: str | None
    items: dict[str, PlaylistItem] = {}
    """A collection's moment and note of each session, by session id."""


async def playlist_sessions(hub: Hub, playlist_id: str, *, me: str = "", limit: int = 50,
                            cursor: str | None = None) -> Page:
    """One page of the playlist's sessions (a saved search: exactly the search API's)."""
    async with hub.db.read() as tx:
        try:
            if playlist_id.startswith(f"{BUILTIN}:"):
                query = builtin_query(playlist_id.partition(":")[2], await viewer_names(hub, me))
                return Page(*await keyset_page(tx, query, limit, cursor))
            playlist = await tx.get(Playlist, playlist_id)
            if playlist is None:
                raise PlaylistError(404, f"no playlist {playlist_id!r}")
            if playlist.kind == SEARCH:
                filters = filters_of(playlist)
                query = session_query(filters, await rare_filters(tx, filters))
                return Page(*await keyset_page(tx, query, limit, cursor))
            return await _collection_page(tx, playlist_id, limit, cursor)
        except BadFilter as bad:
            raise PlaylistError(400, str(bad)) from None


def builtin_query(name: str, me: list[str]) -> Select[tuple[ReplaySession]]:
    """The built-in playlists: sessions I watched, sessions whose comments mention me, and
    sessions with comments; `me` are the names I go by (a token's name, my e-mail)."""
    query = session_query(SessionFilters())
    if name == "watched":
        return query.where(exists().where(ReplayView.session_id == ReplaySession.id,
                                          ReplayView.viewer.in_(me)))  # type: ignore[attr-defined]
    if name == "mentions":
        mentions = [Comment.body.ilike(  # type: ignore[attr-defined]
            f"%@{handle.replace('%', '').replace('_', '')}%") for handle in me if handle]
        return query.where(exists().where(Comment.session_id == ReplaySession.id,
                                          or_(*mentions)))
    if name == "commented":
        return query.where(exists().where(Comment.session_id == ReplaySession.id))
    raise PlaylistError(404, f"no built-in playlist {name!r} (use {', '.join(BUILTINS)})")


def _item_cursor(item: PlaylistItem) -> str:
    raw = f"{item.added_at}:{item.session_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_item_cursor(cursor: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        added, _, session_id = raw.partition(":")
        return int(added), session_id
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise PlaylistError(400, "cursor: not a cursor this hub returned") from None


async def _collection_page(tx: AsyncSession, playlist_id: str, limit: int,
                           cursor: str | None) -> Page:
    """A collection newest-added first."""
    query = (select(PlaylistItem, ReplaySession)
             .join(ReplaySession, ReplaySession.id == PlaylistItem.session_id)
             .where(PlaylistItem.playlist_id == playlist_id)
             .order_by(PlaylistItem.added_at.desc(),  # type: ignore[attr-defined]
                       PlaylistItem.session_id.desc()))  # type: ignore[attr-defined]
    if cursor:
        added, session_id = _read_item_cursor(cursor)
        query = query.where(or_(PlaylistItem.added_at < added,
                                and_(PlaylistItem.added_at == added,
                                     PlaylistItem.session_id < session_id)))
    rows = list((await tx.execute(query.limit(limit + 1))).all())
    next_cursor = _item_cursor(rows[limit - 1][0]) if len(rows) > limit else None
    rows = rows[:limit]
    return Page([session for _, session in rows], next_cursor,
                {item.session_id: item for item, _ in rows})


async def _bounded_count(tx: AsyncSession, query: Select[Any]) -> int:
    inner = query.with_only_columns(ReplaySession.id).order_by(None).limit(COUNT_CAP)
    return int((await tx.execute(select(func.count()).select_from(inner.subquery())))
               .scalar_one())


async def refresh_playlist(hub: Hub, playlist: Playlist, now: int,
                           count_in_full: bool = True) -> list[str]:
    """Find the saved search's new matches, keep its count and each watcher's unwatched count.

    With `count_in_full` the matches are counted (up to COUNT_CAP); otherwise the sessions
    stored since the last refresh that match are added to the last count, which only reads
    those sessions (ix_sessions_created) and stays cheap over millions of sessions.
    """
    filters = filters_of(playlist)
    watchers = await watchers_of(hub, playlist.id)
    full = count_in_full
    # The first refresh counts everything stored so far; later ones look at what came after.
    mark = now if playlist.seen_until is None else max(playlist.seen_until, now - SETTLE_MS)
    async with hub.db.read() as tx:
        query = session_query(filters, await rare_filters(tx, filters))
        new_ids = [] if playlist.seen_until is None else await _stored_between(
            tx, query, playlist.seen_until, mark)
        handles = {w.watcher: await viewer_names(hub, w.watcher) for w in watchers
                   if not w.watcher.startswith(("team:", "slack:"))}
        if full:
            count = await _bounded_count(tx, query)
        elif playlist.counted_at is not None:
            count = min(COUNT_CAP, playlist.match_count + len(new_ids))
        else:
            count = 0
        unwatched = {watcher: max(0, count - await _watched(tx, query, names))
                     for watcher, names in handles.items()}
    values: dict[str, Any] = {"refreshed_at": now, "seen_until": mark, "match_count": count,
                              "count_capped": count >= COUNT_CAP, "new_count": len(new_ids)}
    if full:
        values["counted_at"] = now
    async with hub.db.write() as tx:
        await tx.execute(update(Playlist).where(Playlist.id == playlist.id).values(**values))
        for watcher, value in unwatched.items():
            await tx.execute(update(PlaylistWatcher).where(
                PlaylistWatcher.playlist_id == playlist.id,
                PlaylistWatcher.watcher == watcher).values(unwatched=value))
    if new_ids and watchers:
        await tell_watchers(hub, playlist, new_ids, [w.watcher for w in watchers], now)
    return new_ids


async def _stored_between(tx: AsyncSession, query: Select[Any], after: int,
                          until: int) -> list[str]:
    """Matching sessions stored in (after, until], oldest first, at most 1,000."""
    fresh = (query.where(ReplaySession.created_at > after, ReplaySession.created_at <= until)
             .order_by(None).order_by(ReplaySession.created_at, ReplaySession.id)
             .with_only_columns(ReplaySession.id).limit(1000))
    return list((await tx.execute(fresh)).scalars())


async def viewer_names(hub: Hub, handle: str) -> list[str]:
    """The names someone's views and mentions are recorded under: the handle (an e-mail or a
    token's name) and, when the directory knows the person, their e-mail and name."""
    from replayhub.people import find_person

    person = await find_person(hub, handle) if handle else None
    names = [handle, *([person.email, person.name] if person else [])]
    return [name for name in dict.fromkeys(names) if name]


async def _watched(tx: AsyncSession, query: Select[Any], viewers: list[str]) -> int:
    """How many of the matches these viewers opened (their views are few: read those)."""
    seen = query.where(ReplaySession.id.in_(  # type: ignore[attr-defined]
        select(ReplayView.session_id).where(
            ReplayView.viewer.in_(viewers))))  # type: ignore[attr-defined]
    return await _bounded_count(tx, seen)


async def tell_watchers(hub: Hub, playlist: Playlist, new_ids: list[str], watchers: list[str],
                        now: int) -> None:
    from replayhub.alerts import playlist_new_sessions

    await playlist_new_sessions(hub, playlist.id, playlist.name, new_ids, watchers, now_ms=now)


async def refresh_playlists(hub: Hub, now: int | None = None) -> int:
    """The refresh tick: every saved search finds its new matches; a few are also counted in
    full, never counted ones first, then those whose last count is over a day old."""
    now = now_ms() if now is None else now
    async with hub.db.read() as tx:
        playlists = list((await tx.execute(
            select(Playlist).where(Playlist.kind == SEARCH)
            .order_by(Playlist.counted_at.is_not(None),  # type: ignore[union-attr]
                      Playlist.counted_at))).scalars())
    counts, started = 0, time.monotonic()
    for playlist in playlists:
        due = playlist.counted_at is None or now - playlist.counted_at > RECOUNT_MS
        in_budget = time.monotonic() - started < COUNT_BUDGET_SECONDS
        count_in_full = due and counts < COUNTS_PER_TICK and in_budget
        counts += count_in_full
        try:
            await refresh_playlist(hub, playlist, now, count_in_full=count_in_full)
        except Exception:
            log.exception("playlists.refresh_failed", playlist=playlist.id)
    return len(playlists)


def share_token(key: bytes, playlist_id: str, expires_in: int,
                now: float | None = None) -> tuple[str, int]:
    """A signed link to a playlist's player page; the token and its expiry (epoch seconds)."""
    expires_at = int(now if now is not None else time.time()) + expires_in
    return sign(key, SHARE_PURPOSE, {"p": playlist_id, "exp": expires_at}), expires_at


def read_share_token(key: bytes, token: str) -> tuple[str, int]:
    """(playlist id, expiry); raises signing.BadSignature or signing.Expired."""
    payload = unsign(key, SHARE_PURPOSE, token)
    return str(payload["p"]), int(payload["exp"])
