"""The GitHub connector against GitHub's REST description: a document is one Markdown file
at a stable path, committed again when it changes, with its images beside it."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from connectors.github.client import retry_after
from connectors.github.connector import GitHubConnector, blob_sha
from connectors.github.settings import GitHubSettings
from replayhub.config import ConfigError
from replayhub.connector import Attachment, Document, VendorError
from replayhub.registry import read_connector_settings
from tests.contract.fake_github import (
    BASE_URL,
    REPOSITORY,
    TOKEN,
    FakeGitHub,
    answer,
    timeout_after_sending,
)

MARKER = "replayhub-document:postmortem:inc_1"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"/>'
MARKDOWN = f"""# Post-mortem: Checkout down

![Errors over time](data:image/svg+xml;base64,{base64.b64encode(SVG).decode()})

1. **Alan**: 2 errors.
   - Snapshot: ![Alan at 0:12](snapshot-1.png)
   - Replay: https://hub.example.com/replays/s1?t=12000
"""
FOLDER = "postmortems/inc_1"


def connector(**options: Any) -> GitHubConnector:
    values = {"enabled": True, "base_url": BASE_URL, "token": TOKEN,
              "repository": REPOSITORY, **options}
    return GitHubConnector(GitHubSettings(**values))


def document(markdown: str = MARKDOWN, png: bytes = PNG) -> Document:
    return Document(key="postmortem:inc_1", title="Post-mortem: Checkout down",
                    markdown=markdown, marker=MARKER,
                    attachments=[Attachment("snapshot-1.png", "image/png", png)])


@pytest.fixture
def fake() -> Any:
    github = FakeGitHub()
    with github.router():
        yield github


async def test_check_names_the_repository_and_push_access(fake: FakeGitHub) -> None:
    assert await connector().check() == f"repository {REPOSITORY} (can push)"
    assert fake.calls == ["repos/get"]


async def test_create_commits_the_markdown_with_its_images_beside_it(fake: FakeGitHub) -> None:
    published = await connector().publish_document(document(), None)
    files = fake.branches["main"]
    assert sorted(files) == [f"{FOLDER}/chart-1.svg", f"{FOLDER}/postmortem.md",
                             f"{FOLDER}/snapshot-1.png"]
    assert files[f"{FOLDER}/snapshot-1.png"] == PNG and files[f"{FOLDER}/chart-1.svg"] == SVG
    text = files[f"{FOLDER}/postmortem.md"].decode()
    assert "![Errors over time](chart-1.svg)" in text
    assert "![Alan at 0:12](snapshot-1.png)" in text
    assert text.rstrip().endswith(f"<!-- {MARKER} -->")
    assert published.external_id == f"{FOLDER}/postmortem.md"
    assert published.version == blob_sha(files[f"{FOLDER}/postmortem.md"])
    assert published.url == f"https://github.com/{REPOSITORY}/blob/main/{FOLDER}/postmortem.md"
    assert [c["path"] for c in fake.commits][-1] == f"{FOLDER}/postmortem.md"
    puts = [body for op, body in fake.bodies if op == "repos/create-or-update-file-contents"]
    assert all(body["branch"] == "main" and "sha" not in body for body in puts)


async def test_publishing_again_updates_the_same_file(fake: FakeGitHub) -> None:
    github = connector()
    first = await github.publish_document(document(), None)
    second = await github.publish_document(document(MARKDOWN + "\nRoot cause: a timeout.\n"),
                                           first)
    assert second.external_id == first.external_id and second.version != first.version
    assert len(fake.branches["main"]) == 3
    assert [c["path"] for c in fake.commits[3:]] == [f"{FOLDER}/postmortem.md"]
    assert fake.commits[-1]["message"] == "Update Post-mortem: Checkout down"
    update = [body for op, body in fake.bodies if op == "repos/create-or-update-file-contents"][-1]
    assert update["sha"] == first.version
    assert b"Root cause" in fake.branches["main"][f"{FOLDER}/postmortem.md"]


async def test_an_unchanged_document_makes_no_commit(fake: FakeGitHub) -> None:
    github = connector()
    first = await github.publish_document(document(), None)
    again = await github.publish_document(document(), first)
    assert again == first
    assert len(fake.commits) == 3


async def test_a_changed_snapshot_is_committed_over_the_old_one(fake: FakeGitHub) -> None:
    github = connector()
    first = await github.publish_document(document(), None)
    await github.publish_document(document(png=PNG + b"\x01"), first)
    assert [c["path"] for c in fake.commits[3:]] == [f"{FOLDER}/snapshot-1.png"]
    assert fake.branches["main"][f"{FOLDER}/snapshot-1.png"] == PNG + b"\x01"


async def test_a_timeout_after_sending_is_uncertain_and_found_again(fake: FakeGitHub) -> None:
    github = connector()
    fake.fail("repos/create-or-update-file-contents", lambda _r: None, lambda _r: None,
              timeout_after_sending(fake))
    with pytest.raises(VendorError) as lost:
        await github.publish_document(document(), None)
    assert lost.value.uncertain and lost.value.retryable
    found = await github.find_document(document())
    assert found is not None and found.version == blob_sha(
        fake.branches["main"][f"{FOLDER}/postmortem.md"])
    again = await github.publish_document(document(), found)
    assert again == found
    assert len(fake.commits) == 3


async def test_find_document_needs_the_file_with_the_marker(fake: FakeGitHub) -> None:
    github = connector()
    assert await github.find_document(document()) is None
    fake.branches["main"][f"{FOLDER}/postmortem.md"] = b"# written by hand\n"
    assert await github.find_document(document()) is None
    published = await github.publish_document(document(), None)  # overwrites with the sha
    assert await github.find_document(document()) == published


async def test_429_is_retryable_after_the_time_github_asks(fake: FakeGitHub) -> None:
    fake.fail("repos/get-content", answer(429, {"Retry-After": "30"}))
    with pytest.raises(VendorError) as limited:
        await connector().publish_document(document(), None)
    error = limited.value
    assert (error.status, error.retryable, error.retry_after, error.uncertain) == \
        (429, True, 30.0, False)
    assert fake.commits == []


async def test_a_403_with_the_rate_limit_spent_is_retryable(fake: FakeGitHub) -> None:
    fake.fail("repos/get-content", answer(403, {"x-ratelimit-remaining": "0",
                                               "x-ratelimit-reset": "4102444800"},
                                         "API rate limit exceeded"))
    with pytest.raises(VendorError) as limited:
        await connector().publish_document(document(), None)
    assert limited.value.retryable and limited.value.retry_after is not None
    response = httpx.Response(403, headers={"x-ratelimit-remaining": "0",
                                            "x-ratelimit-reset": "1000"})
    assert retry_after(response, now=940.0) == 60.0


async def test_401_and_a_plain_403_are_not_retryable(fake: FakeGitHub) -> None:
    with pytest.raises(VendorError) as refused:
        await connector(token="ghp_wrong_token_value").publish_document(document(), None)
    assert (refused.value.status, refused.value.retryable) == (401, False)
    assert "Bad credentials" in str(refused.value)
    assert "ghp_wrong_token_value" not in str(refused.value)
    fake.fail("repos/get-content", answer(403, message="Resource not accessible"))
    with pytest.raises(VendorError) as forbidden:
        await connector().publish_document(document(), None)
    assert (forbidden.value.status, forbidden.value.retryable) == (403, False)


def test_settings_check_the_repository_and_hide_the_token() -> None:
    with pytest.raises(ConfigError, match="repository must be owner/name"):
        read_connector_settings(GitHubConnector, {"enabled": True, "token": "t",
                                                  "repository": "no-slash"})
    with pytest.raises(ConfigError, match=r"connectors\.github\.repository is required"):
        read_connector_settings(GitHubConnector, {"enabled": True, "token": "t"})
    settings = read_connector_settings(GitHubConnector, {
        "enabled": True, "token": "ghp_hidden", "repository": "acme/x", "path": "/docs/pm/"})
    assert "ghp_hidden" not in repr(settings)
    assert GitHubConnector(settings).file_path("postmortem:inc_9") == \
        "docs/pm/inc_9/postmortem.md"


async def test_every_request_carries_the_token_and_the_api_version() -> None:
    fake = FakeGitHub()
    with fake.router() as router:
        await connector().publish_document(document(), None)
        requests = [call.request for call in router.calls]
    assert len(requests) == 6
    assert {(r.headers["Authorization"], r.headers["X-GitHub-Api-Version"]) for r in requests} \
        == {(f"Bearer {TOKEN}", "2022-11-28")}
    assert {r.url.params.get("ref") for r in requests if r.method == "GET"} == {"main"}
