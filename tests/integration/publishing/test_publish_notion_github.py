"""Publishing a post-mortem to Notion and to a GitHub repository: twice is still one page and
one file; Notion's page and block comments come into the incident's thread once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from replayhub.config import OutboxSettings, Settings
from replayhub.outbox.dispatcher import Dispatcher
from replayhub.publishing import DOCUMENT_MARKER, sync_document_comments
from tests.conftest import ADMIN
from tests.contract import fake_github, fake_notion
from tests.contract.fake_github import FakeGitHub, blob_sha
from tests.contract.fake_notion import PARENT_PAGE, FakeNotion
from tests.integration.publishing.conftest import HUB, drain, publish
from tests.integration.zendesk.conftest import FakeClock


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=str(tmp_path / "var"), database_url=database_url, admin_token=ADMIN,
        public_url=HUB, outbox=OutboxSettings(dispatcher=False, max_attempts=5),
        connectors={
            "notion": {"enabled": True, "base_url": fake_notion.BASE_URL,
                       "token": fake_notion.TOKEN, "parent_page_id": PARENT_PAGE,
                       "rate_limit_per_minute": 60000},
            "github": {"enabled": True, "base_url": fake_github.BASE_URL,
                       "token": fake_github.TOKEN, "repository": fake_github.REPOSITORY,
                       "rate_limit_per_minute": 60000},
        })


@pytest.fixture
def notion() -> Iterator[FakeNotion]:
    fake = FakeNotion()
    with fake.router():
        yield fake


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub()
    with fake.router():
        yield fake


async def publications(client: AsyncTestClient[Any], incident: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/incidents/{incident}/publications")
    assert response.status_code == 200, response.text
    return {item["connector"]: item for item in response.json()["items"]}


async def test_publishing_to_notion_twice_keeps_one_page(
        client: AsyncTestClient[Any], notion: FakeNotion, dispatcher: Dispatcher,
        clock: FakeClock, incident: str) -> None:
    await publish(client, incident, {"targets": ["notion"]})
    await drain(dispatcher, clock)
    [page_id] = [p for p in notion.pages if p != PARENT_PAGE]
    page = notion.pages[page_id]
    assert page.title == f"Post-mortem: Checkout broken ({incident})"
    text = notion.page_text(page_id)
    assert text.splitlines()[0] == f"{DOCUMENT_MARKER}postmortem:{incident}"
    assert "Summary" in text and "Timeline" in text
    assert f"({incident}-replay-1.png)" in text
    first = (await publications(client, incident))["notion"]
    assert (first["external_id"], first["version"]) == (page_id, page.edited)

    await publish(client, incident, {"targets": ["notion"]})
    await drain(dispatcher, clock)
    assert [p for p in notion.pages if p != PARENT_PAGE] == [page_id]
    assert notion.calls.count("post-page") == 1
    second = (await publications(client, incident))["notion"]
    assert second["external_id"] == page_id and second["version"] > first["version"]
    assert notion.page_text(page_id).count(f"{DOCUMENT_MARKER}postmortem:") == 1


async def test_notion_page_comments_reach_the_thread_once(
        client: AsyncTestClient[Any], notion: FakeNotion, dispatcher: Dispatcher,
        clock: FakeClock, incident: str) -> None:
    await publish(client, incident, {"targets": ["notion"]})
    await drain(dispatcher, clock)
    [page_id] = [p for p in notion.pages if p != PARENT_PAGE]
    notion.add_comment(page_id, notion.add_user("Grace"), "The payment API timed out.")
    hub = client.hub  # type: ignore[attr-defined]
    assert await sync_document_comments(hub) == 1
    assert await sync_document_comments(hub) == 0


async def test_a_block_comment_reaches_the_thread_though_a_regenerate_deleted_its_block(
        client: AsyncTestClient[Any], notion: FakeNotion, dispatcher: Dispatcher,
        clock: FakeClock, incident: str) -> None:
    await publish(client, incident, {"targets": ["notion"]})
    await drain(dispatcher, clock)
    [page_id] = [p for p in notion.pages if p != PARENT_PAGE]
    block = notion.live_blocks(page_id)[2]
    notion.add_comment(block.id, notion.add_user("Alan"), "This step is wrong.")
    await publish(client, incident, {"targets": ["notion"]})
    await drain(dispatcher, clock)
    assert notion.blocks[block.id].archived
    hub = client.hub  # type: ignore[attr-defined]
    assert await sync_document_comments(hub) == 1
    assert await sync_document_comments(hub) == 0
    thread = await client.get(f"/api/v1/incidents/{incident}/comments")
    assert thread.status_code == 200, thread.text
    assert "This step is wrong." in thread.text


async def test_publishing_to_github_twice_keeps_one_file(
        client: AsyncTestClient[Any], github: FakeGitHub, dispatcher: Dispatcher,
        clock: FakeClock, incident: str) -> None:
    await publish(client, incident, {"targets": ["github"]})
    await drain(dispatcher, clock)
    folder = f"postmortems/{incident}"
    files = github.branches["main"]
    assert sorted(files) == sorted([f"{folder}/postmortem.md", f"{folder}/{incident}-chart.png",
                                    f"{folder}/{incident}-replay-1.png",
                                    f"{folder}/{incident}-replay-2.png"])
    markdown = files[f"{folder}/postmortem.md"].decode()
    assert f"]({incident}-replay-1.png)" in markdown
    assert f"{DOCUMENT_MARKER}postmortem:{incident}" in markdown
    first = (await publications(client, incident))["github"]
    assert first["external_id"] == f"{folder}/postmortem.md"
    assert first["version"] == blob_sha(files[f"{folder}/postmortem.md"])
    commits = len(github.commits)

    await publish(client, incident, {"targets": ["github"]})
    await drain(dispatcher, clock)
    assert len(files) == 4
    second = (await publications(client, incident))["github"]
    assert second["external_id"] == first["external_id"]
    assert second["version"] == blob_sha(files[f"{folder}/postmortem.md"])
    assert {c["path"] for c in github.commits[commits:]} <= {f"{folder}/postmortem.md"}


async def test_the_markdown_downloads_as_a_file(client: AsyncTestClient[Any],
                                                incident: str) -> None:
    url = f"/api/v1/incidents/{incident}/postmortem?format=markdown"
    saved = await client.get(f"{url}&download=1")
    assert saved.status_code == 200, saved.text
    assert saved.headers["content-disposition"] == \
        f'attachment; filename="postmortem-{incident}.md"'
    assert saved.headers["content-type"].startswith("text/markdown")
    assert saved.text.startswith("# Post-mortem: Checkout broken")
    shown = await client.get(url)
    assert shown.headers["content-disposition"].startswith("inline;")
