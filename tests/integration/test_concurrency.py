"""Batches of one session arriving at once (beacon and fetch racing) are stored and indexed once."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from replayhub.db.models import ReplaySession, Segment
from tests.conftest import recording
from tests.helpers import ingest_recording, make_app, renamed, send


async def test_racing_batches_of_one_session(client: AsyncTestClient[Any]) -> None:
    _, key = await make_app(client)
    batches = renamed(recording("checkout"), session_id="sess-racing-0001")
    sends = [send(client, key, batch) for batch in batches + batches]
    responses = await asyncio.gather(*sends)
    assert all(response.status_code == 202 for response in responses), \
        [response.text for response in responses if response.status_code != 202]
    await client.hub.ingestor.close_quiet_sessions(quiet_ms=0)
    async with client.hub.db.read() as tx:
        session = await tx.get(ReplaySession, "sess-racing-0001")
        segments = (await tx.execute(select(func.count()).select_from(Segment))).scalar()
    assert segments == len(batches)
    assert session is not None and session.indexed_seq == len(batches) - 1
    serial_id = await ingest_recording(client, key, recording("checkout"))
    racing = (await client.get("/api/v1/sessions/sess-racing-0001")).json()
    serial = (await client.get(f"/api/v1/sessions/{serial_id}")).json()
    assert racing["counts"] == serial["counts"]
    assert len(racing["timeline"]) == len(serial["timeline"])
