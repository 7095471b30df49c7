"""By hand: "Send to Slack" (POST /links); pasted replay links unfurled."""

from __future__ import annotations

import json
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from replayhub.outbox.dispatcher import Dispatcher
from tests.integration.slack.conftest import (
    CHANNEL,
    FakeClock,
    deliveries,
    drain,
    envelope,
    post_event,
)
from tests.integration.slack.fake import FakeSlack


async def test_send_to_slack_posts_the_moment_and_tags_people(
        client: AsyncTestClient[Any], fake: FakeSlack, dispatcher: Dispatcher, clock: FakeClock,
        session_id: str) -> None:
    response = await client.post(f"/api/v1/sessions/{session_id}/links", json={
        "target": "slack", "channel": CHANNEL, "t": 1500,
        "mention": ["grace@example.com", "ada@example.com"]})
    assert response.status_code == 202, response.text
    [delivery] = await deliveries(client)
    assert response.json() == {"delivery_id": delivery.id}
    again = await client.post(f"/api/v1/sessions/{session_id}/links", json={
        "target": "slack", "channel": CHANNEL, "t": 1500,
        "mention": ["ada@example.com", "grace@example.com"]})
    assert again.json() == {"delivery_id": delivery.id}  # a double click: the same message
    await drain(dispatcher, clock)
    [message] = fake.roots(CHANNEL)
    assert "<@U0GRACE001>" in message.text and "<@U0ADA00001>" in message.text
    buttons = next(b for b in message.blocks if b["type"] == "actions")["elements"]
    assert buttons[0]["url"].startswith("https://hub.example.test/share/")
    assert buttons[1]["url"] == f"https://hub.example.test/replays/{session_id}?t=1500"
    assert "mark_resolved" not in json.dumps(message.blocks)
    assert len(fake.thread_files(CHANNEL, message.ts)) == 1


@pytest.mark.parametrize("body, status", [
    ({"target": "slack", "t": 10}, 400),
    ({"target": "slack", "channel": CHANNEL, "ticket_id": "42"}, 400),
    ({"target": "slack", "channel": "bad channel!"}, 400),
    ({"target": "teams-nope", "channel": CHANNEL}, 404),
])
async def test_bad_requests_change_nothing(client: AsyncTestClient[Any], session_id: str,
                                           body: dict[str, Any], status: int) -> None:
    response = await client.post(f"/api/v1/sessions/{session_id}/links", json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await deliveries(client) == []


def link_shared(urls: list[str], event_id: str) -> dict[str, Any]:
    return envelope({"type": "link_shared", "channel": CHANNEL, "user": "U0GRACE001",
                     "message_ts": "1800000050.000001", "unfurl_id": "C0ALERTS01.1800000050",
                     "source": "conversations_history", "is_bot_user_member": True,
                     "links": [{"domain": "hub.example.test", "url": url} for url in urls]},
                    event_id)


async def test_pasted_replay_and_share_links_are_unfurled_with_a_picture(
        client: AsyncTestClient[Any], fake: FakeSlack, dispatcher: Dispatcher, clock: FakeClock,
        session_id: str) -> None:
    share = (await client.post(f"/api/v1/sessions/{session_id}/share", json={"t": 900})).json()
    urls = [f"https://hub.example.test/replays/{session_id}?t=1500", share["url"],
            "https://hub.example.test/share/forged-token", "https://elsewhere.example/replays/x"]
    response = await post_event(client, link_shared(urls, "Ev0LINKS01"))
    assert response.json() == {"status": "accepted"}
    await drain(dispatcher, clock)
    unfurled = {url: entry for entry in fake.unfurls for url in entry["unfurls"]}
    assert sorted(unfurled) == sorted(urls[:2])
    blocks = unfurled[urls[0]]["unfurls"][urls[0]]["blocks"]
    assert "Replay of" in blocks[0]["text"]["text"]
    [image] = [b for b in blocks if b["type"] == "image"]
    assert "image_url" not in image and image["slack_file"]["id"] in fake.files
    assert all(e["channel"] == CHANNEL and e["ts"] == "1800000050.000001"
               for e in fake.unfurls)


async def test_unfurl_off_unfurls_nothing(client: AsyncTestClient[Any], fake: FakeSlack,
                                          dispatcher: Dispatcher, clock: FakeClock,
                                          session_id: str) -> None:
    client.hub.connectors["slack"].settings.unfurl = False  # type: ignore[attr-defined]
    app_connector = client.app.state.hub.connectors["slack"]  # type: ignore[attr-defined]
    app_connector.settings.unfurl = False
    url = f"https://hub.example.test/replays/{session_id}"
    await post_event(client, link_shared([url], "Ev0LINKS02"))
    await drain(dispatcher, clock)
    assert fake.unfurls == [] and await deliveries(client) == []
