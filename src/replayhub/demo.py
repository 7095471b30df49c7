"""Demo data: real recordings shipped with the package, replayed as many users over a week."""

from __future__ import annotations

import copy
import gzip
import json
import random
import uuid
from importlib import resources
from typing import Any

import msgspec
import structlog
from sqlalchemy import func, select

from replayhub.clock import now_ms
from replayhub.db.models import App, ReplaySession
from replayhub.hub import Hub
from replayhub.ingest.decode import decode_body
from replayhub.security import create_app

log = structlog.get_logger(__name__)
DEMO_APP = "Demo shop"
PEOPLE = [
    ("u-1001", "grace@example.com", "Grace Hopper"),
    ("u-1002", "linus@example.com", "Linus Pauling"),
    ("u-1003", "katherine@example.com", "Katherine Johnson"),
    ("u-1004", "alan@example.com", "Alan Kay"),
    ("u-1005", "margaret@example.com", "Margaret Hamilton"),
    ("u-1006", "edsger@example.com", "Edsger Dijkstra"),
    ("u-1007", "barbara@example.com", "Barbara Liskov"),
]
WEEK_MS = 7 * 24 * 3_600_000


def demo_recordings() -> list[dict[str, Any]]:
    folder = resources.files("replayhub") / "demo_data"
    return [json.loads(gzip.decompress(item.read_bytes()))
            for item in sorted(folder.iterdir(), key=lambda item: item.name)
            if item.name.endswith(".json.gz")]


async def demo_app_id(hub: Hub) -> str:
    async with hub.db.read() as tx:
        app = (await tx.execute(select(App).where(App.name == DEMO_APP))).scalars().first()
    if app is None:
        app, _ = await create_app(hub.db, DEMO_APP)
    return app.id


async def load_demo(hub: Hub, count: int, seed: int = 7) -> int:
    """Ingest up to `count` demo sessions through the normal ingest path; returns how many.

    The demo app is filled once: sessions it already has count towards `count`.
    """
    recordings = demo_recordings()
    if not recordings:
        raise RuntimeError("the package has no demo recordings (replayhub/demo_data)")
    app_id = await demo_app_id(hub)
    async with hub.db.read() as tx:
        present = (await tx.execute(select(func.count()).select_from(ReplaySession)
                                    .where(ReplaySession.app_id == app_id))).scalar_one()
    count = max(0, count - present)
    chance = random.Random(seed)
    now = now_ms()
    for index in range(count):
        recording = recordings[index % len(recordings)]
        start = now - chance.randrange(WEEK_MS)
        person = chance.choice(PEOPLE)
        await _ingest_copy(hub, app_id, recording, start, person)
        if (index + 1) % 10 == 0 or index + 1 == count:
            log.info("demo.progress", loaded=index + 1, of=count)
    await hub.ingestor.close_quiet_sessions(quiet_ms=0, limit=count)
    await hub.ingestor.staging.move_all()
    return count


async def _ingest_copy(hub: Hub, app_id: str, recording: dict[str, Any], start: int,
                       person: tuple[str, str, str]) -> None:
    batches = copy.deepcopy(recording["batches"])
    first = min(event["timestamp"] for batch in batches for event in batch["events"])
    session_id = str(uuid.uuid4())
    user = {"id": person[0], "email": person[1], "name": person[2]}
    for batch in batches:
        batch.update(session_id=session_id, user=user)
        for event in batch["events"]:
            event["timestamp"] += start - first
            if event["type"] == 5 and event["data"].get("tag") == "identify":
                event["data"]["payload"] = user
        parsed = decode_body(msgspec.json.encode(batch), "", hub.settings.limits)
        await hub.ingestor.ingest(app_id, parsed)
