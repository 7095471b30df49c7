"""POST /webhooks/pagerduty: signed v3 incident events become incidents with a timeline;
events older than the window are refused."""

from __future__ import annotations

import time
from typing import Any

from litestar.testing import AsyncTestClient

from replayhub.index.sessions import iso
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

CREATED_AT = 1586445387000  # 2020-04-09T15:16:27Z (event.data.created_at)
BASE = (int(time.time()) // 60 - 120) * 60_000
"""Two hours ago, on a whole minute: the events' own times must be recent to be accepted."""
TRIGGERED_AT = BASE


def ms(minutes: float) -> int:
    return int(BASE + minutes * 60_000)


def event(event_type: str, event_id: str = "evt-1", minutes: float = 0,
          **data: Any) -> dict[str, Any]:
    """The documented envelope, as `event_type`, occurred `minutes` after BASE."""
    return pagerduty_event(event_type, event_id, occurred_at=iso(ms(minutes)), **data)


async def post(client: AsyncTestClient[Any], body: dict[str, Any], *secrets: str) -> Any:
    content = raw(body)
    return await client.post("/webhooks/pagerduty", content=content,
                             headers=pagerduty_headers(content, *secrets))


async def test_triggered_creates_an_incident_mapped_to_its_service(
        client: AsyncTestClient[Any]) -> None:
    app_id, _ = await make_app(client, "Shop")
    response = await post(client, event("incident.triggered"))
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
    await post(client, event("incident.triggered", "e1"))
    await post(client, event("incident.acknowledged", "e2", 5))
    await post(client, event("incident.resolved", "e3", 15))
    [incident] = await incidents(client)
    assert incident.status == "resolved"
    assert incident.resolved_at == ms(15)
    assert [kind for kind, _ in await timeline(client, incident.id)] == [
        "triggered", "acknowledged", "resolved"]
    listed = (await client.get("/api/v1/incidents")).json()["items"]
    assert listed == [{"id": incident.id, "title": "A little bump in the road",
                       "source": "pagerduty", "external_id": "PGR0VU2", "status": "resolved",
                       "started_at": "2020-04-09T15:16:27.000Z",
                       "resolved_at": iso(ms(15))}]
    detail = (await client.get(f"/api/v1/incidents/{incident.id}")).json()
    assert [entry["kind"] for entry in detail["timeline"]] == [
        "triggered", "acknowledged", "resolved"]


async def test_a_late_acknowledgement_does_not_reopen(client: AsyncTestClient[Any]) -> None:
    await post(client, event("incident.resolved", "e3", 15))
    await post(client, event("incident.acknowledged", "e2", 5))
    [incident] = await incidents(client)
    assert incident.status == "resolved"


async def test_any_of_several_signatures_matches(client: AsyncTestClient[Any]) -> None:
    body = event("incident.triggered")
    response = await post(client, body, "some-other-secret", PD_SECRET)
    assert response.status_code == 200
    response = await post(client, event("incident.triggered", "e-old"), PD_OLD_SECRET)
    assert response.status_code == 200
    assert len(await incidents(client)) == 1


async def test_bad_or_missing_signature_is_401(client: AsyncTestClient[Any]) -> None:
    content = raw(event("incident.triggered"))
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
    body = event("incident.triggered")
    assert (await post(client, body)).json() == {"status": "accepted"}
    assert (await post(client, body)).json() == {"status": "duplicate"}
    [incident] = await incidents(client)
    assert len(await timeline(client, incident.id)) == 1
    assert await stored_webhooks(client) == 1


async def test_other_events_are_ignored(client: AsyncTestClient[Any]) -> None:
    response = await post(client, event("incident.priority_updated"))
    assert response.status_code == 200 and response.json() == {"status": "ignored"}
    await assert_nothing_recorded(client)


async def test_malformed_body_is_400(client: AsyncTestClient[Any]) -> None:
    for body in (b"{not json", b"[]", b'{"event": {"event_type": "incident.triggered"}}',
                 b'{"event": {"id": "e", "event_type": "incident.triggered", "data": {}}}'):
        response = await client.post("/webhooks/pagerduty", content=body,
                                     headers=pagerduty_headers(body))
        assert response.status_code == 400, body
    await assert_nothing_recorded(client)


async def test_an_event_older_than_the_window_is_401_and_records_nothing(
        client: AsyncTestClient[Any]) -> None:
    hours_ago = (time.time() * 1000 - BASE) / 3_600_000
    stale = event("incident.triggered", "e-stale", minutes=-(51 - hours_ago) * 60)
    response = await post(client, stale)
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "too old" in response.json()["detail"]
    await assert_nothing_recorded(client)
    # a retry PagerDuty may still make (it retries for up to 48 hours) is taken
    late = event("incident.triggered", "e-late", minutes=-(47 - hours_ago) * 60)
    assert (await post(client, late)).json() == {"status": "accepted"}


async def test_the_window_is_a_setting(client: AsyncTestClient[Any]) -> None:
    served = client.app.state.hub  # the app's own hub (client.hub is a second one)
    served.connectors["pagerduty"].settings.max_event_age_hours = 1
    response = await post(client, event("incident.triggered"))  # two hours old
    assert response.status_code == 401
    await assert_nothing_recorded(client)


async def test_reopened_and_unacknowledged_open_the_incident_again(
        client: AsyncTestClient[Any]) -> None:
    await post(client, event("incident.triggered", "e1"))
    await post(client, event("incident.resolved", "e2", 10))
    assert (await post(client, event("incident.reopened", "e3", 20))).json() == {
        "status": "accepted"}
    [incident] = await incidents(client)
    assert (incident.status, incident.resolved_at) == ("triggered", None)
    await post(client, event("incident.acknowledged", "e4", 25))
    await post(client, event("incident.unacknowledged", "e5", 30))
    [incident] = await incidents(client)
    assert (incident.status, incident.resolved_at) == ("triggered", None)
    await post(client, event("incident.resolved", "e6", 40))
    [incident] = await incidents(client)
    assert (incident.status, incident.resolved_at) == ("resolved", ms(40))
    assert await timeline(client, incident.id) == [
        ("triggered", ms(0)), ("resolved", ms(10)), ("triggered", ms(20)),
        ("acknowledged", ms(25)), ("triggered", ms(30)), ("resolved", ms(40))]


async def test_an_update_naming_another_service_maps_the_incident_again(
        client: AsyncTestClient[Any]) -> None:
    app_id, _ = await make_app(client, "Shop")
    elsewhere = {"html_url": "https://acme.pagerduty.com/services/PZZZZZZ", "id": "PZZZZZZ",
                 "self": "https://api.pagerduty.com/services/PZZZZZZ",
                 "summary": "Search", "type": "service_reference"}
    await post(client, event("incident.triggered", "e1", service=elsewhere))
    [incident] = await incidents(client)
    assert (incident.service, incident.app_ids, incident.url_patterns) == ("Search", "[]", "[]")
    await post(client, event("incident.acknowledged", "e2", 5))  # moved to "API Service"
    [incident] = await incidents(client)
    assert incident.service == "API Service"
    assert incident.app_ids == f'["{app_id}"]'
    assert incident.url_patterns == f'["{SHOP_CHECKOUT}"]'
