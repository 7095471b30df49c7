"""Retention: sessions older than `retention_days` are deleted with their blobs, in batches.

Every row pointing at the session (directly or through another row) goes, then its blob
folder goes, then a tombstone (purged_sessions) is left so that a link to the session says
it was purged instead of failing. Sessions in a collection playlist are kept.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import Column, ColumnElement, Table, delete, exists, select
from sqlmodel import SQLModel

from replayhub.clock import now_ms
from replayhub.db.models import Playlist, PlaylistItem, PurgedSession, ReplaySession, Segment
from replayhub.db.upsert import insert_ignore

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from replayhub.hub import Hub

log = structlog.get_logger(__name__)
DAY_MS = 86_400_000
BATCH = 200


def referencing(table: Table) -> list[tuple[Column[Any], Column[Any]]]:
    """(child column, referenced column) of every foreign key pointing at `table`."""
    return [(key.parent, key.column) for other in SQLModel.metadata.sorted_tables
            for key in other.foreign_keys
            if key.column.table is table and other is not table]


async def delete_with_dependents(tx: AsyncSession, table: Table, rows: ColumnElement[bool],
                                 depth: int = 0) -> None:
    """Delete the `rows` of `table` after every row that points at them, children first."""
    if depth > 5:
        raise RuntimeError(f"foreign keys nest too deep under {table.name}")
    for child, column in referencing(table):
        await delete_with_dependents(tx, child.table,  # type: ignore[arg-type]
                                     child.in_(select(column).where(rows)), depth + 1)
    await tx.execute(delete(table).where(rows))


def in_a_collection() -> ColumnElement[bool]:
    """True for a session held by a collection playlist (kept)."""
    return exists(select(PlaylistItem.session_id)
                  .join(Playlist, Playlist.id == PlaylistItem.playlist_id)
                  .where(Playlist.kind == "collection",
                         PlaylistItem.session_id == ReplaySession.id))


def has_staged_segments() -> ColumnElement[bool]:
    """The session has segments not yet moved to the blob store: its purge waits for the
    mover, which would otherwise write their blobs after the folder is gone."""
    return exists().where(Segment.session_id == ReplaySession.id,
                          Segment.staged.is_not(None))  # type: ignore[union-attr]


async def old_sessions(hub: Hub, cutoff: int, limit: int) -> list[str]:
    """The oldest sessions that ended before `cutoff`, that no collection holds and whose
    segments are all in the blob store."""
    query = select(ReplaySession.id).where(ReplaySession.ended_at < cutoff,
                                           ~in_a_collection(), ~has_staged_segments())
    async with hub.db.read() as tx:
        return list((await tx.execute(query.order_by(ReplaySession.ended_at).limit(limit)))
                    .scalars())


async def purge_sessions(hub: Hub, session_ids: list[str], now: int) -> None:
    """Delete the sessions' blobs, then their rows, leaving a tombstone for each.

    Blobs go first: if the blob store fails, the rows stay and the next tick tries again, so
    no blob is ever left without the row that names it. They are deleted once more after the
    rows: a segment mover that was writing one meanwhile (replayhub.ingest.staging) may have
    put it back; one that writes after the rows are gone removes it itself.
    """
    for session_id in session_ids:
        await hub.blobs.delete_prefix(f"sessions/{session_id}")
    sessions = ReplaySession.__table__  # type: ignore[attr-defined]
    async with hub.db.write() as tx:
        await delete_with_dependents(tx, sessions, sessions.c.id.in_(session_ids))
        for session_id in session_ids:
            await insert_ignore(tx, PurgedSession, id=session_id, purged_at=now)
    for session_id in session_ids:
        await hub.blobs.delete_prefix(f"sessions/{session_id}")


async def retention_tick(hub: Hub, now: int | None = None, batch: int = BATCH) -> int:
    """Purge every session past retention, a batch at a time, logging progress."""
    days = hub.settings.retention_days
    if days <= 0:
        return 0
    now = now_ms() if now is None else now
    cutoff = now - days * DAY_MS
    purged = 0
    while True:
        session_ids = await old_sessions(hub, cutoff, batch)
        if not session_ids:
            break
        await purge_sessions(hub, session_ids, now)
        purged += len(session_ids)
        log.info("retention.progress", purged=purged, before=iso_day(cutoff))
    if purged:
        log.info("retention.done", purged=purged, retention_days=days)
    return purged


def iso_day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).date().isoformat()


async def purged_at(hub: Hub, session_id: str) -> int | None:
    """When retention deleted the session (None: it never existed or still does)."""
    async with hub.db.read() as tx:
        row = await tx.get(PurgedSession, session_id)
    return row.purged_at if row else None
