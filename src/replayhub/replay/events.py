"""A session's stored events read back: all at once, or a few segments at a time (the player)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from sqlalchemy import select

from replayhub.blobs import BlobStore
from replayhub.db.engine import Database
from replayhub.db.models import Segment
from replayhub.ingest.store import decompress


async def segment_page(db: Database, session_id: str, from_seq: int,
                       limit_segments: int) -> tuple[list[str], int | None]:
    """Blob keys of up to `limit_segments` segments from `from_seq` on, and the next seq."""
    query = (select(Segment.seq, Segment.blob_key)
             .where(Segment.session_id == session_id, Segment.seq >= from_seq)
             .order_by(Segment.seq).limit(limit_segments + 1))
    async with db.read() as tx:
        rows = (await tx.execute(query)).all()
    next_seq = rows[limit_segments][0] if len(rows) > limit_segments else None
    return [key for _, key in rows[:limit_segments]], next_seq


async def stream_events(db: Database, blobs: BlobStore, session_id: str) -> AsyncIterator[bytes]:
    """The stored events of a session as one JSON array, a segment at a time, in seq order."""
    async with db.read() as tx:
        keys = (await tx.execute(select(Segment.blob_key).where(Segment.session_id == session_id)
                                 .order_by(Segment.seq))).scalars().all()
    async for chunk in stream_segments(blobs, list(keys)):
        yield chunk


async def stream_segments(blobs: BlobStore, keys: list[str]) -> AsyncIterator[bytes]:
    """The segments' events as one JSON array."""
    yield b"["
    first = True
    for key in keys:
        body = decompress(await blobs.get(key))[1:-1]
        if not body:
            continue
        yield body if first else b"," + body
        first = False
    yield b"]"
