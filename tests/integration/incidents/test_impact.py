"""GET /api/v1/incidents/{id}/impact on seeded sessions: an error spike in the window against a
quiet baseline, out-of-scope noise, and a rage click; the figures are exact."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.helpers import make_app, send
from tests.unit.rrweb_events import click, element, js_error, load, text

MINUTE, DAY = 60_000, 86_400_000
START = (1_767_225_600_000 // DAY + 3) * DAY + 10 * 60 * MINUTE  # 10:00 UTC, a fixed day
RESOLVED = START + 30 * MINUTE
CHECKOUT = "https://shop.example.test/checkout"
HOME = "https://shop.example.test/home"
BUTTON = 20
CART_ERROR = "cart is undefined"
QUIET_ERROR = "quiet warning"


async def session(client: AsyncTestClient[Any], key: str, at: int, *, user: str, url: str,
                  errors: list[tuple[int, str]] = (), rage: bool = False) -> str:
    """A session opening `url` at `at`, with errors at the given offsets (ms), and three quick
    clicks on a button that does nothing when `rage`."""
    session_id = str(uuid.uuid4())
    button = element(BUTTON, "button", {"id": "pay"}, text(BUTTON + 1, "Pay"))
    events = load(at, url, [element(10, "main", {}, button)])
    events += [js_error(at + offset, message) for offset, message in errors]
    if rage:
        events += [click(at + 5000 + i * 200, BUTTON) for i in range(3)]
    events.sort(key=lambda event: event["timestamp"])
    batch = {"session_id": session_id, "seq": 0, "events": events,
             "user": {"id": user, "email": f"{user}@example.com", "name": user}}
    response = await send(client, key, batch)
    assert response.status_code == 202, response.text
    return session_id


@pytest.fixture
async def seeded(client: AsyncTestClient[Any]) -> dict[str, Any]:
    shop_id, shop = await make_app(client, "Shop")
    _, blog = await make_app(client, "Blog")
    ids = {
        # in the window, in scope: the spike (4 cart errors, 3 users) and one quiet error
        "alice": await session(client, shop, START + 2 * MINUTE, user="alice", url=CHECKOUT,
                               errors=[(1000, CART_ERROR), (3000, CART_ERROR)]),
        "bob": await session(client, shop, START - 5 * MINUTE, user="bob", url=CHECKOUT,
                             errors=[(4000, CART_ERROR)]),
        "carol": await session(client, shop, START + 20 * MINUTE, user="carol", url=CHECKOUT,
                               errors=[(1500, CART_ERROR), (2500, QUIET_ERROR)]),
        # frustration only: a rage click on the pay button
        "dave": await session(client, shop, START + 10 * MINUTE, user="dave", url=CHECKOUT,
                              rage=True),
        # out of scope: another app, another page, before the window, after the resolution
        "blog": await session(client, blog, START + 3 * MINUTE, user="erin", url=CHECKOUT,
                              errors=[(1000, CART_ERROR)]),
        "home": await session(client, shop, START + 4 * MINUTE, user="frank", url=HOME,
                              errors=[(1000, CART_ERROR)], rage=True),
        "early": await session(client, shop, START - 40 * MINUTE, user="gina", url=CHECKOUT,
                               errors=[(1000, CART_ERROR)]),
        "late": await session(client, shop, RESOLVED + 5 * MINUTE, user="hal", url=CHECKOUT,
                              errors=[(1000, CART_ERROR)]),
    }
    # the baseline: the cart error once 1 and 3 days ago, the quiet error every day
    for day in (1, 3):
        await session(client, shop, START - day * DAY, user=f"base{day}", url=CHECKOUT,
                      errors=[(1000, CART_ERROR)])
    for day in range(1, 8):
        await session(client, shop, START - day * DAY + MINUTE, user=f"quiet{day}",
                      url=CHECKOUT, errors=[(1000, QUIET_ERROR)])
    # a day ago but outside the same time of day: not in the baseline
    await session(client, shop, START - DAY - 3 * 60 * MINUTE, user="other", url=CHECKOUT,
                  errors=[(1000, CART_ERROR)])
    await client.hub.ingestor.close_quiet_sessions(quiet_ms=0)  # type: ignore[attr-defined]
    response = await client.post("/api/v1/incidents", json={
        "title": "Checkout broken", "started_at": START, "resolved_at": RESOLVED,
        "app_ids": [shop_id], "url_patterns": ["https://shop.example.test/checkout*"]})
    assert response.status_code == 201, response.text
    return {"incident": response.json()["id"], "shop_id": shop_id, **ids}


async def test_impact_figures_are_exact(client: AsyncTestClient[Any],
                                        seeded: dict[str, Any]) -> None:
    response = await client.get(f"/api/v1/incidents/{seeded['incident']}/impact")
    assert response.status_code == 200, response.text
    impact = response.json()
    assert impact["since"] == "2026-01-04T09:45:00.000Z"
    assert impact["until"] == "2026-01-04T10:30:00.000Z"
    [cart, quiet] = impact["error_groups"]
    assert (cart["message"], cart["count"], cart["sessions"], cart["users"]) == (
        CART_ERROR, 4, 3, 3)
    assert cart["baseline_counts"] == [1, 0, 1, 0, 0, 0, 0]
    assert cart["baseline_mean"] == 0.29 and cart["ratio"] == 14.0 and cart["spiked"]
    assert (quiet["message"], quiet["count"], quiet["baseline_counts"]) == (
        QUIET_ERROR, 1, [1] * 7)
    assert quiet["baseline_mean"] == 1.0 and quiet["ratio"] == 1.0 and not quiet["spiked"]
    assert cart["sessions_url"] == (
        f"https://hub.example.test/api/v1/sessions?error={cart['fingerprint']}"
        f"&url=https%3A%2F%2Fshop.example.test%2Fcheckout"
        f"&since=2026-01-04T09%3A45%3A00.000Z&until=2026-01-04T10%3A30%3A00.000Z"
        f"&app_id={seeded['shop_id']}")

    assert impact["affected"]["sessions"] == 4  # alice, bob, carol (errors), dave (rage)
    assert impact["affected"]["users"] == 4
    first = impact["first_affected"]
    assert first["session_id"] == seeded["bob"]
    assert first["at"] == "2026-01-04T09:55:04.000Z"
    assert first["replay_url"] == f"https://hub.example.test/replays/{seeded['bob']}?t=4000"

    [page] = impact["frustration_pages"]
    assert (page["url"], page["sessions"]) == (CHECKOUT, 1)
    assert page["count"] == 2  # the rage click, and the clicks were dead (nothing changed)
    assert [(e["selector"], e["url"], e["count"], e["sessions"])
            for e in impact["frustration_elements"]] == [('button#pay "Pay"', CHECKOUT, 2, 1)]
    assert "frustration=any" in page["sessions_url"]

    replays = impact["replays"]
    assert [r["session_id"] for r in replays] == [
        seeded["alice"], seeded["bob"], seeded["carol"], seeded["dave"]]
    assert replays[0]["replay_url"] == (
        f"https://hub.example.test/replays/{seeded['alice']}?t=1000")
    assert (replays[0]["errors"], replays[3]["errors"]) == (2, 0)
    assert replays[3]["frustrations"] == page["count"]


async def test_sessions_urls_lead_to_the_sessions(client: AsyncTestClient[Any],
                                                  seeded: dict[str, Any]) -> None:
    impact = (await client.get(f"/api/v1/incidents/{seeded['incident']}/impact")).json()
    cart = impact["error_groups"][0]
    path = cart["sessions_url"].removeprefix("https://hub.example.test")
    found = {item["id"] for item in (await client.get(path)).json()["items"]}
    # sessions started in the window, on the checkout page, with the error
    assert found == {seeded["alice"], seeded["bob"], seeded["carol"]}


async def test_the_affected_figure_links_to_exactly_the_affected_sessions(
        client: AsyncTestClient[Any], seeded: dict[str, Any]) -> None:
    impact = (await client.get(f"/api/v1/incidents/{seeded['incident']}/impact")).json()
    url = impact["affected"]["sessions_url"]
    assert url == f"https://hub.example.test/api/v1/sessions?incident={seeded['incident']}"
    found = (await client.get(url.removeprefix("https://hub.example.test"))).json()["items"]
    assert {item["id"] for item in found} == {seeded[name] for name in
                                             ("alice", "bob", "carol", "dave")}
    assert len(found) == impact["affected"]["sessions"]
    unknown = await client.get("/api/v1/sessions?incident=inc_nope")
    assert unknown.status_code == 400 and "inc_nope" in unknown.json()["detail"]


async def test_unknown_incident_is_404(client: AsyncTestClient[Any]) -> None:
    response = await client.get("/api/v1/incidents/inc_nope/impact")
    assert response.status_code == 404


async def test_open_incident_without_scope_runs_to_now_over_every_app(
        client: AsyncTestClient[Any]) -> None:
    _, blog = await make_app(client, "Blog")
    now = int(time.time() * 1000)
    session_id = await session(client, blog, now - 5 * MINUTE, user="ivy", url=HOME,
                               errors=[(2000, CART_ERROR)])
    await client.hub.ingestor.close_quiet_sessions(quiet_ms=0)  # type: ignore[attr-defined]
    response = await client.post("/api/v1/incidents", json={
        "title": "Something", "started_at": now - 10 * MINUTE})
    incident = response.json()
    assert incident["status"] == "triggered" and incident["app_ids"] == []
    impact = (await client.get(f"/api/v1/incidents/{incident['id']}/impact")).json()
    assert impact["until"] >= impact["since"]
    assert [(g["count"], g["baseline_counts"], g["spiked"]) for g in impact["error_groups"]] == [
        (1, [0] * 7, True)]
    assert impact["affected"] == {"sessions": 1, "users": 1,
                                  "sessions_url": impact["affected"]["sessions_url"]}
    assert [r["replay_url"] for r in impact["replays"]] == [
        f"https://hub.example.test/replays/{session_id}?t=2000"]
