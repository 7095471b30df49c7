"""Faults on the way to Zendesk: every note still arrives exactly once."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import update

from replayhub.db.models import Delivery
from replayhub.outbox.dispatcher import Dispatcher
from replayhub.outbox.store import SENDING
from tests.integration.zendesk.conftest import (
    FakeClock,
    Snapshots,
    alan_opens_ticket,
    deliveries,
    drain,
)
from tests.integration.zendesk.fake import (
    FakeZendesk,
    answer,
    timeout_after_sending,
    timeout_before_sending,
)


def notes(fake: FakeZendesk, ticket_id: int = 4242) -> list[dict[str, Any]]:
    return fake.tickets[ticket_id].notes_with("replayhub-delivery:")


async def test_429_waits_the_retry_after_then_sends_once(
        client: AsyncTestClient[Any], fake: FakeZendesk, shop: str, dispatcher: Dispatcher,
        clock: FakeClock) -> None:
    await alan_opens_ticket(client, fake, shop)
    fake.fail("UpdateTicket", answer(429, {"Retry-After": "37"}))
    started = clock.time()
    await dispatcher.run_once()
    [delivery] = await deliveries(client)
    assert delivery.status == "pending" and "429" in (delivery.last_error or "")
    assert abs(delivery.next_attempt_at - (started + 37) * 1000) < 500
    clock.advance(37)
    await dispatcher.run_once()
    assert len(notes(fake)) == 1
    assert fake.tickets[4242].tags == ["replay_attached"]
    [delivery] = await deliveries(client)
    assert delivery.status == "sent" and delivery.attempts == 2


async def test_429_pauses_every_request_to_the_account(
        client: AsyncTestClient[Any], fake: FakeZendesk, shop: str, dispatcher: Dispatcher,
        clock: FakeClock) -> None:
    await alan_opens_ticket(client, fake, shop)
    fake.fail("UpdateTicket", answer(429, {"Retry-After": "20"}))
    await dispatcher.run_once()
    before = clock.time()
    await dispatcher.pace(client.hub.connectors["zendesk"])  # type: ignore[attr-defined]
    assert clock.time() - before >= 20 - 0.01


async def test_server_errors_are_retried_with_backoff(
        client: AsyncTestClient[Any], fake: FakeZendesk, shop: str, dispatcher: Dispatcher,
        clock: FakeClock) -> None:
    await alan_opens_ticket(client, fake, shop)
    fake.fail("UpdateTicket", answer(500), answer(503), answer(502))
    await drain(dispatcher, clock)
    assert len(notes(fake)) == 1
    [delivery] = await deliveries(client)
    assert delivery.status == "sent" and delivery.attempts == 4


async def test_timeout_after_the_note_was_sent_does_not_post_it_twice(
        client: AsyncTestClient[Any], fake: FakeZendesk, shop: str, dispatcher: Dispatcher,
        clock: FakeClock) -> None:
    await alan_opens_ticket(client, fake, shop)
    fake.fail("UpdateTicket", timeout_after_sending(fake))
    await dispatcher.run_once()
    assert len(notes(fake)) == 1
    [delivery] = await deliveries(client)
    assert delivery.status == "pending"
    await drain(dispatcher, clock)
    assert len(notes(fake)) == 1
    [delivery] = await deliveries(client)
    assert delivery.status == "sent" and delivery.external_id == str(notes(fake)[0]["id"])
    assert "ListTicketComments" in fake.calls


async def test_timeout_before_sending_is_retried(
        client: AsyncTestClient[Any], fake: FakeZendesk, shop: str, dispatcher: Dispatcher,
        clock: FakeClock) -> None:
    await alan_opens_ticket(client, fake, shop)
    fake.fail("UpdateTicket", timeout_before_sending())
    await drain(dispatcher, clock)
    assert len(notes(fake)) == 1


async def test_crash_mid_dispatch_then_restart_finds_the_note_and_finishes(
        client: AsyncTestClient[Any], fake: FakeZendesk, shop: str, dispatcher: Dispatcher,
        clock: FakeClock) -> None:
    """A process posted the note and died before recording it; its lease expired."""
    await alan_opens_ticket(client, fake, shop)
    [delivery] = await deliveries(client)
    payload = json.loads(delivery.payload)
    fake.add_comment(4242, 1, "", public=False, html_body=payload["html_body"])
    async with client.hub.db.write() as tx:  # type: ignore[attr-defined]
        await tx.execute(update(Delivery).where(Delivery.id == delivery.id).values(
            status=SENDING, attempts=1, lease_owner="dead-process",
            lease_until=int((clock.time() - 1) * 1000),
            progress=json.dumps({"upload": {"token": None, "at": clock.time()},
                                 "note_attempted": True})))
    await drain(dispatcher, clock)
    assert len(notes(fake)) == 1
    [delivery] = await deliveries(client)
    assert delivery.status == "sent" and delivery.attempts == 2
    assert fake.tickets[4242].tags == ["replay_attached"]


async def test_a_live_lease_is_not_taken_over(
        client: AsyncTestClient[Any], fake: FakeZendesk, shop: str, dispatcher: Dispatcher,
        clock: FakeClock) -> None:
    await alan_opens_ticket(client, fake, shop)
    async with client.hub.db.write() as tx:  # type: ignore[attr-defined]
        await tx.execute(update(Delivery).values(
            status=SENDING, attempts=1, lease_owner="busy-process",
            lease_until=int((clock.time() + 60) * 1000)))
    assert await dispatcher.run_once() == 0
    assert notes(fake) == []


async def test_a_retry_resumes_after_the_finished_steps(
        client: AsyncTestClient[Any], fake: FakeZendesk, shop: str, dispatcher: Dispatcher,
        clock: FakeClock, snapshots: Snapshots) -> None:
    await alan_opens_ticket(client, fake, shop)
    fake.fail("PutTagsTicket", answer(503))
    await drain(dispatcher, clock)
    assert len(notes(fake)) == 1 and len(fake.uploads) == 1 and snapshots.calls == 1
    assert fake.calls.count("UploadFiles") == 1
    assert fake.calls.count("PutTagsTicket") == 2
    assert fake.tickets[4242].tags == ["replay_attached"]


async def test_two_dispatchers_never_send_one_delivery_twice(
        client: AsyncTestClient[Any], fake: FakeZendesk, shop: str, dispatcher: Dispatcher,
        clock: FakeClock, snapshots: Snapshots) -> None:
    for ticket_id in (4242, 4243, 4244):
        await alan_opens_ticket(client, fake, shop, ticket_id)
    hub = client.hub  # type: ignore[attr-defined]
    other = Dispatcher(hub.db, hub.connectors, hub.settings.outbox, snapshots,
                       clock=clock.time, sleep=clock.sleep)
    await asyncio.gather(dispatcher.run_once(), other.run_once())
    await drain(dispatcher, clock)
    assert [len(notes(fake, t)) for t in (4242, 4243, 4244)] == [1, 1, 1]


async def test_out_of_attempts_is_parked_failed_then_retried_by_hand(
        client: AsyncTestClient[Any], fake: FakeZendesk, shop: str, dispatcher: Dispatcher,
        clock: FakeClock) -> None:
    await alan_opens_ticket(client, fake, shop)
    fake.fail("UpdateTicket", *[answer(500)] * 5)
    await drain(dispatcher, clock)
    [delivery] = await deliveries(client)
    assert delivery.status == "failed" and delivery.attempts == 5
    listed = (await client.get("/api/v1/deliveries", params={"status": "failed"})).json()
    assert [item["id"] for item in listed["items"]] == [delivery.id]
    assert listed["items"][0]["target"] == "4242"
    response = await client.post(f"/api/v1/deliveries/{delivery.id}/retry")
    assert response.status_code == 202 and response.json()["status"] == "pending"
    await drain(dispatcher, clock)
    assert len(notes(fake)) == 1
    again = await client.post(f"/api/v1/deliveries/{delivery.id}/retry")
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")


async def test_a_refused_request_fails_at_once(
        client: AsyncTestClient[Any], fake: FakeZendesk, shop: str, dispatcher: Dispatcher,
        clock: FakeClock) -> None:
    await alan_opens_ticket(client, fake, shop)
    fake.fail("UpdateTicket", answer(422))
    await drain(dispatcher, clock)
    [delivery] = await deliveries(client)
    assert delivery.status == "failed" and delivery.attempts == 1
    assert "api_token" not in (delivery.last_error or "")
