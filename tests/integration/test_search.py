"""GET /api/v1/sessions: filters, newest first, a cursor that survives new arrivals."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from tests.conftest import recording
from tests.helpers import ingest_recording, make_app, send, tiny_batch

HOUR = 3_600_000
START = 1_790_000_000_000


async def ids(client: AsyncTestClient[Any], **params: Any) -> list[str]:
    response = await client.get("/api/v1/sessions", params=params)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def load_journeys(client: AsyncTestClient[Any]) -> dict[str, str]:
    _, key = await make_app(client)
    sessions = {}
    for offset, name in enumerate(["checkout", "spinner", "broken", "rage"]):
        source = recording(name)
        first = source["batches"][0]["events"][0]["timestamp"]
        sessions[name] = await ingest_recording(client, key, source,
                                                shift_ms=START + offset * HOUR - first)
    return sessions


async def test_filters_find_the_right_sessions(client: AsyncTestClient[Any]) -> None:
    s = await load_journeys(client)
    assert await ids(client) == [s["rage"], s["broken"], s["spinner"], s["checkout"]]
    assert await ids(client, user_email="ADA@example.com") == [s["checkout"]]
    assert await ids(client, user_id=recording("broken")["expected"]["user"]["id"]) \
        == [s["broken"]]
    assert await ids(client, url="/checkout/confirmed") == [s["checkout"]]
    assert await ids(client, url="spinner") == [s["spinner"]]
    assert await ids(client, error="reading 'total'") == [s["broken"]]
    assert await ids(client, frustration="rage_click") == [s["rage"]]
    assert set(await ids(client, frustration="dead_click")) == {s["rage"], s["spinner"]}
    assert await ids(client, frustration="error_click") == [s["broken"]]
    assert await ids(client, since=str(START + HOUR), until=str(START + 3 * HOUR)) \
        == [s["broken"], s["spinner"]]
    assert await ids(client, url="%") == []


async def test_error_filter_takes_a_fingerprint(client: AsyncTestClient[Any]) -> None:
    s = await load_journeys(client)
    groups = (await client.get("/api/v1/errors", params={"since": str(START - HOUR),
                                                        "until": str(START + 10 * HOUR)})).json()
    fingerprint = next(g["fingerprint"] for g in groups["items"]
                       if "reading 'total'" in g["message"])
    assert await ids(client, error=fingerprint) == [s["broken"]]


async def test_bad_filters_are_400_problems(client: AsyncTestClient[Any]) -> None:
    for params in ({"frustration": "angry"}, {"since": "yesterday"}, {"cursor": "!!"},
                   {"limit": "0"}):
        response = await client.get("/api/v1/sessions", params=params)
        assert response.status_code == 400, params
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_cursor_never_skips_or_repeats_while_sessions_arrive(
        client: AsyncTestClient[Any]) -> None:
    _, key = await make_app(client)
    for index in range(12):
        batch = tiny_batch(f"sess-page-{index:04d}", 0, START + (index // 2) * 1000)
        assert (await send(client, key, batch)).status_code == 202
    seen: list[str] = []
    cursor = None
    arrivals = 0
    while True:
        params = {"limit": 5, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/sessions", params=params)).json()
        seen += [item["id"] for item in page["items"]]
        newer = tiny_batch(f"sess-late-{arrivals:04d}", 0, START + 10**6 + arrivals)
        assert (await send(client, key, newer)).status_code == 202
        arrivals += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 12
    assert seen == sorted(seen, key=lambda sid: (int(sid[-4:]) // 2, sid), reverse=True)


async def test_detail_has_the_timeline(client: AsyncTestClient[Any]) -> None:
    s = await load_journeys(client)
    detail = (await client.get(f"/api/v1/sessions/{s['broken']}")).json()
    kinds = [entry["kind"] for entry in detail["timeline"]]
    assert kinds[0] == "page"
    assert {"click", "error", "error_click"} <= set(kinds)
    error = next(entry for entry in detail["timeline"] if entry["kind"] == "error"
                 and entry["error_type"] == "TypeError")
    assert "reading 'total'" in error["message"] and error["stack"]
    assert all(entry["t"] >= 0 for entry in detail["timeline"])
    assert detail["browser"].startswith("Chrome") and detail["os"] == "Linux"
    assert detail["viewport"] == {"width": 1280, "height": 720}
    assert detail["user"]["email"] == "alan@example.com"
    assert (await client.get("/api/v1/sessions/nope")).status_code == 404


async def test_odd_query_values_are_400_not_500(client: AsyncTestClient[Any]) -> None:
    for path, params in [
        ("/api/v1/sessions", {"since": "99999999999999999999"}),
        ("/api/v1/sessions", {"since": "-99999999999999"}),
        ("/api/v1/sessions", {"until": "²"}),
        ("/api/v1/sessions", {"cursor": "OTk5OTk5OTk5OTk5OTk5OTk5OTk5OmFiYw"}),
        ("/api/v1/errors", {"since": "-99999999999999", "until": "0"}),
        ("/api/v1/sessions/x/events", {"from_seq": "99999999999999999999"}),
    ]:
        response = await client.get(path, params=params)
        assert response.status_code in (400, 404), (path, params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_zero_is_a_time_not_a_missing_one(client: AsyncTestClient[Any]) -> None:
    response = await client.get("/api/v1/errors", params={"since": "0", "until": "86400000"})
    assert response.status_code == 200
    assert response.json()["since"] == "1970-01-01T00:00:00.000Z"
