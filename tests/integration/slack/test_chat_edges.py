"""Edges of chat delivery: composer unfurls, member lookups that fail, sharing by hand twice,
Teams refused as a by-hand target, and @people refused as a channel."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from replayhub import people
from replayhub.outbox.dispatcher import Dispatcher
from tests.integration.slack.conftest import (
    CHANNEL,
    FakeClock,
    an_alert,
    deliveries,
    drain,
    enqueue_alert,
    envelope,
    post_event,
)
from tests.integration.slack.fake import FakeSlack, server_error, slack_error


async def test_a_link_typed_in_the_composer_is_unfurled_by_its_unfurl_id(
        client: AsyncTestClient[Any], fake: FakeSlack, dispatcher: Dispatcher, clock: FakeClock,
        session_id: str) -> None:
    url = f"https://hub.example.test/replays/{session_id}?t=1500"
    event = envelope({"type": "link_shared", "channel": "COMPOSER", "user": "U0GRACE001",
                      "message_ts": "U0GRACE001-6c1e7c9a-1c3f-4b5e-9f7e-2b8a5d3f1e20",
                      "unfurl_id": "Uxxxxxxx-909b5454-75f8-4ac4-b325-1b40e230bbd8",
                      "source": "composer", "is_bot_user_member": True,
                      "links": [{"domain": "hub.example.test", "url": url}]}, "Ev0COMPOSE1")
    assert (await post_event(client, event)).json() == {"status": "accepted"}
    await drain(dispatcher, clock)
    [unfurl] = fake.unfurls
    assert unfurl["unfurl_id"] == "Uxxxxxxx-909b5454-75f8-4ac4-b325-1b40e230bbd8"
    assert unfurl["source"] == "composer"
    assert unfurl["channel"] is None and unfurl["ts"] is None
    assert url in unfurl["unfurls"]
    [row] = await deliveries(client, "chat_unfurl")
    assert row.status == "sent"


@pytest.mark.parametrize("fault, cached", [
    (slack_error("no_permission"), ""),  # will not change: remembered as a miss
    (server_error(503), None),  # may pass: asked again next time
], ids=["no_permission", "503"])
async def test_a_failed_member_lookup_names_the_person_and_never_fails_the_alert(
        client: AsyncTestClient[Any], fake: FakeSlack, dispatcher: Dispatcher, clock: FakeClock,
        session_id: str, fault: Any, cached: str | None) -> None:
    fake.fail("users.lookupByEmail", *([fault] * 10))
    await enqueue_alert(client, an_alert(session_id, snapshot=None))
    await drain(dispatcher, clock)
    [row] = await deliveries(client)
    assert row.status == "sent" and row.attempts == 1
    [message] = fake.roots(CHANNEL)
    assert "<@U0ADA00001>" in message.text and "Grace Hopper" in message.text
    hub = client.hub  # type: ignore[attr-defined]
    assert await people.cached_slack_id(hub, "grace@example.com") == cached


async def test_sending_again_with_other_people_or_another_request_posts_again(
        client: AsyncTestClient[Any], fake: FakeSlack, dispatcher: Dispatcher, clock: FakeClock,
        session_id: str) -> None:
    path = f"/api/v1/sessions/{session_id}/links"
    body = {"target": "slack", "channel": CHANNEL, "t": 1500, "mention": ["ada@example.com"]}
    first = (await client.post(path, json=body)).json()
    assert (await client.post(path, json=body)).json() == first  # a double click
    other = (await client.post(path, json={**body, "mention": ["grace@example.com"]})).json()
    assert other != first
    tomorrow = {**body, "request_id": "send-2"}
    again = (await client.post(path, json=tomorrow)).json()
    assert again not in (first, other)
    assert (await client.post(path, json=tomorrow)).json() == again
    await drain(dispatcher, clock)
    assert len(fake.roots(CHANNEL)) == 3


@pytest.mark.parametrize("body, status", [
    ({"target": "teams", "channel": "payments"}, 422),
    ({"target": "slack", "channel": "@grace"}, 400),
], ids=["teams", "at-user"])
async def test_teams_and_people_are_not_by_hand_chat_targets(
        client: AsyncTestClient[Any], session_id: str, body: dict[str, Any],
        status: int) -> None:
    response = await client.post(f"/api/v1/sessions/{session_id}/links", json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    if status == 422:
        assert "Slack" in response.json()["detail"]
    assert await deliveries(client) == []
