"""A batch is durable in its segment row when accepted, then moved to the blob store."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from replayhub.config import Settings
from replayhub.db.models import App, ReplaySession, Segment
from replayhub.hub import Hub
from replayhub.ingest.decode import decode_body
from replayhub.replay.events import stream_events
from replayhub.retention import purge_sessions, retention_tick
from replayhub.security import create_app
from tests.conftest import recording
from tests.helpers import blob_files, make_app, renamed, send, tiny_batch

DAY = 86_400_000


@pytest.fixture
async def hub(settings: Settings) -> AsyncIterator[Hub]:
    """A hub without a served app: nothing moves staged segments unless a test does."""
    hub = Hub.from_settings(settings)
    await hub.start()
    await create_app(hub.db, "Shop")
    try:
        yield hub
    finally:
        await hub.stop()


async def ingest(hub: Hub, batches: list[dict[str, Any]]) -> None:
    for batch in batches:
        parsed = decode_body(json.dumps(batch).encode(), "", hub.settings.limits)
        await hub.ingestor.ingest(await app_id(hub), parsed)


async def app_id(hub: Hub) -> str:
    async with hub.db.read() as tx:
        return str((await tx.execute(select(App.id))).scalar_one())


async def served_events(hub: Hub, session_id: str) -> list[dict[str, Any]]:
    body = b"".join([chunk async for chunk in stream_events(hub.db, hub.blobs, session_id)])
    return msgspec.json.decode(body)  # type: ignore[no-any-return]


async def staged_rows(hub: Hub) -> dict[int, bytes | None]:
    async with hub.db.read() as tx:
        rows = (await tx.execute(select(Segment.seq, Segment.staged))).all()
    return {int(seq): staged for seq, staged in rows}


async def test_a_batch_is_readable_while_staged_and_after_the_move(hub: Hub) -> None:
    batches = renamed(recording("checkout"), session_id="sess-staged-0001")
    await ingest(hub, batches)
    staged = await staged_rows(hub)
    assert sorted(staged) == list(range(len(batches)))
    assert all(data is not None for data in staged.values()) and blob_files(hub) == []
    before = await served_events(hub, "sess-staged-0001")
    assert len(before) == sum(len(batch["events"]) for batch in batches)

    assert await hub.ingestor.staging.move_all() == len(batches)
    assert set((await staged_rows(hub)).values()) == {None}
    files = blob_files(hub)
    assert [path.read_bytes() for path in files] == [staged[seq] for seq in sorted(staged)]
    assert await served_events(hub, "sess-staged-0001") == before
    assert await hub.ingestor.staging.move_all() == 0


async def test_segments_it_was_not_told_of_are_found_in_the_database(
        hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    """Staged by a hub that stopped before moving them, or beyond what is kept in memory."""
    monkeypatch.setattr("replayhub.ingest.staging.TOLD_MAX", 1)
    await ingest(hub, [tiny_batch("sess-untold-0001", seq, 1_790_000_000_000 + seq * 1000)
                       for seq in range(3)])
    assert await hub.ingestor.staging.move_told() == 1
    assert list((await staged_rows(hub)).values()).count(None) == 1
    assert await hub.ingestor.staging.move_all() == 2
    assert len(blob_files(hub)) == 3 and set((await staged_rows(hub)).values()) == {None}


async def test_a_segment_too_large_to_stage_goes_to_the_blob_store_first(
        hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("replayhub.ingest.store.STAGE_MAX_BYTES", 10)
    await ingest(hub, [tiny_batch("sess-large-00001", 0, 1_790_000_000_000)])
    assert await staged_rows(hub) == {0: None}
    [path] = blob_files(hub)
    assert json.loads(gzip.decompress(path.read_bytes()))[1]["data"]["source"] == 2


async def test_indexing_resumes_from_staged_segments_after_a_restart(
        hub: Hub, settings: Settings) -> None:
    """A new process has no indexer state in memory: it replays the staged batches."""
    steady = renamed(recording("rage"), session_id="sess-steady-0001")
    await ingest(hub, steady)
    restarted = renamed(recording("rage"), session_id="sess-restart-001")
    await ingest(hub, restarted[:-1])
    other = Hub.from_settings(settings)
    try:
        await ingest(other, restarted[-1:])
        await other.ingestor.close_quiet_sessions(quiet_ms=0)
    finally:
        await other.stop()
    columns = (ReplaySession.click_count, ReplaySession.rage_click_count,
               ReplaySession.dead_click_count, ReplaySession.error_count)
    async with hub.db.read() as tx:
        counts = {row[0]: tuple(row[1:]) for row in await tx.execute(
            select(ReplaySession.id, *columns))}
    assert counts["sess-restart-001"] == counts["sess-steady-0001"]
    assert counts["sess-restart-001"][1] >= 1  # the journey's rage click was found


async def test_retention_waits_until_a_session_s_segments_are_moved(hub: Hub) -> None:
    now = 1_800_000_000_000
    await ingest(hub, [tiny_batch("sess-old-staged1", 0, now - 40 * DAY)])
    assert await retention_tick(hub, now) == 0  # its blob is not written yet
    await hub.ingestor.staging.move_all()
    assert await retention_tick(hub, now) == 1
    assert not (hub.blobs.root / "sessions" / "sess-old-staged1").exists()  # type: ignore[attr-defined]


async def test_a_session_purged_while_its_segment_is_moved_leaves_no_blob(hub: Hub) -> None:
    now = 1_800_000_000_000
    await ingest(hub, [tiny_batch("sess-purged-0001", 0, now - 40 * DAY)])
    await purge_sessions(hub, ["sess-purged-0001"], now)  # as a tick that raced the mover
    assert await hub.ingestor.staging.move_told() == 1
    assert not (hub.blobs.root / "sessions" / "sess-purged-0001").exists()  # type: ignore[attr-defined]


async def test_a_blob_that_fails_stays_staged_and_the_rest_of_its_round_is_cleared(
        hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    now = 1_800_000_000_000
    await ingest(hub, [tiny_batch("sess-failing-001", seq, now - 40 * DAY + seq * 1000)
                       for seq in range(3)])
    await ingest(hub, [tiny_batch("sess-purged-0002", 0, now - 40 * DAY)])
    await purge_sessions(hub, ["sess-purged-0002"], now)
    put = type(hub.blobs).put

    async def failing_put(store: Any, key: str, data: bytes) -> None:
        if key.endswith("0000000001.json.gz"):
            raise OSError("disk full")
        await put(store, key, data)

    monkeypatch.setattr(type(hub.blobs), "put", failing_put)
    with pytest.raises(OSError, match="disk full"):
        await hub.ingestor.staging.move_all()
    staged = await staged_rows(hub)
    assert staged[0] is None and staged[2] is None and staged[1] is not None
    assert not (hub.blobs.root / "sessions" / "sess-purged-0002").exists()  # type: ignore[attr-defined]
    monkeypatch.setattr(type(hub.blobs), "put", put)
    assert await hub.ingestor.staging.move_all() == 1
    assert len(blob_files(hub)) == 3 and set((await staged_rows(hub)).values()) == {None}


async def test_the_served_hub_moves_staged_segments_by_itself(
        client: AsyncTestClient[Any]) -> None:
    _, key = await make_app(client)
    response = await send(client, key, tiny_batch("sess-served-0001", 0, 1_790_000_000_000))
    assert response.status_code == 202
    hub: Hub = client.hub  # type: ignore[attr-defined]
    for _ in range(200):
        if blob_files(hub) and await staged_rows(hub) == {0: None}:
            break
        await asyncio.sleep(0.025)
    assert [path.name for path in blob_files(hub)] == ["0000000000.json.gz"]
    assert await staged_rows(hub) == {0: None}
