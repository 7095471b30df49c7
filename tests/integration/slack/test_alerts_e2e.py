"""Alerts end to end through Slack: the tick, the outbox, the (spec-checked) fake Slack, the
Mark resolved button, regressions in the root's thread, and a 429 that must not bring an
older state back. One team names its channel by name (#payments), one by id."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from replayhub.alerts import alerts_tick
from replayhub.config import Settings
from replayhub.db.models import Delivery
from replayhub.outbox.dispatcher import Dispatcher
from replayhub.replay.share import read_share_token
from tests.conftest import ADMIN
from tests.helpers import make_app
from tests.integration.slack.conftest import (
    BOT_TOKEN,
    CHANNEL,
    SIGNING_SECRET,
    FakeClock,
    deliveries,
    drain,
    signed,
    slack_table,
)
from tests.integration.slack.fake import HOOKS_URL, FakeSlack, Message, rate_limited
from tests.integration.test_alerts import HOUR, MINUTE, fingerprint, ingest

PAYMENTS = "C0PAYMENT1"
NEW = {"name": "new errors", "on": "error.new", "match": {"error": "TypeError:*"}}
BACK = {"name": "regressions", "on": "error.regressed", "match": {"error": "TypeError:*"},
        "cooldown": 60}


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return msgspec.convert({
        "data_dir": str(tmp_path / "var"), "database_url": database_url, "admin_token": ADMIN,
        "public_url": "https://hub.example.test", "alerts": [NEW, BACK],
        "people": [{"email": "ada@example.com", "name": "Ada Lovelace"}],
        "teams": [{"name": "payments", "members": ["ada@example.com"],
                   "slack_channel": "#payments"},
                  {"name": "web", "slack_channel": CHANNEL}],
        "ownership": [{"name": "pay", "match": {"url": "*broken*"},
                       "owners": ["team:payments", "team:web"]}],
        "outbox": {"dispatcher": False, "max_attempts": 8},
        "scheduler": {"enabled": False},
        "connectors": {"slack": slack_table()}}, Settings)


def click(fp: str, trigger: str) -> tuple[bytes, dict[str, str]]:
    payload = {"type": "block_actions", "trigger_id": trigger, "api_app_id": "A0APP00001",
               "team": {"id": "T0ACME0001", "domain": "acme"},
               "user": {"id": "U0GRACE001", "username": "grace", "team_id": "T0ACME0001"},
               "response_url": f"{HOOKS_URL}T0ACME0001/{trigger.replace('.', '')}/xyz",
               "actions": [{"type": "button", "action_id": "mark_resolved",
                            "block_id": "replayhub_alert", "value": fp,
                            "action_ts": "1800000001.1"}]}
    body = urlencode({"payload": json.dumps(payload)}).encode()
    return body, {**signed(body), "Content-Type": "application/x-www-form-urlencoded"}


async def press_resolve(client: AsyncTestClient[Any], fp: str, trigger: str) -> None:
    body, headers = click(fp, trigger)
    answer = await client.post("/webhooks/slack/interactivity", content=body, headers=headers)
    assert answer.json() == {"status": "accepted"}, answer.text


def root_of(fake: FakeSlack, channel: str) -> Message:
    [root] = fake.roots(channel)
    return root


def open_replay_url(message: Message) -> str:
    actions = next(b for b in message.blocks if b["type"] == "actions")["elements"]
    return str(next(b for b in actions if b["action_id"] == "open_replay")["url"])


async def sent_updates(client: AsyncTestClient[Any]) -> list[Delivery]:
    return [row for row in await deliveries(client, "chat_alert")
            if json.loads(row.payload).get("message_id")]


async def test_alert_lifecycle_through_slack(client: AsyncTestClient[Any], fake: FakeSlack,
                                             dispatcher: Dispatcher, clock: FakeClock) -> None:
    fake.add_channel(PAYMENTS, name="payments")
    fake.page_size = 1  # the channel list comes in pages
    hub = client.hub  # type: ignore[attr-defined]
    now = int(time.time() * 1000)
    t0 = now - 3 * HOUR
    _, key = await make_app(client)
    assert await alerts_tick(hub, t0) == 0

    # a new error: one message in each team's channel, tagging the owners
    await ingest(client, key, "broken", t0)
    assert await alerts_tick(hub, t0 + MINUTE) == 2
    await drain(dispatcher, clock)
    roots = {channel: root_of(fake, channel) for channel in (PAYMENTS, CHANNEL)}
    posts = {row.external_id for row in await deliveries(client, "chat_alert")}
    assert posts == {f"{PAYMENTS}:{roots[PAYMENTS].ts}", f"{CHANNEL}:{roots[CHANNEL].ts}"}
    assert "conversations.list" in fake.calls  # "#payments" read once as its id
    first_link = open_replay_url(roots[PAYMENTS])

    # a later session: the messages are edited in place; the payments edit meets a 429
    await ingest(client, key, "broken", t0 + 2 * MINUTE, user="grace")
    fake.fail("chat.update", rate_limited(30))
    assert await alerts_tick(hub, t0 + 3 * MINUTE) == 2
    await dispatcher.run_until_idle()
    assert [row.status for row in await sent_updates(client)].count("pending") == 1

    # Mark resolved in Slack, while that edit still waits out its Retry-After
    fp = await fingerprint(client)
    await press_resolve(client, fp, "1001.2002.first")
    await drain(dispatcher, clock)
    assert all(row.status == "sent" for row in await deliveries(client))
    for channel in (PAYMENTS, CHANNEL):
        root = root_of(fake, channel)
        assert root.text.startswith("Resolved: "), root.text  # the late edit did not undo it
        assert "mark_resolved" not in json.dumps(root.blocks)
        assert "Resolved by" in json.dumps(root.blocks)
    fresh_link = open_replay_url(root_of(fake, PAYMENTS))
    first = read_share_token(hub.secret_key, first_link.rsplit("/", 1)[1])
    share = read_share_token(hub.secret_key, fresh_link.rsplit("/", 1)[1])
    assert share.expires_at >= first.expires_at  # made again at the edit
    assert share.expires_at - time.time() > 29 * 24 * 3600  # alert links live 30 days

    # two regressions: both reply in the thread of the root message
    await ingest(client, key, "broken", now + MINUTE, user="edsger")
    await alerts_tick(hub, now + 2 * MINUTE)
    clock.advance(180)
    await drain(dispatcher, clock)
    await press_resolve(client, fp, "1001.2002.second")
    await drain(dispatcher, clock)
    await ingest(client, key, "broken", now + 5 * MINUTE, user="barbara")
    await alerts_tick(hub, now + 6 * MINUTE)
    clock.advance(420)
    await drain(dispatcher, clock)
    for channel in (PAYMENTS, CHANNEL):
        root = root_of(fake, channel)
        replies = [m for m in fake.hub_messages(channel) if m.thread_ts]
        assert len(replies) == 2, [(m.ts, m.thread_ts, m.text[:40]) for m in replies]
        assert {m.thread_ts for m in replies} == {root.ts}
        assert all("Error is back" in m.text for m in replies)
    assert all(row.status == "sent" for row in await deliveries(client))
    assert not fake.faults.get("chat.update")


async def test_a_timeout_on_a_channel_named_by_name_finds_the_post_by_id(
        client: AsyncTestClient[Any], fake: FakeSlack, dispatcher: Dispatcher, clock: FakeClock,
        caplog: pytest.LogCaptureFixture) -> None:
    from tests.integration.slack.conftest import an_alert, enqueue_alert

    fake.add_channel(PAYMENTS, name="payments")
    fake.page_size = 1  # one channel, one message per page: both listings are paged

    def timeout_then_chatter(request: httpx.Request) -> httpx.Response | None:
        fake.answer("chat.postMessage", request)  # posted, but the answer is lost
        for index in range(2):  # people write after it: it is not on the first page
            fake.channels[PAYMENTS].append(Message(PAYMENTS, fake.next_ts(), f"later {index}",
                                                   user="U0GRACE001", bot_id=""))
        raise httpx.ReadTimeout("timed out after sending", request=request)

    fake.fail("chat.postMessage", timeout_then_chatter)
    await enqueue_alert(client, an_alert("", snapshot=None), channel="#payments")
    await drain(dispatcher, clock)
    [post] = fake.hub_messages(PAYMENTS)
    [row] = await deliveries(client)
    assert row.status == "sent" and row.external_id == f"{PAYMENTS}:{post.ts}"
    assert fake.calls.count("chat.postMessage") == 1
    assert fake.calls.count("conversations.list") >= 2  # paged, then cached
    assert fake.calls.count("conversations.history") >= 2  # paged by cursor
    assert BOT_TOKEN not in caplog.text and SIGNING_SECRET not in caplog.text


async def test_mark_resolved_on_an_unknown_error_tells_the_person_once(
        client: AsyncTestClient[Any], fake: FakeSlack, dispatcher: Dispatcher) -> None:
    from replayhub.db.models import WebhookDelivery

    await press_resolve(client, "fp-nobody-knows", "1001.2002.third")
    [answer] = fake.responses
    assert answer["response_type"] == "ephemeral" and "no longer knows" in answer["text"]
    from sqlalchemy import select

    async with client.hub.db.read() as tx:  # type: ignore[attr-defined]
        rows = list((await tx.execute(select(WebhookDelivery))).scalars())
    assert [row.status for row in rows] == ["processed"]
    assert await deliveries(client) == []
