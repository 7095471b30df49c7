"""POST /webhooks/opsgenie: no signature, so a shared token (basic auth, a custom header or,
discouraged, the query) is required, and old alert actions are refused."""

from __future__ import annotations

import base64
import copy
import time
from typing import Any

from litestar.testing import AsyncTestClient

from tests.helpers import make_app
from tests.integration.incidents.conftest import (
    NO_AUTH,
    OPSGENIE_TOKEN,
    assert_nothing_recorded,
    incidents,
    load,
    raw,
    timeline,
)

CREATED = (int(time.time()) // 60 - 60) * 60_000
"""An hour ago, on a whole minute (Opsgenie sends createdAt in ms, updatedAt in ns)."""


def ns(minutes: float) -> int:
    """updatedAt `minutes` after CREATED."""
    return int(CREATED + minutes * 60_000) * 1_000_000


def alert(action: str = "Create", **changes: Any) -> dict[str, Any]:
    """The documented alert-create payload, created an hour ago, with `changes`."""
    body = copy.deepcopy(load("opsgenie/alert_create.json"))
    body["action"] = action
    body["alert"].update(createdAt=CREATED, updatedAt=ns(0))
    body["alert"].update(changes)
    return body


async def post(client: AsyncTestClient[Any], body: dict[str, Any],
               token: str = OPSGENIE_TOKEN) -> Any:
    return await client.post(f"/webhooks/opsgenie?token={token}", content=raw(body),
                             headers={**NO_AUTH, "Content-Type": "application/json"})


async def test_create_acknowledge_close(client: AsyncTestClient[Any]) -> None:
    app_id, _ = await make_app(client, "Shop")
    assert (await post(client, alert())).json() == {"status": "accepted"}
    await post(client, alert("Acknowledge", updatedAt=ns(1)))
    await post(client, alert("Close", updatedAt=ns(10)))
    [incident] = await incidents(client)
    assert (incident.source, incident.status, incident.title) == (
        "opsgenie", "resolved", "Checkout API error rate above 5%")
    assert incident.started_at == CREATED
    assert incident.resolved_at == CREATED + 600_000
    assert incident.app_ids == f'["{app_id}"]'  # entity checkout-api → "checkout-*"
    assert await timeline(client, incident.id) == [
        ("triggered", CREATED), ("acknowledged", CREATED + 60_000),
        ("resolved", CREATED + 600_000)]


async def test_token_as_basic_auth_password(client: AsyncTestClient[Any]) -> None:
    credentials = base64.b64encode(f"opsgenie:{OPSGENIE_TOKEN}".encode()).decode()
    response = await client.post("/webhooks/opsgenie", content=raw(alert()),
                                 headers={"Authorization": f"Basic {credentials}",
                                          "Content-Type": "application/json"})
    assert response.status_code == 200
    assert len(await incidents(client)) == 1


async def test_wrong_or_missing_token_is_401(client: AsyncTestClient[Any]) -> None:
    assert (await post(client, alert(), token="wrong")).status_code == 401
    response = await client.post("/webhooks/opsgenie", content=raw(alert()), headers=NO_AUTH)
    assert response.status_code == 401
    credentials = base64.b64encode(b"opsgenie:wrong").decode()
    response = await client.post("/webhooks/opsgenie", content=raw(alert()),
                                 headers={"Authorization": f"Basic {credentials}"})
    assert response.status_code == 401
    await assert_nothing_recorded(client)


async def test_redelivery_is_a_no_op(client: AsyncTestClient[Any]) -> None:
    assert (await post(client, alert())).json() == {"status": "accepted"}
    assert (await post(client, alert())).json() == {"status": "duplicate"}
    [incident] = await incidents(client)
    assert len(await timeline(client, incident.id)) == 1


async def test_other_actions_are_ignored_and_malformed_is_400(
        client: AsyncTestClient[Any]) -> None:
    assert (await post(client, alert("AddNote"))).json() == {"status": "ignored"}
    assert (await post(client, {"action": "Create"})).status_code == 400
    assert (await post(client, alert(alertId=""))).status_code == 400
    await assert_nothing_recorded(client)


async def test_token_in_a_custom_header(client: AsyncTestClient[Any]) -> None:
    response = await client.post("/webhooks/opsgenie", content=raw(alert()), headers={
        **NO_AUTH, "Content-Type": "application/json", "X-ReplayHub-Token": OPSGENIE_TOKEN})
    assert response.status_code == 200 and response.json() == {"status": "accepted"}
    response = await client.post("/webhooks/opsgenie", content=raw(alert()), headers={
        **NO_AUTH, "Content-Type": "application/json", "X-ReplayHub-Token": "wrong"})
    assert response.status_code == 401
    assert len(await incidents(client)) == 1


async def test_an_alert_action_older_than_a_day_is_401(client: AsyncTestClient[Any]) -> None:
    day_ago = -25 * 60 + 60  # minutes after CREATED: 25 hours ago
    response = await post(client, alert("Close", updatedAt=ns(day_ago)))
    assert response.status_code == 401 and "too old" in response.json()["detail"]
    old_create = alert(createdAt=CREATED + day_ago * 60_000)
    del old_create["alert"]["updatedAt"]  # createdAt is the time then
    assert (await post(client, old_create)).status_code == 401
    await assert_nothing_recorded(client)
    # an ignored action is never refused for its age
    assert (await post(client, alert("AddNote", updatedAt=ns(day_ago)))).json() == {
        "status": "ignored"}
