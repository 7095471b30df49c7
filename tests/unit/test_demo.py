"""The demo loader fills the demo app once, through the real ingest path."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from replayhub.config import Settings
from replayhub.db.models import ReplaySession
from replayhub.demo import load_demo
from replayhub.hub import Hub


async def test_demo_loads_sessions_once(tmp_path: Path) -> None:
    hub = Hub.from_settings(Settings(data_dir=str(tmp_path)))
    await hub.start()
    try:
        assert await load_demo(hub, 6) == 6
        assert await load_demo(hub, 6) == 0
        assert await load_demo(hub, 8) == 2
        async with hub.db.read() as tx:
            total = (await tx.execute(select(func.count()).select_from(ReplaySession))).scalar()
            rage = (await tx.execute(select(func.count()).select_from(ReplaySession).where(
                ReplaySession.rage_click_count > 0))).scalar()
        assert total == 8
        assert rage >= 1  # quiet demo sessions are closed, so their rage clicks count
    finally:
        await hub.stop()
