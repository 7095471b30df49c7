"""Staged segments, moved to the blob store after the batch is accepted.

Ingest commits a batch's compressed events in `segments.staged`, in the same transaction
as its rows: one commit (one fsync, shared by the batches committed together) makes the
whole batch durable. A blob file of its own, made durable before the commit, cost every
request a file, an fsync and a thread of its own waiting for the GIL, which was most of
the time an ingest request took. The mover then writes staged segments to the blob store,
several at a time, and clears `staged` once each blob is durable. Readers use `staged`
while it is set (Stored), so a segment can be read at every moment; a crash between the
two steps only means the blob is written again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from functools import partial
from typing import NamedTuple

import structlog
from sqlalchemy import Connection, bindparam, select, update

from replayhub.blobs import BlobStore
from replayhub.db.engine import Database
from replayhub.db.models import ReplaySession, Segment

log = structlog.get_logger(__name__)

STAGE_MAX_BYTES = 256 * 1024
"""Compressed segments larger than this go to the blob store before the commit instead."""
MOVE_BATCH = 256
"""Segments moved a round: the blobs of a round are written side by side."""
GATHER_SECONDS = 0.1
"""How long the mover lets staged segments pile up after a wake-up (fewer, larger rounds)."""
TOLD_MAX = 10_000
"""Segments kept in memory to move; beyond, they wait in the database for the next scan (a
slow blob store must not make the process grow)."""
SCAN_SECONDS = 10.0
"""How often the mover looks in the database for staged segments it was not told of (left
by a process that stopped before moving them, or staged by another process)."""

SEGMENTS = Segment.__table__  # type: ignore[attr-defined]
CLEAR_STAGED = (update(SEGMENTS)
                .where(SEGMENTS.c.session_id == bindparam("b_session_id"),
                       SEGMENTS.c.seq == bindparam("b_seq"))
                .values(staged=None))


class Stored(NamedTuple):
    """Where a segment's compressed events are: staged in its row, else in the blob store."""

    key: str
    staged: bytes | None = None

    @classmethod
    def of_row(cls, key: str, staged: bytes | memoryview | None) -> Stored:
        """From a segment row's blob_key and staged (some drivers give a memoryview)."""
        return cls(str(key), bytes(staged) if staged is not None else None)

    async def read(self, blobs: BlobStore) -> bytes:
        return self.staged if self.staged is not None else await blobs.get(self.key)


class StagedSegment(NamedTuple):
    session_id: str
    seq: int
    key: str
    data: bytes


class SegmentMover:
    """Moves staged segments to the blob store: those ingest tells it of, soon after their
    commit, and every SCAN_SECONDS those it finds in the database."""

    def __init__(self, db: Database, blobs: BlobStore) -> None:
        self.db = db
        self.blobs = blobs
        self.told: list[StagedSegment] = []
        self.wanted = asyncio.Event()
        self.moving = asyncio.Lock()
        """Held for a whole round, so a segment is never written by two rounds at once (the
        serving loop's and `replayhub demo`'s, say) and a round that returns left nothing
        behind in flight."""

    def staged(self, segment: StagedSegment) -> None:
        """Ingest committed `segment` with its events staged: move it soon."""
        if len(self.told) < TOLD_MAX:
            self.told.append(segment)
        self.wanted.set()

    async def move(self, segments: list[StagedSegment]) -> None:
        """Write the segments' blobs, then clear what their rows staged. A blob that fails
        stays staged for a later round; the others are cleared all the same."""
        if not segments:
            return
        results = await asyncio.gather(*(self.blobs.put(segment.key, segment.data)
                                         for segment in segments), return_exceptions=True)
        moved = [{"b_session_id": segment.session_id, "b_seq": segment.seq}
                 for segment, result in zip(segments, results, strict=True) if result is None]
        sessions = {segment.session_id for segment in segments}
        async with self.db.grouped() as tx:
            gone = await tx.finish(partial(_clear_staged, moved, sessions))
        for session_id in gone:
            # Purged while its blob was being written (another process's mover, or an
            # earlier round that found it in the database, cleared the segment first, then
            # retention ran): the blob would outlive every row naming it.
            await self.blobs.delete_prefix(f"sessions/{session_id}")
            log.info("segments.purged_while_moving", session_id=session_id)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def move_told(self) -> int:
        """Move the segments ingest told of; how many were moved."""
        async with self.moving:
            return await self._move_told()

    async def move_all(self) -> int:
        """Move every staged segment, told of or found in the database; how many."""
        async with self.moving:
            total = await self._move_told()
            while found := await self.find_staged():
                await self.move(found)
                total += len(found)
            return total

    async def _move_told(self) -> int:
        total = 0
        while self.told:
            segments, self.told = self.told[:MOVE_BATCH], self.told[MOVE_BATCH:]
            await self.move(segments)
            total += len(segments)
        return total

    async def find_staged(self, limit: int = MOVE_BATCH) -> list[StagedSegment]:
        query = (select(Segment.session_id, Segment.seq, Segment.blob_key, Segment.staged)
                 .where(Segment.staged.is_not(None))  # type: ignore[union-attr]
                 .order_by(Segment.received_at).limit(limit))
        async with self.db.read() as tx:
            rows = (await tx.execute(query)).all()
        return [StagedSegment(str(session_id), int(seq), str(key), bytes(data))
                for session_id, seq, key, data in rows]

    async def run_forever(self) -> None:
        """The serving process's mover loop: a scan of the database first (segments left
        staged by the last run), then the told segments every GATHER_SECONDS at most."""
        scanned = 0.0
        while True:
            self.wanted.clear()
            try:
                if time.monotonic() - scanned >= SCAN_SECONDS:
                    moved = await self.move_all()
                    scanned = time.monotonic()
                else:
                    moved = await self.move_told()
                if moved:
                    log.debug("segments.moved", count=moved)
            except Exception:
                log.exception("segments.move_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wanted.wait(), SCAN_SECONDS)
            await asyncio.sleep(GATHER_SECONDS)


def _clear_staged(moved: list[dict[str, object]], sessions: set[str],
                  tx: Connection) -> list[str]:
    """Clear what the moved segments staged; the sessions of the round that no longer exist."""
    if moved:
        tx.execute(CLEAR_STAGED, moved)
    existing = set(tx.execute(select(ReplaySession.id)
                              .where(ReplaySession.id.in_(sessions))).scalars())  # type: ignore[attr-defined]
    return sorted(sessions - existing)
