"""Faults on the way to Slack: every message, reply and picture arrives exactly once."""

from __future__ import annotations

import json
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import update

from replayhub.db.models import Delivery
from replayhub.outbox.dispatcher import Dispatcher
from replayhub.outbox.store import SENDING
from tests.integration.slack.conftest import (
    CHANNEL,
    OTHER_CHANNEL,
    FakeClock,
    an_alert,
    deliveries,
    drain,
    enqueue_alert,
)
from tests.integration.slack.fake import (
    FakeSlack,
    Message,
    rate_limited,
    server_error,
    slack_error,
    timeout_after_sending,
)


async def test_429_waits_the_retry_after_of_that_channel_only(
        client: AsyncTestClient[Any], fake: FakeSlack, dispatcher: Dispatcher, clock: FakeClock,
        session_id: str) -> None:
    await enqueue_alert(client, an_alert(session_id, snapshot=None))
    fake.fail("chat.postMessage", rate_limited(30))
    started = clock.time()
    await dispatcher.run_once()
    [delivery] = await deliveries(client)
    assert delivery.status == "pending" and "429" in (delivery.last_error or "")
    assert abs(delivery.next_attempt_at - (started + 30) * 1000) < 500
    connector = client.hub.connectors["slack"]  # type: ignore[attr-defined]
    before = clock.time()
    await dispatcher.pace_key(connector, f"channel:{OTHER_CHANNEL}", 60)
    assert clock.time() - before < 1  # another channel is not held up
    await dispatcher.pace_key(connector, f"channel:{CHANNEL}", 60)
    assert clock.time() - before >= 30 - 0.01
    await drain(dispatcher, clock)
    assert len(fake.roots(CHANNEL)) == 1
    [delivery] = await deliveries(client)
    assert delivery.status == "sent" and delivery.attempts == 2


async def test_refusals_that_cannot_get_better_fail_at_once(
        client: AsyncTestClient[Any], fake: FakeSlack, dispatcher: Dispatcher, clock: FakeClock,
        session_id: str) -> None:
    await enqueue_alert(client, an_alert(session_id, key="a:1"), channel="C0GONE0001")
    await drain(dispatcher, clock)
    await enqueue_alert(client, an_alert(session_id, key="a:2"))
    fake.fail("chat.postMessage", slack_error("invalid_blocks"))
    await drain(dispatcher, clock)
    failed = {d.last_error: d for d in await deliveries(client)}
    assert {(d.status, d.attempts) for d in failed.values()} == {("failed", 1)}
    assert any("channel_not_found" in e for e in failed if e)
    assert any("invalid_blocks" in e for e in failed if e)
    assert fake.roots(CHANNEL) == []
    assert all("xoxb" not in (e or "") for e in failed)


async def test_server_errors_are_retried_then_sent_once(
        client: AsyncTestClient[Any], fake: FakeSlack, dispatcher: Dispatcher, clock: FakeClock,
        session_id: str) -> None:
    await enqueue_alert(client, an_alert(session_id))
    fake.fail("chat.postMessage", server_error(503), slack_error("internal_error"))
    await drain(dispatcher, clock)
    assert len(fake.roots(CHANNEL)) == 1
    [delivery] = await deliveries(client)
    assert delivery.status == "sent" and delivery.attempts == 3


async def test_a_timeout_after_posting_finds_the_message_by_its_metadata(
        client: AsyncTestClient[Any], fake: FakeSlack, dispatcher: Dispatcher, clock: FakeClock,
        session_id: str) -> None:
    await enqueue_alert(client, an_alert(session_id))
    fake.fail("chat.postMessage", timeout_after_sending(fake))
    await dispatcher.run_once()
    [delivery] = await deliveries(client)
    assert delivery.status == "pending" and len(fake.roots(CHANNEL)) == 1
    await drain(dispatcher, clock)
    [message] = fake.roots(CHANNEL)
    [delivery] = await deliveries(client)
    assert delivery.status == "sent" and delivery.external_id == f"{CHANNEL}:{message.ts}"
    assert "conversations.history" in fake.calls
    assert len(fake.thread_files(CHANNEL, message.ts)) == 1


async def test_a_timeout_after_sharing_the_picture_does_not_share_it_twice(
        client: AsyncTestClient[Any], fake: FakeSlack, dispatcher: Dispatcher, clock: FakeClock,
        session_id: str) -> None:
    await enqueue_alert(client, an_alert(session_id))
    fake.fail("files.completeUploadExternal", timeout_after_sending(fake))
    await drain(dispatcher, clock)
    [message] = fake.roots(CHANNEL)
    assert len(fake.thread_files(CHANNEL, message.ts)) == 1
    assert fake.calls.count("files.getUploadURLExternal") == 1
    assert "files.info" in fake.calls and len(fake.roots(CHANNEL)) == 1
    assert (await deliveries(client))[0].status == "sent"


async def test_a_process_killed_mid_dispatch_leaves_one_message(
        client: AsyncTestClient[Any], fake: FakeSlack, dispatcher: Dispatcher, clock: FakeClock,
        session_id: str) -> None:
    """A process posted the alert and died before recording it; its lease ran out."""
    delivery_id = await enqueue_alert(client, an_alert(session_id))
    fake.channels[CHANNEL].append(Message(
        CHANNEL, fake.next_ts(), "posted by the dead process",
        metadata={"event_type": "replayhub_delivery",
                  "event_payload": {"delivery_id": delivery_id}}))
    async with client.hub.db.write() as tx:  # type: ignore[attr-defined]
        await tx.execute(update(Delivery).where(Delivery.id == delivery_id).values(
            status=SENDING, attempts=1, lease_owner="dead-process",
            lease_until=int((clock.time() - 1) * 1000),
            progress=json.dumps({"post_attempted": True})))
    await drain(dispatcher, clock)
    assert len(fake.roots(CHANNEL)) == 1
    [delivery] = await deliveries(client)
    assert delivery.status == "sent" and delivery.attempts == 2
    assert fake.calls.count("chat.postMessage") == 0


async def test_a_refused_picture_leaves_the_alert_sent_without_it(
        client: AsyncTestClient[Any], fake: FakeSlack, dispatcher: Dispatcher, clock: FakeClock,
        session_id: str) -> None:
    await enqueue_alert(client, an_alert(session_id))
    fake.fail("files.getUploadURLExternal", slack_error("missing_scope"))
    await drain(dispatcher, clock)
    [message] = fake.roots(CHANNEL)
    assert fake.thread_files(CHANNEL, message.ts) == []
    [delivery] = await deliveries(client)
    assert delivery.status == "sent" and json.loads(delivery.progress)["file"] == "failed"
