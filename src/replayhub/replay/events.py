"""A session's stored events read back: all at once, or a few segments at a time (the player)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from sqlalchemy import select

from replayhub.blobs import BlobStore
from replayhub.db.engine import Database
from replayhub.db.models import Segment
from replayhub.ingest.staging import Stored
from replayhub.ingest.store import decompress


async def segment_page(db: Database, session_id: str, from_seq: int,
                       limit_segments: int) -> tuple[list[Stored], int | None]:
    """Up to `limit_segments` segments from `from_seq` on, and the next seq."""
    query = (select(Segment.seq, Segment.blob_key, Segment.staged)
             .where(Segment.session_id == session_id, Segment.seq >= from_seq)
             .order_by(Segment.seq).limit(limit_segments + 1))
    async with db.read() as tx:
        rows = (await tx.execute(query)).all()
    next_seq = rows[limit_segments][0] if len(rows) > limit_segments else None
    return [Stored.of_row(key, staged) for _, key, staged in rows[:limit_segments]], next_seq


async def stream_events(db: Database, blobs: BlobStore, session_id: str) -> AsyncIterator[bytes]:
    """The stored events of a session as one JSON array, a segment at a time, in seq order
    (segments still staged come with the list, the others from the blob store)."""
    async with db.read() as tx:
        rows = (await tx.execute(select(Segment.blob_key, Segment.staged)
                                 .where(Segment.session_id == session_id)
                                 .order_by(Segment.seq))).all()
    async for chunk in stream_segments(blobs, [Stored.of_row(key, staged) for key, staged in rows]):
        yield chunk


async def stream_segments(blobs: BlobStore, segments: list[Stored]) -> AsyncIterator[bytes]:
    """The segments' events as one JSON array."""
    yield b"["
    first = True
    for segment in segments:
        body = decompress(await segment.read(blobs))[1:-1]
        if not body:
            continue
        yield body if first else b"," + body
        first = False
    yield b"]"
