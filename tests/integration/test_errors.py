"""GET /api/v1/errors: how many occurrences, sessions and distinct users, and when."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from tests.helpers import make_app, send

HOUR = 3_600_000
START = 1_790_000_000_000


def error_batch(session_id: str, user: str | None, t: int, message: str) -> dict[str, Any]:
    events = [
        {"type": 4, "data": {"href": "https://shop.example.test/pay", "width": 800,
                             "height": 600}, "timestamp": t - 5},
        {"type": 5, "data": {"tag": "error", "payload": {
            "type": "TypeError", "message": message,
            "stack": "TypeError: x\n    at pay (https://shop.example.test/app.js:10:5)",
            "url": "https://shop.example.test/pay"}}, "timestamp": t},
    ]
    batch: dict[str, Any] = {"session_id": session_id, "seq": 0, "events": events}
    if user:
        batch["user"] = {"id": user}
    return batch


async def test_error_groups_count_sessions_and_distinct_users(
        client: AsyncTestClient[Any]) -> None:
    _, key = await make_app(client)
    plan = [("sess-err-0001", "u1", 0), ("sess-err-0002", "u1", HOUR),
            ("sess-err-0003", "u2", 2 * HOUR), ("sess-err-0004", None, 2 * HOUR + 5)]
    for session_id, user, offset in plan:
        batch = error_batch(session_id, user, START + offset,
                            f"Cannot read properties of undefined (reading 'total') #{offset}")
        assert (await send(client, key, batch)).status_code == 202
    other = error_batch("sess-err-0005", "u3", START + HOUR, "Network down")
    assert (await send(client, key, other)).status_code == 202

    response = await client.get("/api/v1/errors", params={
        "since": "2026-09-21T00:00:00Z", "until": "2026-09-23T00:00:00Z"})
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [item["count"] for item in items] == [4, 1]
    top = items[0]
    assert top["sessions"] == 4
    assert top["users"] == 3  # u1, u2 and one anonymous session
    assert top["type"] == "TypeError"
    assert top["first_seen"].startswith("2026-09-21T")
    assert sum(bucket["count"] for bucket in top["histogram"]) == 4
    assert len(top["histogram"]) == 48  # hourly buckets over two days
    assert top["sessions_url"].endswith(f"/api/v1/sessions?error={top['fingerprint']}")


async def test_error_range_is_checked(client: AsyncTestClient[Any]) -> None:
    response = await client.get("/api/v1/errors", params={"since": "2026-01-02",
                                                         "until": "2026-01-01"})
    assert response.status_code == 400
