"""POST /api/v1/ingest as a browser sends it: durable, idempotent, refused whole when bad."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from replayhub.db.models import ReplaySession, Segment
from tests.conftest import recording
from tests.helpers import (
    NO_AUTH,
    blob_files,
    ingest_recording,
    make_app,
    move_staged,
    renamed,
    send,
    stored_segments,
    tiny_batch,
)

START = 1_790_000_000_000


async def counts(client: AsyncTestClient[Any]) -> tuple[int, int]:
    async with client.hub.db.read() as tx:
        sessions = (await tx.execute(select(func.count()).select_from(ReplaySession))).scalar()
        segments = (await tx.execute(select(func.count()).select_from(Segment))).scalar()
    return sessions, segments


async def test_batch_is_accepted_and_stored(client: AsyncTestClient[Any]) -> None:
    _, key = await make_app(client)
    response = await send(client, key, tiny_batch("sess-stored-0001", 0, START))
    assert response.status_code == 202
    assert response.json() == {"session_id": "sess-stored-0001", "seq": 0, "accepted": 2}
    assert response.headers["access-control-allow-origin"] == "*"
    assert await counts(client) == (1, 1)
    hub = client.hub  # type: ignore[attr-defined]
    await move_staged(client)  # staged with its rows first: tests/integration/test_staging.py
    [blob] = blob_files(hub)
    assert json.loads(gzip.decompress(blob.read_bytes()))[0]["timestamp"] == START
    async with hub.db.read() as tx:
        assert (await tx.execute(select(Segment.staged))).scalar_one() is None


async def test_gzip_body_and_key_in_body(client: AsyncTestClient[Any]) -> None:
    _, key = await make_app(client)
    batch = tiny_batch("sess-gzipped-01", 0, START)
    assert (await send(client, key, batch, gzipped=True)).status_code == 202
    other = tiny_batch("sess-keyinbody1", 0, START)
    assert (await send(client, key, other, in_query=False)).status_code == 202
    assert await counts(client) == (2, 2)


async def test_cors_preflight_is_answered(client: AsyncTestClient[Any]) -> None:
    response = await client.options("/api/v1/ingest", headers={
        **NO_AUTH, "Origin": "https://shop.example.test",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "content-type" in response.headers["access-control-allow-headers"].lower()


async def test_same_seq_twice_is_stored_once(client: AsyncTestClient[Any]) -> None:
    _, key = await make_app(client)
    batch = tiny_batch("sess-idempotent", 0, START)
    first = await send(client, key, batch)
    again = await send(client, key, batch)
    assert first.status_code == again.status_code == 202
    assert again.json()["accepted"] == 2
    assert await counts(client) == (1, 1)
    detail = (await client.get("/api/v1/sessions/sess-idempotent")).json()
    assert detail["counts"]["clicks"] == 1


async def test_unknown_key_is_refused(client: AsyncTestClient[Any]) -> None:
    response = await send(client, "rhk_wrong", tiny_batch("sess-wrong-key", 0, START))
    assert response.status_code == 401
    assert response.json()["title"] == "Unknown ingest key"
    assert await counts(client) == (0, 0)


async def test_session_of_another_app_is_refused(client: AsyncTestClient[Any]) -> None:
    _, first_key = await make_app(client, "One")
    _, second_key = await make_app(client, "Two")
    assert (await send(client, first_key, tiny_batch("sess-shared-id", 0, START))).status_code \
        == 202
    refused = await send(client, second_key, tiny_batch("sess-shared-id", 1, START + 50))
    assert refused.status_code == 409
    assert await counts(client) == (1, 1)


@pytest.mark.parametrize(("mutate", "status", "limit"), [
    (lambda b: b.update(events=[b["events"][0]] * 30), 413, "max_events_per_batch"),
    (lambda b: b["events"][0]["data"].update(big="x" * 5000), 413, "max_event_bytes"),
    (lambda b: b["events"].append({"type": 99, "data": {}, "timestamp": START}), 422, None),
    (lambda b: b["events"].append({"type": 3, "timestamp": "soon", "data": {}}), 422, None),
    (lambda b: b.update(seq=-1), 422, None),
    (lambda b: b.update(session_id="../../etc"), 422, None),
    (lambda b: b.pop("events"), 422, None),
])
async def test_bad_batches_are_refused_whole(client: AsyncTestClient[Any], mutate: Any,
                                             status: int, limit: str | None) -> None:
    hub = client.hub
    hub.settings.limits.max_events_per_batch = 20
    hub.settings.limits.max_event_bytes = 4096
    _, key = await make_app(client)
    batch = tiny_batch("sess-refused-01", 0, START)
    mutate(batch)
    response = await send(client, key, batch)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    if limit:
        assert response.json()["limit"] == limit
    assert await counts(client) == (0, 0)


async def test_body_over_the_limit_is_413(client: AsyncTestClient[Any]) -> None:
    client.hub.settings.limits.max_body_bytes = 2000
    _, key = await make_app(client)
    batch = tiny_batch("sess-too-large1", 0, START)
    batch["events"][0]["data"]["pad"] = "y" * 3000
    response = await send(client, key, batch)
    assert response.status_code == 413
    assert response.json()["limit"] == "max_body_bytes"
    gzipped = await send(client, key, batch, gzipped=True)
    assert gzipped.status_code == 202


async def test_malformed_json_and_gzip_are_422(client: AsyncTestClient[Any]) -> None:
    _, key = await make_app(client)
    broken = await client.post(f"/api/v1/ingest?key={key}", content=b'{"session_id": ',
                               headers=NO_AUTH)
    assert broken.status_code == 422
    bad_gzip = await client.post(f"/api/v1/ingest?key={key}", content=b"\x1f\x8bnotgzip",
                                 headers=NO_AUTH)
    assert bad_gzip.status_code == 422
    assert await counts(client) == (0, 0)


async def test_out_of_order_batches_are_indexed_once_the_gap_fills(
        client: AsyncTestClient[Any]) -> None:
    _, key = await make_app(client)
    batches = renamed(recording("rage"), session_id="sess-out-of-order")
    assert len(batches) >= 2
    for batch in reversed(batches):
        assert (await send(client, key, batch)).status_code == 202
    await client.hub.ingestor.close_quiet_sessions(quiet_ms=0)
    detail = (await client.get("/api/v1/sessions/sess-out-of-order")).json()
    in_order_id = await ingest_recording(client, key, recording("rage"))
    expected = (await client.get(f"/api/v1/sessions/{in_order_id}")).json()
    assert detail["counts"] == expected["counts"]
    assert [e["kind"] for e in detail["timeline"]] == [e["kind"] for e in expected["timeline"]]


async def test_events_come_back_in_order_and_equal_to_what_was_sent(
        client: AsyncTestClient[Any]) -> None:
    _, key = await make_app(client)
    source = recording("broken")
    session_id = await ingest_recording(client, key, source, session_id="sess-roundtrip-1")
    response = await client.get(f"/api/v1/sessions/{session_id}/events")
    assert response.status_code == 200
    served = response.json()
    sent = [event for batch in source["batches"] for event in batch["events"]]
    assert len(served) == len(sent)
    assert [e["timestamp"] for e in served] == [e["timestamp"] for e in sent]
    assert served == json.loads(json.dumps(sent))  # broken.html typed nothing to scrub


async def test_typed_secrets_are_never_stored_or_served(client: AsyncTestClient[Any]) -> None:
    _, key = await make_app(client)
    source = recording("checkout")
    session_id = await ingest_recording(client, key, source)
    served = (await client.get(f"/api/v1/sessions/{session_id}/events")).text
    detail = (await client.get(f"/api/v1/sessions/{session_id}")).text
    hub = client.hub  # type: ignore[attr-defined]
    staged = await stored_segments(hub)
    await move_staged(client)
    moved = await stored_segments(hub)
    assert staged and moved
    for secret in source["expected"]["typed_secrets"]:
        for text in (served, detail, staged, moved):
            assert secret not in text
            assert secret.replace(" ", "") not in text


async def test_a_restart_mid_session_resumes_indexing_from_stored_batches(
        client: AsyncTestClient[Any]) -> None:
    """The in-memory indexer state is lost (restart, or another process took the batch)."""
    _, key = await make_app(client)
    batches = renamed(recording("checkout"), session_id="sess-restarted-1")
    for index, batch in enumerate(batches):
        if index in (2, 5):
            client.app.state.hub.ingestor.states._entries.clear()
        assert (await send(client, key, batch)).status_code == 202
    await client.hub.ingestor.close_quiet_sessions(quiet_ms=0)
    restarted = (await client.get("/api/v1/sessions/sess-restarted-1")).json()
    steady_id = await ingest_recording(client, key, recording("checkout"))
    steady = (await client.get(f"/api/v1/sessions/{steady_id}")).json()
    assert restarted["counts"] == steady["counts"]
    assert [(e["kind"], e["label"]) for e in restarted["timeline"]] == \
        [(e["kind"], e["label"]) for e in steady["timeline"]]


async def test_a_rolled_back_batch_leaves_no_stale_cached_ids(
        client: AsyncTestClient[Any], monkeypatch: Any) -> None:
    """A batch whose transaction fails after creating a URL row must not poison later ones."""
    _, key = await make_app(client)
    ingestor = client.app.state.hub.ingestor
    calls = {"n": 0}
    original = type(ingestor)._write

    def failing_write(self: Any, writes: Any, tx: Any) -> None:
        original(self, writes, tx)
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("disk full")

    monkeypatch.setattr(type(ingestor), "_write", failing_write)
    batch = tiny_batch("sess-rollback-01", 0, START)
    batch["events"][0]["data"]["href"] = "https://shop.example.test/only-here"
    failed = await send(client, key, batch)
    assert failed.status_code == 500
    again = await send(client, key, batch)
    assert again.status_code == 202, again.text
    found = (await client.get("/api/v1/sessions", params={"url": "only-here"})).json()
    assert [item["id"] for item in found["items"]] == ["sess-rollback-01"]


async def test_a_close_by_another_process_is_not_judged_twice(
        client: AsyncTestClient[Any]) -> None:
    """The app's hub keeps the session's state in memory; the test's hub (another process)
    closes the session; the next batch must not judge the same pending clicks again."""
    _, key = await make_app(client)
    assert (await send(client, key, tiny_batch("sess-two-hubs-01", 0, START))).status_code \
        == 202
    await client.hub.ingestor.close_quiet_sessions(quiet_ms=0)
    later = tiny_batch("sess-two-hubs-01", 1, START + 60_000)
    assert (await send(client, key, later)).status_code == 202
    await client.hub.ingestor.close_quiet_sessions(quiet_ms=0)
    detail = (await client.get("/api/v1/sessions/sess-two-hubs-01")).json()
    dead = [entry for entry in detail["timeline"] if entry["kind"] == "dead_click"]
    assert len(dead) == 2, dead  # one per click, never the first one twice
    assert detail["counts"]["dead_clicks"] == 2


async def test_a_user_named_in_the_body_after_errors_counts_once(
        client: AsyncTestClient[Any]) -> None:
    _, key = await make_app(client)
    first = tiny_batch("sess-rekey-00001", 0, START)
    first["events"].append({"type": 5, "timestamp": START + 20, "data": {"tag": "error",
                            "payload": {"type": "Error", "message": "boom", "stack": ""}}})
    assert (await send(client, key, first)).status_code == 202
    second = tiny_batch("sess-rekey-00001", 1, START + 5000, user={"id": "u-42"})
    second["events"].append({"type": 5, "timestamp": START + 5020, "data": {"tag": "error",
                             "payload": {"type": "Error", "message": "boom", "stack": ""}}})
    assert (await send(client, key, second)).status_code == 202
    groups = (await client.get("/api/v1/errors", params={
        "since": str(START - 1000), "until": str(START + 10_000)})).json()["items"]
    assert [(g["count"], g["sessions"], g["users"]) for g in groups] == [(2, 1, 1)]


@pytest.mark.parametrize("mutate", [
    lambda b: b["events"].append({"type": 3, "timestamp": START + 50,
                                  "data": {"source": 0, "removes": "x", "adds": []}}),
    lambda b: b["events"][0].update(timestamp=1e400),
    lambda b: b["events"][0]["data"].update(deep="DEEP"),
    lambda b: b.update(session_id="abcdefgh\n"),
])
async def test_odd_events_are_422_not_500(client: AsyncTestClient[Any], mutate: Any) -> None:
    _, key = await make_app(client)
    batch = tiny_batch("sess-odd-event-1", 0, START)
    mutate(batch)
    body = (json.dumps(batch).replace('"timestamp": Infinity', '"timestamp": 1e400')
            .replace('"DEEP"', "[" * 3000 + "1" + "]" * 3000))
    response = await client.post(f"/api/v1/ingest?key={key}", content=body.encode(),
                                 headers=NO_AUTH)
    assert response.status_code == 422, response.text
    assert await counts(client) == (0, 0)


async def test_an_early_batch_arriving_late_moves_the_start_back(
        client: AsyncTestClient[Any]) -> None:
    _, key = await make_app(client)
    assert (await send(client, key, tiny_batch("sess-late-start1", 1, START + 5000))).status_code \
        == 202
    assert (await send(client, key, tiny_batch("sess-late-start1", 0, START))).status_code == 202
    await client.hub.ingestor.close_quiet_sessions(quiet_ms=0)
    detail = (await client.get("/api/v1/sessions/sess-late-start1")).json()
    assert detail["started_at"] == "2026-09-21T14:13:20.000Z"
    assert detail["duration_ms"] == 5010
    assert all(entry["t"] >= 0 for entry in detail["timeline"])
    found = (await client.get("/api/v1/sessions", params={"url": "shop.example.test"})).json()
    assert [item["id"] for item in found["items"]] == ["sess-late-start1"]
