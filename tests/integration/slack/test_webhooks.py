"""POST /webhooks/slack and /webhooks/slack/interactivity: signatures, freshness, answers."""

from __future__ import annotations

import json
import sys
import time
import types
from typing import Any
from urllib.parse import urlencode

from litestar.testing import AsyncTestClient
from sqlalchemy import select

from replayhub.db.models import WebhookDelivery
from tests.integration.slack.conftest import (
    CHANNEL,
    envelope,
    message_event,
    post_event,
    signed,
)
from tests.integration.slack.fake import FakeSlack


async def stored(client: AsyncTestClient[Any]) -> list[WebhookDelivery]:
    async with client.hub.db.read() as tx:  # type: ignore[attr-defined]
        return list((await tx.execute(select(WebhookDelivery))).scalars())


def a_message() -> dict[str, Any]:
    return envelope(message_event(CHANNEL, "1800000001.000001", "hello"), "Ev0HELLO01")


async def test_url_verification_echoes_the_challenge(client: AsyncTestClient[Any]) -> None:
    body = {"token": "legacy", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
            "type": "url_verification"}
    response = await post_event(client, body)
    assert response.status_code == 200
    assert response.json() == {"challenge": body["challenge"]}
    assert await stored(client) == []


async def test_a_bad_signature_is_refused_and_nothing_is_stored(
        client: AsyncTestClient[Any]) -> None:
    response = await post_event(client, a_message(), secret="not-the-secret")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    raw = json.dumps(a_message()).encode()
    unsigned = await client.post("/webhooks/slack", content=raw, headers={"Authorization": ""})
    assert unsigned.status_code == 401
    assert await stored(client) == []


async def test_a_stale_timestamp_is_refused(client: AsyncTestClient[Any]) -> None:
    response = await post_event(client, a_message(), at=time.time() - 6 * 60)
    assert response.status_code == 401 and "old" in response.json()["detail"]
    challenge = {"token": "t", "challenge": "c", "type": "url_verification"}
    assert (await post_event(client, challenge, at=time.time() - 6 * 60)).status_code == 401
    assert await stored(client) == []


async def test_malformed_and_unused_events(client: AsyncTestClient[Any]) -> None:
    assert (await post_event(client, b"[1, 2]")).status_code == 400
    reaction = {**a_message(), "event": {"type": "reaction_added", "event_ts": "1.2"}}
    response = await post_event(client, reaction)
    assert response.status_code == 200 and response.json() == {"status": "ignored"}
    assert await stored(client) == []


async def test_events_are_stored_once_and_retries_are_duplicates(
        client: AsyncTestClient[Any]) -> None:
    assert (await post_event(client, a_message())).json() == {"status": "accepted"}
    retry = await post_event(client, a_message(), **{"X-Slack-Retry-Num": "2"})
    assert retry.status_code == 200 and retry.json() == {"status": "duplicate"}
    [row] = await stored(client)
    assert (row.connector, row.event_key, row.status) == ("slack", "Ev0HELLO01", "processed")


def click(value: str, trigger: str = "13345224609.738474920.8088930838d88f008e0") -> bytes:
    """A block_actions payload as Slack sends it for the Mark resolved button."""
    payload = {"type": "block_actions", "trigger_id": trigger, "api_app_id": "A0APP00001",
               "team": {"id": "T0ACME0001", "domain": "acme"},
               "user": {"id": "U0ADA00001", "username": "ada", "name": "ada",
                        "team_id": "T0ACME0001"},
               "container": {"type": "message", "message_ts": "1800000000.000001",
                             "channel_id": CHANNEL, "is_ephemeral": False},
               "channel": {"id": CHANNEL, "name": "alerts"},
               "actions": [{"action_id": "mark_resolved", "block_id": "replayhub_alert",
                            "value": value, "type": "button", "action_ts": "1800000001.1",
                            "text": {"type": "plain_text", "text": "Mark resolved"}}]}
    return urlencode({"payload": json.dumps(payload)}).encode()


async def test_mark_resolved_resolves_the_error_group_once(
        client: AsyncTestClient[Any], fake: FakeSlack, monkeypatch: Any) -> None:
    resolved: list[tuple[str, str]] = []

    async def resolve_error(hub: Any, fingerprint: str, by: str) -> None:
        resolved.append((fingerprint, by))

    import replayhub

    stub = types.ModuleType("replayhub.alerts")
    stub.resolve_error = resolve_error  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "replayhub.alerts", stub)
    monkeypatch.setattr(replayhub, "alerts", stub, raising=False)
    body = click("fp-total")
    headers = {**signed(body), "Content-Type": "application/x-www-form-urlencoded"}
    response = await client.post("/webhooks/slack/interactivity", content=body, headers=headers)
    assert response.status_code == 200
    again = await client.post("/webhooks/slack/interactivity", content=body, headers=headers)
    assert again.json() == {"status": "duplicate"}
    assert resolved == [("fp-total", "Ada Lovelace")]
    forged = {**headers, "X-Slack-Signature": "v0=" + "0" * 64}
    refused = await client.post("/webhooks/slack/interactivity", content=click("fp", "other"),
                                headers=forged)
    assert refused.status_code == 401 and resolved == [("fp-total", "Ada Lovelace")]
