"""Playback history: each opening of the player, who watched and how."""

from __future__ import annotations

import msgspec
from sqlalchemy import select

from replayhub.clock import now_ms
from replayhub.db.engine import Database
from replayhub.db.models import ReplayView
from replayhub.index.sessions import iso

SHARE_VIEWER = "share link"


class ViewItem(msgspec.Struct):
    viewer: str
    via: str
    viewed_at: str


async def record_view(db: Database, session_id: str, viewer: str, via: str,
                      share_token_hash: str | None = None) -> None:
    async with db.write() as tx:
        tx.add(ReplayView(session_id=session_id, viewer=viewer[:200], via=via,
                          share_token_hash=share_token_hash,
                          viewed_at=now_ms()))


async def list_views(db: Database, session_id: str, limit: int = 100) -> list[ViewItem]:
    """The latest views first."""
    query = (select(ReplayView).where(ReplayView.session_id == session_id)
             .order_by(ReplayView.viewed_at.desc(), ReplayView.id.desc()).limit(limit))
    async with db.read() as tx:
        rows = (await tx.execute(query)).scalars().all()
    return [ViewItem(row.viewer, row.via, iso(row.viewed_at)) for row in rows]
