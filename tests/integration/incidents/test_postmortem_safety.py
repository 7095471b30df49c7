"""Untrusted text in the post-mortem draft, and who gets share links.

A recorded error message (the public ingest endpoint takes any text) must never become a link,
a picture or HTML in the Markdown (the download, the Git file, the Notion page). Only agents'
and admins' drafts carry signed share links: a viewer's draft links to the hub's replay pages,
which need a login, since a viewer may not mint share links.
"""

from __future__ import annotations

import re
import time
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient
from markdown_it import MarkdownIt
from sqlalchemy import select

from connectors.notion.blocks import markdown_to_blocks
from replayhub.config import Settings
from replayhub.db.models import ErrorEvent
from replayhub.replay.share import read_share_token
from replayhub.security import create_token
from tests.helpers import NO_AUTH, make_app
from tests.integration.incidents.test_impact import (  # noqa: F401 (the fixture)
    CHECKOUT,
    MINUTE,
    seeded,
    session,
)

HOSTILE = "a](https://evil.example/login) <img src=https://evil.example/t.png> [b"
EVIL = "evil.example"
DAY = 86_400


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Served over plain HTTP here, so the login cookie is not marked Secure."""
    return msgspec.structs.replace(settings, public_url="")


@pytest.fixture
async def hostile(client: AsyncTestClient[Any]) -> str:
    """An incident whose only error carries links and a tracking picture in its message,
    recorded for a user whose name is a link too."""
    shop_id, key = await make_app(client, "Shop")
    start = (int(time.time() * 1000) // MINUTE - 90) * MINUTE
    for offset, user in ((2, "mallory [x](https://evil.example/u)"), (5, "bob")):
        await session(client, key, start + offset * MINUTE, user=user, url=CHECKOUT,
                      errors=[(1000, HOSTILE)])
    await client.hub.ingestor.close_quiet_sessions(quiet_ms=0)  # type: ignore[attr-defined]
    async with client.hub.db.read() as tx:  # type: ignore[attr-defined]
        messages = set((await tx.execute(select(ErrorEvent.message))).scalars())
    assert messages == {HOSTILE}  # stored as sent
    response = await client.post("/api/v1/incidents", json={
        "title": "Checkout [down](https://evil.example/t) <b>now</b>", "started_at": start,
        "resolved_at": start + 30 * MINUTE, "app_ids": [shop_id],
        "url_patterns": ["https://shop.example.test/checkout*"]})
    assert response.status_code == 201, response.text
    return response.json()["id"]  # type: ignore[no-any-return]


async def draft(client: AsyncTestClient[Any], incident: str, fmt: str = "markdown",
                token: str | None = None) -> str:
    headers = {"Authorization": f"Bearer {token}"} if token else None
    response = await client.get(f"/api/v1/incidents/{incident}/postmortem",
                                params={"format": fmt}, headers=headers)
    assert response.status_code == 200, response.text
    return response.text


def links_in_blocks(value: Any) -> list[str]:
    """Every link and picture URL anywhere in Notion blocks."""
    found: list[str] = []
    if isinstance(value, dict):
        if isinstance(value.get("link"), dict):
            found.append(value["link"].get("url", ""))
        if isinstance(value.get("external"), dict):
            found.append(value["external"].get("url", ""))
        for item in value.values():
            found += links_in_blocks(item)
    elif isinstance(value, list):
        for item in value:
            found += links_in_blocks(item)
    return found


async def test_a_hostile_error_message_stays_text_in_the_markdown(
        client: AsyncTestClient[Any], hostile: str) -> None:
    text = await draft(client, hostile)
    assert text.count("evil.example/login") >= 2  # the message is shown (table, summary...)
    assert not re.search(r"(?<!\\)(<img|<b>|\]\(https://evil)", text)  # all escaped
    assert r"a\](`https://evil.example/login)` \<img src=`https://evil.example/t.png>` \[b" \
        in text
    # rendered as GitHub would (raw HTML allowed): no link, picture or tag from the message
    html = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]) \
        .render(text)
    targets = re.findall(r'(?:href|src)="([^"]*)"', html)
    assert targets and [url for url in targets if EVIL in url] == []
    assert "<b>" not in html and "<img src=https" not in html
    # and as the Notion connector converts it
    blocks = markdown_to_blocks(text)
    assert [url for url in links_in_blocks(blocks) if EVIL in url] == []
    assert EVIL in str(blocks)  # still shown, as text


async def test_the_html_draft_escapes_it(client: AsyncTestClient[Any], hostile: str) -> None:
    text = await draft(client, hostile, "html")
    assert "<img src=https://evil" not in text and "<b>now</b>" not in text
    assert "&lt;img src=https://evil.example/t.png&gt;" in text
    assert not re.search(r'href="https://evil', text)


async def test_viewers_get_replay_links_and_agents_share_links(
        client: AsyncTestClient[Any], seeded: dict[str, Any]) -> None:  # noqa: F811
    hub = client.hub  # type: ignore[attr-defined]
    viewer = await create_token(hub.db, "Vera", "viewer")
    agent = await create_token(hub.db, "Ada", "agent")
    incident = seeded["incident"]
    base = hub.settings.base_url
    for fmt in ("markdown", "html"):
        seen = await draft(client, incident, fmt, viewer)
        assert "/share/" not in seen and "Share link" not in seen
        assert f"{base}/replays/{seeded['alice']}?t=1000" in seen
    shared = await draft(client, incident, "markdown", agent)
    tokens = re.findall(r"Share link: \S+/share/(\S+)", shared)
    assert len(tokens) == 4
    shares = [read_share_token(hub.secret_key, token) for token in tokens]
    assert all(29 * DAY < s.expires_at - time.time() <= 30 * DAY for s in shares)
    assert f"{base}/replays/{seeded['alice']}?t=1000" in shared


async def test_the_notebook_page_mints_no_share_link_for_a_viewer(
        client: AsyncTestClient[Any], seeded: dict[str, Any]) -> None:  # noqa: F811
    hub = client.hub  # type: ignore[attr-defined]
    path = f"/incidents/{seeded['incident']}/postmortem"
    for name, role, shares in (("Vera", "viewer", 0), ("Ada", "agent", 4)):
        token = await create_token(hub.db, name, role)
        login = await client.post("/login", data={"token": token}, headers=NO_AUTH,
                                  follow_redirects=False)
        assert login.status_code == 303
        page = await client.get(path, headers=NO_AUTH)
        assert page.status_code == 200, page.text
        assert len(re.findall(r'class="share" href="[^"]*/share/', page.text)) == shares, role
        assert f"/replays/{seeded['alice']}?t=1000" in page.text
        await client.post("/logout", headers={**NO_AUTH, "Origin": str(client.base_url)})
