"""POST /webhooks/incidentio: Svix-signed, fresh, spec-shaped incident events."""

from __future__ import annotations

import copy
import time
from typing import Any

from litestar.testing import AsyncTestClient

from tests.contract.test_incident_payloads import assert_valid
from tests.helpers import make_app
from tests.integration.incidents.conftest import (
    assert_nothing_recorded,
    incidentio_headers,
    incidents,
    load,
    raw,
    timeline,
)

CREATED = "public_incident.incident_created_v2"
UPDATED = "public_incident.incident_updated_v2"
STATUS_UPDATED = "public_incident.incident_status_updated_v2"
IMPACT_STARTED = 1629206937801  # 2021-08-17T13:28:57.801578Z


def event(kind: str, **changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(load(f"incidentio/{kind}.json"))
    incident = body[kind]["incident"] if kind == STATUS_UPDATED else body[kind]
    incident.update(changes)
    return body


async def post(client: AsyncTestClient[Any], body: dict[str, Any], **options: Any) -> Any:
    content = raw(body)
    return await client.post("/webhooks/incidentio", content=content,
                             headers=incidentio_headers(content, **options))


async def test_created_then_closed(client: AsyncTestClient[Any]) -> None:
    app_id, _ = await make_app(client, "Shop")
    response = await post(client, event(CREATED))
    assert response.status_code == 200 and response.json() == {"status": "accepted"}
    [incident] = await incidents(client)
    assert (incident.source, incident.external_id, incident.status) == (
        "incidentio", "01FDAG4SAP5TYPT98WGR2N7W91", "triggered")
    assert incident.title == "INC-123 Our database is sad"
    assert incident.started_at == IMPACT_STARTED
    assert incident.app_ids == f'["{app_id}"]'  # custom field "Product" → [[incident_services]]
    closed = event(UPDATED, updated_at="2021-08-17T15:00:00Z",
                   incident_status={"category": "closed", "created_at": "2021-08-17T13:28:57Z",
                                    "description": "", "id": "s2", "name": "Closed", "rank": 4,
                                    "updated_at": "2021-08-17T13:28:57Z"})
    response = await post(client, closed, msg_id="msg_2")
    assert response.status_code == 200
    [incident] = await incidents(client)
    assert incident.status == "resolved" and incident.resolved_at == 1629212400000
    assert [kind for kind, _ in await timeline(client, incident.id)] == ["triggered", "resolved"]


async def test_status_updated_event_is_read(client: AsyncTestClient[Any]) -> None:
    response = await post(client, event(STATUS_UPDATED))
    assert response.status_code == 200 and response.json()["status"] == "accepted"
    assert len(await incidents(client)) == 1


async def test_bad_signature_is_401(client: AsyncTestClient[Any]) -> None:
    secret = "whsec_" + "QUJDREVGR0hJSktMTU5PUA=="
    response = await post(client, event(CREATED), secret=secret)
    assert response.status_code == 401
    body = raw(event(CREATED))
    headers = incidentio_headers(body)
    headers["webhook-id"] = "msg_other"  # the id is part of what is signed
    response = await client.post("/webhooks/incidentio", content=body, headers=headers)
    assert response.status_code == 401
    await assert_nothing_recorded(client)


async def test_stale_or_future_timestamp_is_401(client: AsyncTestClient[Any]) -> None:
    response = await post(client, event(CREATED), at=time.time() - 6 * 60)
    assert response.status_code == 401 and "too old" in response.json()["detail"]
    response = await post(client, event(CREATED), at=time.time() + 6 * 60)
    assert response.status_code == 401
    await assert_nothing_recorded(client)


async def test_redelivery_is_a_no_op(client: AsyncTestClient[Any]) -> None:
    body = event(CREATED)
    assert (await post(client, body)).json() == {"status": "accepted"}
    assert (await post(client, body)).json() == {"status": "duplicate"}
    [incident] = await incidents(client)
    assert len(await timeline(client, incident.id)) == 1


async def test_other_events_and_test_incidents_are_ignored(
        client: AsyncTestClient[Any]) -> None:
    private = {"event_type": "private_incident.incident_created_v2",
               "private_incident.incident_created_v2": {"id": "abc123"}}
    assert (await post(client, private)).json() == {"status": "ignored"}
    assert (await post(client, event(CREATED, mode="test"))).json() == {"status": "ignored"}
    await assert_nothing_recorded(client)


async def test_malformed_body_is_400(client: AsyncTestClient[Any]) -> None:
    broken = event(CREATED)
    del broken[CREATED]["incident_status"]
    for body in (b"{nope", b'{"event_type": 1}', raw(broken)):
        response = await client.post("/webhooks/incidentio", content=body,
                                     headers=incidentio_headers(body))
        assert response.status_code == 400, body
    await assert_nothing_recorded(client)


async def test_updates_repeating_the_status_add_no_timeline_entry(
        client: AsyncTestClient[Any]) -> None:
    app_id, _ = await make_app(client, "Shop")
    await post(client, event(CREATED))
    for n, name in enumerate(("Our database is sad", "Our database is very sad"), start=2):
        renamed = event(UPDATED, name=name, updated_at=f"2021-08-17T13:4{n}:00Z")
        assert_valid(renamed, UPDATED)
        response = await post(client, renamed, msg_id=f"msg_{n}")
        assert response.json() == {"status": "accepted"}
    [incident] = await incidents(client)
    assert incident.title == "INC-123 Our database is very sad"
    assert await timeline(client, incident.id) == [("triggered", 1629206937801)]
    assert incident.app_ids == f'["{app_id}"]'
    # the custom field now names a service no [[incident_services]] table maps: scope cleared
    moved = event(UPDATED, updated_at="2021-08-17T13:50:00Z")
    moved[UPDATED]["custom_field_entries"][0]["values"][0]["value_option"]["value"] = "Billing"
    moved[UPDATED]["incident_type"]["name"] = "Billing outage"
    assert_valid(moved, UPDATED)
    assert (await post(client, moved, msg_id="msg_9")).status_code == 200
    [incident] = await incidents(client)
    assert (incident.app_ids, incident.service) == ("[]", "Billing")
    assert len(await timeline(client, incident.id)) == 1
