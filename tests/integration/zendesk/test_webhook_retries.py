"""A webhook whose processing failed (Zendesk down while the hub looks up the requester) is
tried again with backoff, shown when it gives up, and retried by hand."""

from __future__ import annotations

import time
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import select

from replayhub.db.models import WebhookDelivery
from replayhub.inbox.process import process_due_webhooks
from replayhub.outbox.dispatcher import Dispatcher
from tests.integration.zendesk.conftest import (
    FakeClock,
    deliveries,
    drain,
    fixture,
    ingest_as,
    post_webhook,
)
from tests.integration.zendesk.fake import FakeZendesk, answer


async def webhook_row(client: AsyncTestClient[Any]) -> WebhookDelivery:
    async with client.hub.db.read() as tx:  # type: ignore[attr-defined]
        return (await tx.execute(select(WebhookDelivery))).scalar_one()


def later(seconds: float) -> int:
    return int((time.time() + seconds) * 1000)


async def alan_opens_a_ticket(client: AsyncTestClient[Any], fake: FakeZendesk,
                              shop: str) -> None:
    await ingest_as(client, shop, "broken", email="alan@example.com", user_id="user-alan")
    fake.add_user(5001, "Alan Turing", "alan@example.com", "user-alan")
    fake.add_ticket(4242, 5001)
    response = await post_webhook(client, fixture("ticket_created_event.json"))
    assert response.status_code == 200 and response.json() == {"status": "accepted"}


async def test_a_failed_lookup_is_retried_and_the_note_arrives_once(
        client: AsyncTestClient[Any], fake: FakeZendesk, shop: str, dispatcher: Dispatcher,
        clock: FakeClock) -> None:
    fake.fail("ShowUser", answer(503), answer(503))
    await alan_opens_a_ticket(client, fake, shop)
    row = await webhook_row(client)
    assert (row.status, row.attempts) == ("retrying", 1) and "503" in (row.error or "")
    assert row.next_attempt_at is not None and row.next_attempt_at > time.time() * 1000
    assert await deliveries(client) == []
    hub = client.hub  # type: ignore[attr-defined]
    assert await process_due_webhooks(hub) == 0  # not due yet: backoff

    assert await process_due_webhooks(hub, now=later(700)) == 1
    row = await webhook_row(client)
    assert (row.status, row.attempts) == ("retrying", 2)
    assert await process_due_webhooks(hub, now=later(1400)) == 1
    row = await webhook_row(client)
    assert (row.status, row.attempts, row.error) == ("processed", 3, None)
    assert fake.calls.count("ShowUser") == 3

    await drain(dispatcher, clock)
    assert await process_due_webhooks(hub, now=later(3000)) == 0
    await drain(dispatcher, clock)
    assert len(fake.tickets[4242].notes_with("replayhub-delivery:")) == 1
    assert len(await deliveries(client)) == 1


async def test_out_of_attempts_is_listed_failed_then_retried_by_hand(
        client: AsyncTestClient[Any], fake: FakeZendesk, shop: str, dispatcher: Dispatcher,
        clock: FakeClock) -> None:
    budget = client.hub.settings.outbox.max_attempts  # type: ignore[attr-defined]
    fake.fail("ShowUser", *[answer(500)] * budget)
    await alan_opens_a_ticket(client, fake, shop)
    hub = client.hub  # type: ignore[attr-defined]
    for round_ in range(1, budget + 2):
        await process_due_webhooks(hub, now=later(700 * round_))
    row = await webhook_row(client)
    assert (row.status, row.attempts) == ("failed", budget)
    assert fake.calls.count("ShowUser") == budget

    listed = (await client.get("/api/v1/webhook-deliveries",
                               params={"status": "failed"})).json()["items"]
    assert [(item["id"], item["direction"], item["connector"]) for item in listed] == [
        (row.id, "inbound", "zendesk")]
    assert "500" in listed[0]["error"] and listed[0]["attempts"] == budget
    assert (await client.get("/api/v1/webhook-deliveries",
                             params={"status": "processed"})).json()["items"] == []

    retried = await client.post(f"/api/v1/webhook-deliveries/{row.id}/retry")
    assert retried.status_code == 202, retried.text
    row = await webhook_row(client)
    assert row.status == "processed"  # the retry ran right after the answer
    await drain(dispatcher, clock)
    assert len(fake.tickets[4242].notes_with("replayhub-delivery:")) == 1
    again = await client.post(f"/api/v1/webhook-deliveries/{row.id}/retry")
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    missing = await client.post("/api/v1/webhook-deliveries/999999/retry")
    assert missing.status_code == 404


async def test_a_refused_lookup_fails_at_once(client: AsyncTestClient[Any], fake: FakeZendesk,
                                              shop: str) -> None:
    fake.fail("ShowUser", answer(403))
    await alan_opens_a_ticket(client, fake, shop)
    row = await webhook_row(client)
    assert (row.status, row.attempts) == ("failed", 1)
    assert await process_due_webhooks(client.hub, now=later(3600)) == 0  # type: ignore[attr-defined]


async def test_a_webhook_whose_process_died_is_taken_up_after_the_lease(
        client: AsyncTestClient[Any], fake: FakeZendesk, shop: str) -> None:
    from sqlalchemy import update

    await alan_opens_a_ticket(client, fake, shop)
    hub = client.hub  # type: ignore[attr-defined]
    lease = hub.settings.outbox.lease_seconds
    async with hub.db.write() as tx:
        await tx.execute(update(WebhookDelivery).values(  # as store_webhook left it
            status="received", processed_at=None, next_attempt_at=later(lease)))
    assert await process_due_webhooks(hub) == 0  # its lease still runs
    assert await process_due_webhooks(hub, now=later(lease + 1)) == 1
    row = await webhook_row(client)
    assert (row.status, row.attempts) == ("processed", 2)
    assert len(await deliveries(client)) == 1
