"""chat_alert: one message with mentions and buttons, the snapshot in its thread, updates."""

from __future__ import annotations

import json
from typing import Any

from litestar.testing import AsyncTestClient

from replayhub.outbox.dispatcher import Dispatcher
from tests.integration.slack.conftest import (
    CHANNEL,
    FakeClock,
    Snapshots,
    an_alert,
    chat_rows,
    deliveries,
    drain,
    enqueue_alert,
)
from tests.integration.slack.fake import FakeSlack


async def test_an_alert_tags_the_owners_and_carries_buttons_and_a_marker(
        client: AsyncTestClient[Any], fake: FakeSlack, dispatcher: Dispatcher, clock: FakeClock,
        session_id: str) -> None:
    delivery_id = await enqueue_alert(client, an_alert(session_id))
    await drain(dispatcher, clock)
    [message] = fake.roots(CHANNEL)
    assert "<@U0ADA00001>" in message.text and "<@U0GRACE001>" in message.text
    layout = json.dumps(message.blocks)
    assert "<@U0ADA00001>" in layout and "Cannot read properties" in layout
    actions = next(b for b in message.blocks if b["type"] == "actions")["elements"]
    assert [a["action_id"] for a in actions] == ["open_replay", "mark_resolved"]
    assert actions[0]["url"] == "https://hub.example.test/share/abc"
    assert actions[1]["value"] == "fp-total"
    assert not any(b["type"] == "image" for b in message.blocks)  # no public picture URL
    assert message.metadata == {"event_type": "replayhub_delivery",
                                "event_payload": {"delivery_id": delivery_id}}
    [delivery] = await deliveries(client)
    assert delivery.status == "sent" and delivery.external_id == f"{CHANNEL}:{message.ts}"
    [row] = await chat_rows(client)
    assert (row.kind, row.ts, row.session_id, row.alert_key) == \
        ("alert", message.ts, session_id, "error.new:fp-total")


async def test_the_snapshot_goes_into_the_thread_through_the_external_upload(
        client: AsyncTestClient[Any], fake: FakeSlack, dispatcher: Dispatcher, clock: FakeClock,
        session_id: str, snapshots: Snapshots) -> None:
    await enqueue_alert(client, an_alert(session_id))
    await drain(dispatcher, clock)
    [message] = fake.roots(CHANNEL)
    [file_id] = fake.thread_files(CHANNEL, message.ts)
    assert fake.files[file_id]["data"].startswith(b"\x89PNG")
    assert [c for c in fake.calls if "files" in c or c == "upload"] == \
        ["files.getUploadURLExternal", "upload", "files.completeUploadExternal"]
    assert "files.upload" not in fake.calls and snapshots.calls == 1


async def test_without_chromium_the_alert_goes_without_a_picture(
        client: AsyncTestClient[Any], fake: FakeSlack, dispatcher: Dispatcher, clock: FakeClock,
        session_id: str, snapshots: Snapshots) -> None:
    snapshots.available = False
    await enqueue_alert(client, an_alert(session_id))
    await drain(dispatcher, clock)
    [message] = fake.roots(CHANNEL)
    assert fake.thread_files(CHANNEL, message.ts) == []
    assert (await deliveries(client))[0].status == "sent"


async def test_a_public_snapshot_url_is_an_image_block_a_loopback_one_never(
        client: AsyncTestClient[Any], fake: FakeSlack, dispatcher: Dispatcher, clock: FakeClock,
        session_id: str) -> None:
    await enqueue_alert(client, an_alert(session_id, key="a:1", snapshot=None,
                                         snapshot_url="https://cdn.example.com/s.png"))
    await enqueue_alert(client, an_alert(session_id, key="a:2", snapshot=None,
                                         snapshot_url="http://127.0.0.1:8000/s.png"))
    await drain(dispatcher, clock)
    urls = [b["image_url"] for m in fake.roots(CHANNEL) for b in m.blocks if b["type"] == "image"]
    assert urls == ["https://cdn.example.com/s.png"]


async def test_an_unknown_member_is_looked_up_once_and_cached(
        client: AsyncTestClient[Any], fake: FakeSlack, dispatcher: Dispatcher, clock: FakeClock,
        session_id: str) -> None:
    from replayhub.connector import ChatPerson

    people = [ChatPerson(email="grace@example.com", name="Grace Hopper"),
              ChatPerson(email="nobody@example.com", name="No Body")]
    await enqueue_alert(client, an_alert(session_id, key="a:1", mentions=people))
    await drain(dispatcher, clock)
    await enqueue_alert(client, an_alert(session_id, key="a:2", mentions=people))
    await drain(dispatcher, clock)
    assert fake.calls.count("users.lookupByEmail") == 2  # each e-mail once, the miss too
    for message in fake.roots(CHANNEL):
        assert "<@U0GRACE001>" in message.text and "No Body" in message.text
    assert all(d.status == "sent" for d in await deliveries(client))


async def test_message_id_updates_in_place_and_thread_of_replies_in_the_thread(
        client: AsyncTestClient[Any], fake: FakeSlack, dispatcher: Dispatcher, clock: FakeClock,
        session_id: str) -> None:
    await enqueue_alert(client, an_alert(session_id))
    await drain(dispatcher, clock)
    [first] = await deliveries(client)
    resolved = an_alert(session_id, resolved=True,
                        facts={"fingerprint": "fp-total", "resolved_by": "Ada"})
    await enqueue_alert(client, resolved, message_id=first.external_id)
    await enqueue_alert(client, an_alert(session_id, kind="error.regressed"),
                        thread_of=first.external_id)
    await drain(dispatcher, clock)
    [root] = fake.roots(CHANNEL)
    assert root.text.startswith("Resolved: ")
    assert "mark_resolved" not in json.dumps(root.blocks)
    replies = [m for m in fake.thread(CHANNEL, root.ts) if m.metadata]
    assert len(replies) == 1 and "mark_resolved" in json.dumps(replies[0].blocks)
    assert fake.calls.count("chat.update") == 1
    statuses = [(d.status, d.external_id) for d in await deliveries(client)]
    assert statuses[1] == ("sent", first.external_id)
    assert {r.kind for r in await chat_rows(client)} == {"alert", "alert_reply"}
