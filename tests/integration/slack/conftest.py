"""A hub with the Slack connector on, a fake Slack behind respx, and a test dispatcher."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from connectors.slack.webhooks import slack_signature
from replayhub.config import OutboxSettings, PersonSettings, Settings
from replayhub.connector import ChatAlert, ChatPerson, SnapshotRef
from replayhub.db.models import ChatMessage, Comment, Delivery
from replayhub.outbox.store import enqueue, new_delivery_id
from tests.conftest import ADMIN
from tests.contract import slack_specs
from tests.helpers import ingest_recording, make_app
from tests.integration.slack.fake import BASE_URL, BOT_ID, BOT_USER, TEAM, FakeSlack
from tests.integration.zendesk.conftest import FakeClock, Snapshots, drain

SIGNING_SECRET = "slack_signing_secret_0123456789"
BOT_TOKEN = "xoxb-test-token-do-not-leak"
CHANNEL, OTHER_CHANNEL = "C0ALERTS01", "C0OTHER001"
__all__ = ["FakeClock", "Snapshots", "drain"]


def slack_table(**extra: Any) -> dict[str, Any]:
    return {"enabled": True, "base_url": BASE_URL, "bot_token": BOT_TOKEN,
            "signing_secret": SIGNING_SECRET, "rate_limit_per_minute": 60000,
            "channel_rate_limit_per_minute": 60000, **extra}


@pytest.fixture
def slack_settings() -> dict[str, Any]:
    return slack_table()


@pytest.fixture
def settings(tmp_path: Path, database_url: str, slack_settings: dict[str, Any]) -> Settings:
    return Settings(data_dir=str(tmp_path / "var"), database_url=database_url, admin_token=ADMIN,
                    public_url="https://hub.example.test",
                    outbox=OutboxSettings(dispatcher=False, max_attempts=5),
                    people=[PersonSettings(email="ada@example.com", name="Ada Lovelace",
                                           slack="U0ADA00001"),
                            PersonSettings(email="grace@example.com", name="Grace Hopper")],
                    connectors={"slack": slack_settings})


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    slack = FakeSlack()
    slack.add_channel(CHANNEL)
    slack.add_channel(OTHER_CHANNEL)
    slack.add_member("U0ADA00001", "Ada L.", "ada@example.com")
    slack.add_member("U0GRACE001", "Grace H.", "grace@example.com")
    slack.add_member("U0ALAN0001", "Alan T.", "alan@elsewhere.example")
    with slack.router():
        yield slack


@pytest.fixture
async def session_id(client: AsyncTestClient[Any]) -> str:
    from tests.conftest import recording

    _, key = await make_app(client)
    return await ingest_recording(client, key, recording("broken"))


def an_alert(session_id: str, **changes: Any) -> ChatAlert:
    values: dict[str, Any] = dict(
        key="error.new:fp-total", kind="error.new", title="TypeError: reading 'total'",
        summary="Cannot read properties of undefined (reading 'total') on /checkout",
        page_url="https://shop.example.test/checkout", sessions=3, users=2,
        mentions=[ChatPerson(email="ada@example.com", name="Ada Lovelace", slack="U0ADA00001"),
                  ChatPerson(email="grace@example.com", name="Grace Hopper")],
        replay_url="https://hub.example.test/share/abc", session_id=session_id,
        snapshot=SnapshotRef(session_id, 1200), facts={"fingerprint": "fp-total"})
    values.update(changes)
    return ChatAlert(**values)


async def enqueue_alert(client: AsyncTestClient[Any], alert: ChatAlert, *,
                        channel: str = CHANNEL, key: str | None = None,
                        message_id: str | None = None, thread_of: str | None = None) -> str:
    """What alerts.py does: one chat_alert delivery."""
    hub = client.hub  # type: ignore[attr-defined]
    found, _ = await enqueue(
        hub.db, delivery_id=new_delivery_id(), connector="slack", account="slack",
        action="chat_alert", payload={"channel": channel, "alert": msgspec.to_builtins(alert),
                                      "message_id": message_id, "thread_of": thread_of},
        key=key or f"alert:{alert.key}:{channel}:{message_id}:{thread_of}",
        now_ms=int(time.time() * 1000), session_id=alert.session_id or None)
    return found


async def deliveries(client: AsyncTestClient[Any], action: str | None = None) -> list[Delivery]:
    query = select(Delivery).order_by(Delivery.created_at, Delivery.id)
    if action:
        query = query.where(Delivery.action == action)
    async with client.hub.db.read() as tx:  # type: ignore[attr-defined]
        return list((await tx.execute(query)).scalars())


async def comments(client: AsyncTestClient[Any], session_id: str) -> list[Comment]:
    async with client.hub.db.read() as tx:  # type: ignore[attr-defined]
        return list((await tx.execute(select(Comment).where(
            Comment.session_id == session_id).order_by(Comment.created_at))).scalars())


async def chat_rows(client: AsyncTestClient[Any]) -> list[ChatMessage]:
    async with client.hub.db.read() as tx:  # type: ignore[attr-defined]
        return list((await tx.execute(select(ChatMessage).order_by(ChatMessage.id))).scalars())


# events --------------------------------------------------------------------------------
def signed(body: bytes, *, secret: str = SIGNING_SECRET, at: float | None = None,
           **headers: str) -> dict[str, str]:
    timestamp = str(int(time.time() if at is None else at))
    return {"X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": slack_signature(secret, timestamp, body),
            "Content-Type": "application/json", "Authorization": "", **headers}


def envelope(event: dict[str, Any], event_id: str) -> dict[str, Any]:
    payload = {"token": "legacy-verification-token", "team_id": TEAM, "api_app_id": "A0APP00001",
               "event": {**event, "event_ts": event.get("ts", "1800000000.000001")},
               "type": "event_callback", "event_id": event_id, "event_time": 1800000000,
               "authed_users": [BOT_USER]}
    slack_specs.check_event(payload)
    return payload


def message_event(channel: str, ts: str, text: str, *, user: str = "U0GRACE001",
                  thread_ts: str | None = None, bot: bool = False) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "message", "channel": channel, "user": user, "text": text,
                             "ts": ts, "channel_type": "channel"}
    if thread_ts:
        event["thread_ts"] = thread_ts
    if bot:
        event.update(user=BOT_USER, bot_id=BOT_ID)
    return event


async def post_event(client: AsyncTestClient[Any], payload: dict[str, Any] | bytes,
                     **options: Any) -> Any:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return await client.post("/webhooks/slack", content=raw, headers=signed(raw, **options))
