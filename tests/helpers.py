"""Small helpers shared by the integration tests: apps, batches, recordings."""

from __future__ import annotations

import asyncio
import copy
import gzip
import json
import time
import uuid
from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import select

from replayhub.db.models import Segment
from replayhub.hub import Hub

NO_AUTH = {"Authorization": ""}


async def make_app(client: AsyncTestClient[Any], name: str = "Shop") -> tuple[str, str]:
    response = await client.post("/api/v1/apps", json={"name": name})
    assert response.status_code == 201, response.text
    body = response.json()
    return body["id"], body["ingest_key"]


async def send(client: AsyncTestClient[Any], key: str, batch: dict[str, Any], *,
               gzipped: bool = False, in_query: bool = True) -> Any:
    body = json.dumps(batch).encode()
    headers = {**NO_AUTH, "Content-Type": "text/plain;charset=UTF-8"}
    if gzipped:
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    url = f"/api/v1/ingest?key={key}" if in_query else "/api/v1/ingest"
    if not in_query:
        batch = {**batch, "app_key": key}
        body = json.dumps(batch).encode()
    return await client.post(url, content=body, headers=headers)


def renamed(recording: dict[str, Any], session_id: str | None = None,
            shift_ms: int = 0) -> list[dict[str, Any]]:
    """The recording's batches under a new session id, optionally moved in time."""
    session_id = session_id or str(uuid.uuid4())
    batches = copy.deepcopy(recording["batches"])
    for batch in batches:
        batch["session_id"] = session_id
        batch.pop("app_key", None)
        for event in batch["events"]:
            event["timestamp"] += shift_ms
    return batches


async def ingest_recording(client: AsyncTestClient[Any], key: str, recording: dict[str, Any],
                           **options: Any) -> str:
    batches = renamed(recording, **options)
    for batch in batches:
        response = await send(client, key, batch)
        assert response.status_code == 202, response.text
    await client.hub.ingestor.close_quiet_sessions(quiet_ms=0)
    return batches[0]["session_id"]


def tiny_batch(session_id: str, seq: int, start: int, **extra: Any) -> dict[str, Any]:
    """A minimal valid batch: a Meta event and a click on node 1."""
    events = [
        {"type": 4, "data": {"href": "https://shop.example.test/", "width": 1280, "height": 720},
         "timestamp": start},
        {"type": 3, "data": {"source": 2, "type": 2, "id": 1, "x": 5, "y": 5},
         "timestamp": start + 10},
    ]
    return {"session_id": session_id, "seq": seq, "events": events, **extra}


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


class FakeClock:
    """Time that moves only when the dispatcher sleeps or the test says so."""

    def __init__(self) -> None:
        self.now = time.time() + 60  # ahead of rows the app stores with the real time
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += max(seconds, 0.0)

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Snapshots:
    """The snapshot renderer as the dispatcher sees it: a PNG, or none (no Chromium)."""

    def __init__(self) -> None:
        self.available = True
        self.calls = 0

    async def __call__(self, session_id: str, t: int) -> bytes | None:
        self.calls += 1
        return PNG if self.available else None


async def move_staged(client: AsyncTestClient[Any]) -> int:
    """Every staged segment moved to the blob store, with no move still in flight.

    The served app moves segments by itself, on its own loop and with its own Hub: wait
    until its mover has nothing left and no round running, then move what it has not
    (as a second hub process would); how many segments that was.
    """
    served = client.app.state.hub.ingestor.staging
    for _ in range(400):
        if not served.told and not served.moving.locked():
            return int(await client.hub.ingestor.staging.move_all())  # type: ignore[attr-defined]
        await asyncio.sleep(0.025)
    raise AssertionError("the served app's segment mover did not finish its round")


def blob_files(hub: Hub) -> list[Path]:
    """The segment files in the local blob folder, without the temporary files of writes
    still in flight (the served app's mover may be writing while a test looks)."""
    root = hub.blobs.root / "sessions"  # type: ignore[attr-defined]
    return sorted(path for path in root.rglob("*.json.gz") if not path.name.startswith(".tmp-"))


async def stored_segments(hub: Hub) -> str:
    """Every stored segment, decompressed: those still staged in their rows and those in the
    blob folder (what a privacy check must look at wherever a segment is)."""
    async with hub.db.read() as tx:
        query = select(Segment.staged).where(Segment.staged.is_not(None))  # type: ignore[union-attr]
        staged = (await tx.execute(query)).scalars().all()
    files = [path.read_bytes() for path in blob_files(hub)]
    return "".join(gzip.decompress(data).decode() for data in [*staged, *files])
