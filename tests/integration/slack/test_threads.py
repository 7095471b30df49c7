"""Thread sync: replies become comments, hub comments become replies, never an echo."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from replayhub.outbox.dispatcher import Dispatcher
from tests.integration.slack.conftest import (
    CHANNEL,
    FakeClock,
    an_alert,
    chat_rows,
    comments,
    deliveries,
    drain,
    enqueue_alert,
    envelope,
    message_event,
    post_event,
)
from tests.integration.slack.fake import BOT_USER, FakeSlack


async def alert_thread(client: AsyncTestClient[Any], dispatcher: Dispatcher, clock: FakeClock,
                       fake: FakeSlack, session_id: str) -> str:
    await enqueue_alert(client, an_alert(session_id, snapshot=None))
    await drain(dispatcher, clock)
    [root] = fake.roots(CHANNEL)
    return root.ts


async def reply(client: AsyncTestClient[Any], fake: FakeSlack, thread_ts: str, text: str,
                event_id: str, user: str = "U0GRACE001", **headers: str) -> Any:
    message = fake.post_as(user, CHANNEL, text, thread_ts)
    event = message_event(CHANNEL, message.ts, text, user=user, thread_ts=thread_ts)
    return await post_event(client, envelope(event, event_id), **headers), message.ts


async def test_a_reply_becomes_a_comment_by_the_person_and_a_retry_is_a_no_op(
        client: AsyncTestClient[Any], fake: FakeSlack, dispatcher: Dispatcher, clock: FakeClock,
        session_id: str) -> None:
    thread = await alert_thread(client, dispatcher, clock, fake, session_id)
    message = fake.post_as("U0GRACE001", CHANNEL, "Looking at it &amp; <https://x.test|this>",
                           thread)
    payload = envelope(message_event(CHANNEL, message.ts, message.text, thread_ts=thread),
                       "Ev0REPLY01")
    first = await post_event(client, payload)
    assert first.status_code == 200 and first.json() == {"status": "accepted"}
    again = await post_event(client, payload, **{"X-Slack-Retry-Num": "1",
                                                  "X-Slack-Retry-Reason": "http_timeout"})
    assert again.json() == {"status": "duplicate"}
    [comment] = await comments(client, session_id)
    assert (comment.author, comment.body, comment.source) == \
        ("Grace Hopper", "Looking at it & this", "slack")
    assert comment.external_id == f"{CHANNEL}:{message.ts}"
    listed = (await client.get(f"/api/v1/sessions/{session_id}/comments")).json()["items"]
    assert [c["body"] for c in listed] == ["Looking at it & this"]
    assert await deliveries(client, "chat_comment") == []  # never goes back out


async def test_the_bots_own_messages_and_foreign_threads_are_not_imported(
        client: AsyncTestClient[Any], fake: FakeSlack, dispatcher: Dispatcher, clock: FakeClock,
        session_id: str) -> None:
    thread = await alert_thread(client, dispatcher, clock, fake, session_id)
    bot = message_event(CHANNEL, "1800000099.000001", "from the bot", thread_ts=thread, bot=True)
    assert (await post_event(client, envelope(bot, "Ev0BOT0001"))).status_code == 200
    own = message_event(CHANNEL, "1800000099.000002", "bot user", user=BOT_USER,
                        thread_ts=thread)
    await post_event(client, envelope(own, "Ev0BOT0002"))
    top = message_event(CHANNEL, "1800000099.000003", "not in a thread")
    await post_event(client, envelope(top, "Ev0TOP0001"))
    foreign = message_event(CHANNEL, "1800000099.000005", "other thread",
                            thread_ts="1800000099.000004")
    await post_event(client, envelope(foreign, "Ev0FOREIGN"))
    assert await comments(client, session_id) == []


async def test_edits_and_deletions_of_a_synced_reply(
        client: AsyncTestClient[Any], fake: FakeSlack, dispatcher: Dispatcher, clock: FakeClock,
        session_id: str) -> None:
    thread = await alert_thread(client, dispatcher, clock, fake, session_id)
    _, ts = await reply(client, fake, thread, "first words", "Ev0REPLY01")
    edit = {"type": "message", "subtype": "message_changed", "channel": CHANNEL, "hidden": True,
            "ts": "1800000100.000001",
            "message": {"type": "message", "user": "U0GRACE001", "text": "better words",
                        "ts": ts, "thread_ts": thread, "edited": {"user": "U0GRACE001",
                                                                  "ts": "1800000100.000001"}},
            "previous_message": {"type": "message", "user": "U0GRACE001",
                                 "text": "first words", "ts": ts}}
    assert (await post_event(client, envelope(edit, "Ev0EDIT001"))).status_code == 200
    [comment] = await comments(client, session_id)
    assert comment.body == "better words"
    gone = {"type": "message", "subtype": "message_deleted", "channel": CHANNEL, "hidden": True,
            "ts": "1800000101.000001", "deleted_ts": ts,
            "previous_message": {"type": "message", "user": "U0GRACE001",
                                 "text": "better words", "ts": ts}}
    await post_event(client, envelope(gone, "Ev0DELETE1"))
    assert await comments(client, session_id) == []
    late = message_event(CHANNEL, ts, "first words", thread_ts=thread)
    await post_event(client, envelope(late, "Ev0LATE001"))  # a late copy: ts is known
    assert await comments(client, session_id) == []


async def test_a_hub_comment_goes_into_the_thread_once_and_its_echo_stays_out(
        client: AsyncTestClient[Any], fake: FakeSlack, dispatcher: Dispatcher, clock: FakeClock,
        session_id: str) -> None:
    thread = await alert_thread(client, dispatcher, clock, fake, session_id)
    response = await client.post(f"/api/v1/sessions/{session_id}/comments",
                                 json={"body": "Fixed in 4.2 <b>"})
    assert response.status_code == 201, response.text
    [delivery] = await deliveries(client, "chat_comment")
    await drain(dispatcher, clock)
    [posted] = [m for m in fake.thread(CHANNEL, thread) if m.metadata]
    assert "Fixed in 4.2 &lt;b&gt;" in posted.text
    assert posted.metadata["event_payload"]["comment_id"] == response.json()["id"]
    echo = message_event(CHANNEL, posted.ts, posted.text, thread_ts=thread, bot=True)
    await post_event(client, envelope(echo, "Ev0ECHO001"))
    assert len(await comments(client, session_id)) == 1
    assert {r.kind for r in await chat_rows(client)} == {"alert", "hub_comment"}
    [delivery] = await deliveries(client, "chat_comment")
    assert delivery.status == "sent"


async def test_a_timeout_after_posting_a_comment_finds_it_in_the_thread(
        client: AsyncTestClient[Any], fake: FakeSlack, dispatcher: Dispatcher, clock: FakeClock,
        session_id: str) -> None:
    from tests.integration.slack.fake import timeout_after_sending

    thread = await alert_thread(client, dispatcher, clock, fake, session_id)
    await client.post(f"/api/v1/sessions/{session_id}/comments", json={"body": "once"})
    fake.fail("chat.postMessage", timeout_after_sending(fake))
    await drain(dispatcher, clock)
    assert len([m for m in fake.thread(CHANNEL, thread) if m.metadata]) == 1
    assert "conversations.replies" in fake.calls
    [delivery] = await deliveries(client, "chat_comment")
    assert delivery.status == "sent"
