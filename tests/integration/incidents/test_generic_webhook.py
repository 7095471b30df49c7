"""POST /webhooks/incidents: the generic signed JSON incident webhook."""

from __future__ import annotations

import time
from typing import Any

from litestar.testing import AsyncTestClient

from tests.integration.incidents.conftest import (
    assert_nothing_recorded,
    generic_headers,
    incidents,
    raw,
    timeline,
)

TRIGGERED = {"id": "ext-1", "title": "Checkout down", "status": "triggered",
             "started_at": "2026-01-05T10:00:00Z", "service": "checkout-web",
             "url": "https://status.example.test/ext-1"}
RESOLVED = {**TRIGGERED, "status": "resolved", "resolved_at": "2026-01-05T10:30:00Z"}


async def post(client: AsyncTestClient[Any], body: dict[str, Any], **options: Any) -> Any:
    content = raw(body)
    return await client.post("/webhooks/incidents", content=content,
                             headers=generic_headers(content, **options))


async def test_triggered_then_resolved(client: AsyncTestClient[Any]) -> None:
    assert (await post(client, TRIGGERED)).json() == {"status": "accepted"}
    assert (await post(client, RESOLVED)).json() == {"status": "accepted"}
    [incident] = await incidents(client)
    assert (incident.source, incident.external_id, incident.status, incident.service) == (
        "incidents", "ext-1", "resolved", "checkout-web")
    assert incident.started_at == 1767607200000
    assert incident.resolved_at == 1767609000000
    assert await timeline(client, incident.id) == [("triggered", 1767607200000),
                                                   ("resolved", 1767609000000)]


async def test_bad_signature_or_stale_is_401(client: AsyncTestClient[Any]) -> None:
    assert (await post(client, TRIGGERED, secret="nope")).status_code == 401
    assert (await post(client, TRIGGERED, at=time.time() - 301)).status_code == 401
    assert (await post(client, TRIGGERED, at=time.time() + 400)).status_code == 401
    response = await client.post("/webhooks/incidents", content=raw(TRIGGERED),
                                 headers={"Authorization": "", "X-ReplayHub-Signature": "v1=ab"})
    assert response.status_code == 401
    await assert_nothing_recorded(client)


async def test_redelivery_is_a_no_op(client: AsyncTestClient[Any]) -> None:
    assert (await post(client, TRIGGERED)).json() == {"status": "accepted"}
    assert (await post(client, TRIGGERED)).json() == {"status": "duplicate"}
    [incident] = await incidents(client)
    assert len(await timeline(client, incident.id)) == 1


async def test_malformed_body_is_400(client: AsyncTestClient[Any]) -> None:
    for body in ({"title": "x", "status": "triggered", "started_at": "2026-01-05T10:00:00Z"},
                 {**TRIGGERED, "status": "on fire"}, {**TRIGGERED, "started_at": "yesterday"},
                 {**TRIGGERED, "status": "resolved"}):
        assert (await post(client, body)).status_code == 400, body
    await assert_nothing_recorded(client)
