"""Fuzzing the ingest endpoint: whatever arrives, never a 5xx and never a partial write."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from replayhub.db.models import ErrorEvent, PageView, ReplaySession, Segment
from tests.helpers import NO_AUTH, make_app, tiny_batch

START = 1_790_000_000_000
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                               max_size=4),
    max_leaves=12,
)
events = st.fixed_dictionaries(
    {"type": st.integers(-2, 9) | st.text(max_size=3) | st.none(),
     "timestamp": st.integers(-5, 2 * 10**14) | st.floats(allow_nan=False) | st.text(max_size=5),
     "data": json_values},
    optional={"extra": json_values},
)
batches = st.fixed_dictionaries(
    {"session_id": st.sampled_from(["fuzz-session-0001", "fuzz-session-0002", "short", "x" * 200,
                                    "../escape", ""]) | st.text(max_size=20),
     "seq": st.integers(-3, 5) | st.sampled_from([2**40, "1", None, 1.5]),
     "events": st.lists(events, max_size=6) | json_values},
    optional={"user": json_values, "metadata": json_values, "app_key": json_values},
)
VALID = [json.dumps(tiny_batch("fuzz-session-0001", seq, START + seq * 100)).encode()
         for seq in (0, 1)]
bodies = (st.sampled_from(VALID)
          | batches.map(lambda b: json.dumps(b).encode())
          | st.binary(max_size=200)
          | st.text(max_size=200).map(str.encode)
          | st.just(b"\x1f\x8b\x08\x00garbage"))


async def _snapshot(client: AsyncTestClient[Any]) -> tuple[int, ...]:
    async with client.hub.db.read() as tx:
        return tuple([
            (await tx.execute(select(func.count()).select_from(model))).scalar_one()
            for model in (ReplaySession, Segment, PageView, ErrorEvent)
        ])


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=bodies)
@example(body=VALID[1])
@example(body=VALID[0])
@example(body=VALID[1])
async def test_ingest_survives_anything(client: AsyncTestClient[Any], body: bytes) -> None:
    if not hasattr(client, "fuzz_key"):
        _, client.fuzz_key = await make_app(client)  # type: ignore[attr-defined]
        client.fuzz_accepted = set()  # type: ignore[attr-defined]
    before = await _snapshot(client)
    response = await client.post(f"/api/v1/ingest?key={client.fuzz_key}", content=body,
                                 headers=NO_AUTH)
    assert response.status_code < 500, (body[:300], response.text)
    after = await _snapshot(client)
    if response.status_code != 202:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert after == before, "a refused batch changed the database"
        return
    result = response.json()
    fresh = (result["session_id"], result["seq"]) not in client.fuzz_accepted
    client.fuzz_accepted.add((result["session_id"], result["seq"]))
    assert after[1] == before[1] + (1 if fresh else 0)
