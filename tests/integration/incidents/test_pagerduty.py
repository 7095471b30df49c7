"""POST /webhooks/pagerduty: signed v3 incident events become incidents with a timeline."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from tests.helpers import make_app
from tests.integration.incidents.conftest import (
    PD_OLD_SECRET,
    PD_SECRET,
    SHOP_CHECKOUT,
    assert_nothing_recorded,
    incidents,
    pagerduty_event,
    pagerduty_headers,
    raw,
    stored_webhooks,
    timeline,
)

TRIGGERED_AT = 1601664322169  # 2020-10-02T18:45:22.169Z
CREATED_AT = 1586445387000  # 2020-04-09T15:16:27Z (event.data.created_at)


async def post(client: AsyncTestClient[Any], body: dict[str, Any], *secrets: str) -> Any:
    content = raw(body)
    return await client.post("/webhooks/pagerduty", content=content,
                             headers=pagerduty_headers(content, *secrets))


async def test_triggered_creates_an_incident_mapped_to_its_service(
        client: AsyncTestClient[Any]) -> None:
    app_id, _ = await make_app(client, "Shop")
    response = await post(client, pagerduty_event("incident.triggered"))
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "accepted"}
    [incident] = await incidents(client)
    assert (incident.source, incident.external_id, incident.status) == (
        "pagerduty", "PGR0VU2", "triggered")
    assert incident.title == "A little bump in the road"
    assert incident.service == "API Service"
    assert incident.started_at == CREATED_AT
    assert incident.url == "https://acme.pagerduty.com/incidents/PGR0VU2"
    assert incident.app_ids == f'["{app_id}"]'
    assert incident.url_patterns == f'["{SHOP_CHECKOUT}"]'
    assert await timeline(client, incident.id) == [("triggered", TRIGGERED_AT)]


async def test_acknowledged_then_resolved_build_the_timeline(
        client: AsyncTestClient[Any]) -> None:
    await post(client, pagerduty_event("incident.triggered", "e1"))
    await post(client, pagerduty_event("incident.acknowledged", "e2",
                                       occurred_at="2020-10-02T18:50:00Z"))
    await post(client, pagerduty_event("incident.resolved", "e3",
                                       occurred_at="2020-10-02T19:00:00Z"))
    [incident] = await incidents(client)
    assert incident.status == "resolved"
    assert incident.resolved_at == 1601665200000
    assert [kind for kind, _ in await timeline(client, incident.id)] == [
        "triggered", "acknowledged", "resolved"]
    listed = (await client.get("/api/v1/incidents")).json()["items"]
    assert listed == [{"id": incident.id, "title": "A little bump in the road",
                       "source": "pagerduty", "external_id": "PGR0VU2", "status": "resolved",
                       "started_at": "2020-04-09T15:16:27.000Z",
                       "resolved_at": "2020-10-02T19:00:00.000Z"}]
    detail = (await client.get(f"/api/v1/incidents/{incident.id}")).json()
    assert [entry["kind"] for entry in detail["timeline"]] == [
        "triggered", "acknowledged", "resolved"]


async def test_a_late_acknowledgement_does_not_reopen(client: AsyncTestClient[Any]) -> None:
    await post(client, pagerduty_event("incident.resolved", "e3",
                                       occurred_at="2020-10-02T19:00:00Z"))
    await post(client, pagerduty_event("incident.acknowledged", "e2",
                                       occurred_at="2020-10-02T18:50:00Z"))
    [incident] = await incidents(client)
    assert incident.status == "resolved"


async def test_any_of_several_signatures_matches(client: AsyncTestClient[Any]) -> None:
    body = pagerduty_event("incident.triggered")
    response = await post(client, body, "some-other-secret", PD_SECRET)
    assert response.status_code == 200
    response = await post(client, pagerduty_event("incident.triggered", "e-old"), PD_OLD_SECRET)
    assert response.status_code == 200
    assert len(await incidents(client)) == 1


async def test_bad_or_missing_signature_is_401(client: AsyncTestClient[Any]) -> None:
    content = raw(pagerduty_event("incident.triggered"))
    response = await client.post("/webhooks/pagerduty", content=content,
                                 headers=pagerduty_headers(content, "not-the-secret"))
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    tampered = content.replace(b"A little bump", b"A large bump")
    response = await client.post("/webhooks/pagerduty", content=tampered,
                                 headers=pagerduty_headers(content))
    assert response.status_code == 401
    response = await client.post("/webhooks/pagerduty", content=content,
                                 headers={"Authorization": ""})
    assert response.status_code == 401
    await assert_nothing_recorded(client)


async def test_redelivery_is_a_no_op(client: AsyncTestClient[Any]) -> None:
    body = pagerduty_event("incident.triggered")
    assert (await post(client, body)).json() == {"status": "accepted"}
    assert (await post(client, body)).json() == {"status": "duplicate"}
    [incident] = await incidents(client)
    assert len(await timeline(client, incident.id)) == 1
    assert await stored_webhooks(client) == 1


async def test_other_events_are_ignored(client: AsyncTestClient[Any]) -> None:
    response = await post(client, pagerduty_event("incident.priority_updated"))
    assert response.status_code == 200 and response.json() == {"status": "ignored"}
    await assert_nothing_recorded(client)


async def test_malformed_body_is_400(client: AsyncTestClient[Any]) -> None:
    for body in (b"{not json", b"[]", b'{"event": {"event_type": "incident.triggered"}}',
                 b'{"event": {"id": "e", "event_type": "incident.triggered", "data": {}}}'):
        response = await client.post("/webhooks/pagerduty", content=body,
                                     headers=pagerduty_headers(body))
        assert response.status_code == 400, body
    await assert_nothing_recorded(client)
