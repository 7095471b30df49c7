"""POST /webhooks/opsgenie: no signature, so a shared token (query or basic auth) is required."""

from __future__ import annotations

import base64
import copy
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


def alert(action: str = "Create", **changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(load("opsgenie/alert_create.json"))
    body["action"] = action
    body["alert"].update(changes)
    return body


async def post(client: AsyncTestClient[Any], body: dict[str, Any],
               token: str = OPSGENIE_TOKEN) -> Any:
    return await client.post(f"/webhooks/opsgenie?token={token}", content=raw(body),
                             headers={**NO_AUTH, "Content-Type": "application/json"})


async def test_create_acknowledge_close(client: AsyncTestClient[Any]) -> None:
    app_id, _ = await make_app(client, "Shop")
    assert (await post(client, alert())).json() == {"status": "accepted"}
    await post(client, alert("Acknowledge", updatedAt=1500000060000000000))
    await post(client, alert("Close", updatedAt=1500000600000000000))
    [incident] = await incidents(client)
    assert (incident.source, incident.status, incident.title) == (
        "opsgenie", "resolved", "Checkout API error rate above 5%")
    assert incident.started_at == 1500000000000
    assert incident.resolved_at == 1500000600000
    assert incident.app_ids == f'["{app_id}"]'  # entity checkout-api → "checkout-*"
    assert await timeline(client, incident.id) == [
        ("triggered", 1500000000000), ("acknowledged", 1500000060000),
        ("resolved", 1500000600000)]


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
