"""POST /webhooks/zendesk refuses what is not Zendesk's, and does each delivery once."""

from __future__ import annotations

import time
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from replayhub.db.models import Comment, WebhookDelivery
from tests.integration.zendesk.conftest import deliveries, fixture, ingest_as, post_webhook, signed
from tests.integration.zendesk.fake import FakeZendesk


async def stored_webhooks(client: AsyncTestClient[Any]) -> int:
    async with client.hub.db.read() as tx:  # type: ignore[attr-defined]
        return int((await tx.execute(select(func.count()).select_from(WebhookDelivery)))
                   .scalar_one())


async def assert_no_side_effect(client: AsyncTestClient[Any], fake: FakeZendesk) -> None:
    assert await stored_webhooks(client) == 0
    assert await deliveries(client) == []
    assert fake.calls == []


async def test_bad_signature_is_401(client: AsyncTestClient[Any], fake: FakeZendesk) -> None:
    response = await post_webhook(client, fixture("ticket_created_event.json"),
                                  secret="not-the-secret")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    await assert_no_side_effect(client, fake)


async def test_missing_signature_is_401(client: AsyncTestClient[Any], fake: FakeZendesk) -> None:
    response = await client.post("/webhooks/zendesk", json=fixture("ticket_created_event.json"),
                                 headers={"Authorization": ""})
    assert response.status_code == 401
    await assert_no_side_effect(client, fake)


async def test_stale_timestamp_is_401(client: AsyncTestClient[Any], fake: FakeZendesk) -> None:
    response = await post_webhook(client, fixture("ticket_created_event.json"),
                                  at=time.time() - 6 * 60)
    assert response.status_code == 401 and "too old" in response.json()["detail"]
    await assert_no_side_effect(client, fake)


async def test_future_timestamp_is_401(client: AsyncTestClient[Any], fake: FakeZendesk) -> None:
    response = await post_webhook(client, fixture("ticket_created_event.json"),
                                  at=time.time() + 6 * 60)
    assert response.status_code == 401
    await assert_no_side_effect(client, fake)


async def test_malformed_body_is_400(client: AsyncTestClient[Any], fake: FakeZendesk) -> None:
    for body in (b"{not json", b"[1, 2]", b'{"hello": "world"}',
                 b'{"type": "zen:event-type:ticket.created", "id": "e1", "detail": {"id": "x"}}'):
        response = await client.post("/webhooks/zendesk", content=body, headers=signed(body))
        assert response.status_code == 400, body
    await assert_no_side_effect(client, fake)


async def test_unknown_connector_is_404(client: AsyncTestClient[Any], fake: FakeZendesk) -> None:
    body = b"{}"
    response = await client.post("/webhooks/freshdesk", content=body, headers=signed(body))
    assert response.status_code == 404
    await assert_no_side_effect(client, fake)


async def test_other_event_types_are_ignored(client: AsyncTestClient[Any],
                                            fake: FakeZendesk) -> None:
    response = await post_webhook(client, fixture("ticket_created_event.json",
                                                  type="zen:event-type:ticket.priority_changed"))
    assert response.status_code == 200 and response.json() == {"status": "ignored"}
    await assert_no_side_effect(client, fake)


async def test_comment_on_an_unknown_ticket_does_nothing(client: AsyncTestClient[Any],
                                                         fake: FakeZendesk) -> None:
    response = await post_webhook(client, fixture("comment_added_event.json"))
    assert response.status_code == 200
    assert fake.calls == [] and await deliveries(client) == []
    async with client.hub.db.read() as tx:  # type: ignore[attr-defined]
        assert (await tx.execute(select(func.count()).select_from(Comment))).scalar_one() == 0


async def test_duplicate_delivery_is_answered_200_and_done_once(
        client: AsyncTestClient[Any], fake: FakeZendesk, shop: str) -> None:
    await ingest_as(client, shop, "broken", email="alan@example.com", user_id="user-alan")
    fake.add_user(5001, "Alan Turing", "alan@example.com", "user-alan")
    fake.add_ticket(4242, 5001)
    body = fixture("ticket_created_event.json")
    first = await post_webhook(client, body)
    again = await post_webhook(client, body)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == {"status": "duplicate"}
    assert len(await deliveries(client)) == 1 and await stored_webhooks(client) == 1
    assert fake.calls.count("ShowUser") == 1


async def test_same_ticket_from_both_webhook_kinds_gets_one_note(
        client: AsyncTestClient[Any], fake: FakeZendesk, shop: str) -> None:
    await ingest_as(client, shop, "broken", email="alan@example.com", user_id="user-alan")
    fake.add_user(5001, "Alan Turing", "alan@example.com", "user-alan")
    fake.add_ticket(4242, 5001)
    await post_webhook(client, fixture("ticket_created_event.json"))
    await post_webhook(client, fixture("trigger_ticket_created.json"))
    assert await stored_webhooks(client) == 2
    assert len(await deliveries(client)) == 1
