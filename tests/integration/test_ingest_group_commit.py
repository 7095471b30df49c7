"""Concurrent ingest: SQLite commits waiting batches together (group commit); every batch still
lands whole or not at all, and a bad batch in a group fails alone."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import Connection, func, select

from replayhub.config import LimitSettings
from replayhub.db.models import Action, ReplaySession, Segment
from replayhub.ingest.decode import Batch, decode_body
from replayhub.ingest.store import Ingestor, Writes
from tests.helpers import make_app, tiny_batch

START = 1_790_000_000_000


def batch(session_id: str, seq: int) -> Batch:
    body = json.dumps(tiny_batch(session_id, seq, START + seq * 1000)).encode()
    return decode_body(body, "", LimitSettings())


async def session_rows(client: AsyncTestClient[Any]) -> dict[str, tuple[int, int]]:
    """session id -> (segment_count, indexed_seq) as stored."""
    async with client.hub.db.read() as tx:
        rows = (await tx.execute(select(ReplaySession.id, ReplaySession.segment_count,
                                        ReplaySession.indexed_seq))).all()
    return {row[0]: (row[1], row[2]) for row in rows}


async def count(client: AsyncTestClient[Any], model: type) -> int:
    async with client.hub.db.read() as tx:
        return int((await tx.execute(select(func.count()).select_from(model))).scalar() or 0)


def record_groups(client: AsyncTestClient[Any], monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Sizes of the groups the SQLite writer commits (nothing is recorded on PostgreSQL)."""
    sizes: list[int] = []
    writer = client.hub.db._writer
    if writer is not None:
        run_group = writer.run_group

        def recording(works: list[Any]) -> Any:
            sizes.append(len(works))
            return run_group(works)

        monkeypatch.setattr(writer, "run_group", recording)
    return sizes


async def test_concurrent_sessions_are_all_stored_and_indexed(
        client: AsyncTestClient[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    app_id, _ = await make_app(client)
    groups = record_groups(client, monkeypatch)
    ingestor: Ingestor = client.hub.ingestor
    ids = [f"sess-group-{n:04d}" for n in range(24)]

    async def one_session(session_id: str) -> None:
        for seq in range(3):
            await ingestor.ingest(app_id, batch(session_id, seq))

    await asyncio.gather(*(one_session(session_id) for session_id in ids))
    assert await session_rows(client) == {session_id: (3, 2) for session_id in ids}
    assert await count(client, Segment) == 72
    assert await count(client, Action) == 72
    if client.hub.db.is_sqlite:
        assert max(groups) > 1  # batches of different sessions shared a commit


async def test_same_session_batches_at_once_are_indexed_in_order(
        client: AsyncTestClient[Any]) -> None:
    app_id, _ = await make_app(client)
    ingestor: Ingestor = client.hub.ingestor
    seqs = list(range(8)) * 2  # every batch twice: retries are idempotent
    random.Random(7).shuffle(seqs)
    results = await asyncio.gather(*(ingestor.ingest(app_id, batch("sess-same-0001", seq))
                                     for seq in seqs))
    assert sum(not result.duplicate for result in results) == 8
    assert await session_rows(client) == {"sess-same-0001": (8, 7)}
    assert await count(client, Segment) == 8
    assert await count(client, Action) == 8


async def test_one_bad_batch_in_a_group_fails_alone(
        client: AsyncTestClient[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    app_id, _ = await make_app(client)
    groups = record_groups(client, monkeypatch)
    ingestor: Ingestor = client.hub.ingestor
    write = ingestor._write

    def failing(writes: Writes, tx: Connection) -> None:
        write(writes, tx)  # every row written, then the step fails: all must be undone
        if writes.session.id == "sess-bad-00000":
            raise RuntimeError("disk says no")

    monkeypatch.setattr(ingestor, "_write", failing)
    ids = ["sess-bad-00000", *(f"sess-good-{n:04d}" for n in range(15))]
    results = await asyncio.gather(*(ingestor.ingest(app_id, batch(session_id, 0))
                                     for session_id in ids), return_exceptions=True)
    assert isinstance(results[0], RuntimeError)
    assert not any(isinstance(result, BaseException) for result in results[1:])
    assert await session_rows(client) == {session_id: (1, 0) for session_id in ids[1:]}
    assert await count(client, Segment) == 15
    assert await count(client, Action) == 15
    if client.hub.db.is_sqlite:
        assert max(groups) > 1
    monkeypatch.setattr(ingestor, "_write", write)
    retried = await ingestor.ingest(app_id, batch("sess-bad-00000", 0))
    assert not retried.duplicate
    assert (await session_rows(client))["sess-bad-00000"] == (1, 0)


@pytest.mark.sqlite_only
async def test_a_broken_group_runs_each_step_alone(client: AsyncTestClient[Any]) -> None:
    """When the group's transaction itself fails, every step is run again on its own."""
    writer = client.hub.db._writer
    assert writer is not None, "SQLite writes go through the group-commit writer"
    app_id, _ = await make_app(client)
    calls: list[str] = []

    def step(name: str, tx: Connection) -> str:
        calls.append(name)
        tx.exec_driver_sql("UPDATE apps SET name = ? WHERE id = ?", (name, app_id))
        if name == "breaks" and len(calls) < 4:
            tx.exec_driver_sql("ROLLBACK")  # the whole transaction is lost
            raise RuntimeError("lost")
        return name

    outcomes = await writer.call(writer.run_group, [
        lambda tx: step("first", tx), lambda tx: step("breaks", tx),
        lambda tx: step("last", tx)])
    assert [outcome.error is None for outcome in outcomes] == [True, True, True]
    assert calls == ["first", "breaks", "first", "breaks", "last"]
