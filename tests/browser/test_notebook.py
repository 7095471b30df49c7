"""The post-mortem notebook in real Chromium: sign in, edit a section and see it rendered, post
a comment mentioning someone, see it highlighted in the thread and the e-mail reach a local
SMTP server; a viewer sees the document without any form."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from replayhub.app import create_app
from replayhub.config import PersonSettings, SchedulerSettings, Settings, SmtpSettings
from replayhub.hub import Hub
from replayhub.security import create_token
from tests.browser.hub_server import RunningHub, free_port
from tests.conftest import ADMIN
from tests.mailbox import Mailbox, smtp_server

pytestmark = pytest.mark.browser

PEOPLE = [PersonSettings(email="alice@example.com", name="Alice Smith"),
          PersonSettings(email="bob@example.com", name="Bob Stone")]


@pytest.fixture(scope="module")
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    with smtp_server() as served:
        yield served


@contextmanager
def serving(settings: Settings) -> Iterator[RunningHub]:
    """The hub under uvicorn in a thread (as tests.browser.hub_server, with these settings)."""
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1",
                                           port=settings.port, log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the hub did not start")
        time.sleep(0.05)
    try:
        yield RunningHub(settings, f"http://127.0.0.1:{settings.port}", ADMIN)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def notebook_hub(tmp_path_factory: pytest.TempPathFactory,
                 mailbox: tuple[Mailbox, int]) -> Iterator[RunningHub]:
    port = free_port()
    settings = Settings(data_dir=str(tmp_path_factory.mktemp("notebook") / "var"),
                        admin_token=ADMIN, port=port, log_level="warning", people=PEOPLE,
                        scheduler=SchedulerSettings(enabled=False),
                        smtp=SmtpSettings(host="127.0.0.1", port=mailbox[1],
                                          sender="ReplayHub <hub@example.test>"))
    with serving(settings) as hub:
        yield hub


def in_thread(settings: Settings, work: Callable[[Hub], Awaitable[Any]]) -> Any:
    """Run `work` on a hub of its own in another thread (Playwright owns this one's loop)."""
    result: list[Any] = []

    async def run() -> None:
        hub = Hub.from_settings(settings)
        try:
            result.append(await work(hub))
        finally:
            await hub.stop()

    worker = threading.Thread(target=asyncio.run, args=(run(),))
    worker.start()
    worker.join(timeout=30)
    return result[0]


@pytest.fixture(scope="module")
def incident(notebook_hub: RunningHub) -> str:
    with notebook_hub.api() as api:
        response = api.post("/api/v1/incidents", json={
            "title": "Checkout down", "started_at": "2026-01-04T10:00:00Z",
            "resolved_at": "2026-01-04T10:30:00Z"})
        assert response.status_code == 201, response.text
        return str(response.json()["id"])


def sign_in(page: Any, hub: RunningHub, token: str, target: str) -> None:
    page.goto(f"{hub.base_url}/login?next={target}")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{hub.base_url}{target}")


def wait_for_mail(box: Mailbox, count: int) -> None:
    deadline = time.monotonic() + 20
    while len(box.received) < count and time.monotonic() < deadline:
        time.sleep(0.1)


def test_an_agent_edits_a_section_and_mentions_someone(
        chromium: Any, notebook_hub: RunningHub, incident: str,
        mailbox: tuple[Mailbox, int], artifacts: Path) -> None:
    box, _ = mailbox
    token = in_thread(notebook_hub.settings,
                      lambda hub: create_token(hub.db, "Bob Stone", "agent"))
    target = f"/incidents/{incident}/postmortem"
    context = chromium.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    sign_in(page, notebook_hub, token, target)
    assert page.locator("h1").first.inner_text() == "Post-mortem: Checkout down"

    # edit the root cause: the form posts, the page comes back with the section rendered
    page.locator("#section-root_cause summary").click()
    page.get_by_label("Root cause (Markdown)").fill(
        "The **payment provider** rotated its keys.\n\n- `cart.js` kept the old one\n"
        "- <b>not bold</b>")
    page.get_by_role("button", name="Save Root cause").click()
    page.wait_for_url(f"**{target}#section-root_cause")
    section = page.locator("section#root-cause")
    assert section.get_attribute("class") == "edited"
    assert section.locator("strong").inner_text() == "payment provider"
    assert section.locator("li code").inner_text() == "cart.js"
    assert "<b>not bold</b>" in section.inner_text()  # shown as text, never as markup
    assert "Edited by Bob Stone on" in section.locator(".edited-note").inner_text()
    assert page.get_by_role("button", name="Reset to generated text").count() == 1

    # the same edit is in the Markdown download
    with notebook_hub.api() as api:
        markdown = api.get(f"/api/v1/incidents/{incident}/postmortem").text
    assert "The **payment provider** rotated its keys." in markdown

    # a comment mentioning Alice: highlighted in the thread, and Alice gets an e-mail
    page.get_by_label("Add a comment").fill("@Alice Smith can you check **the cart**?")
    page.get_by_role("button", name="Comment").click()
    page.wait_for_url(f"**{target}#comment-*")
    comment = page.locator("li.comment").last
    assert comment.locator(".author").inner_text() == "Bob Stone"
    assert comment.locator(".mention").inner_text() == "@Alice Smith"
    assert comment.locator(".body strong").inner_text() == "the cart"
    page.screenshot(path=str(artifacts / "notebook.png"), full_page=True)

    wait_for_mail(box, 1)
    [(_, recipients, content)] = box.received
    assert recipients == ["alice@example.com"]
    comment_id = page.url.rsplit("#comment-", 1)[1]
    mail = email.message_from_bytes(content, policy=email.policy.default)
    assert mail["Subject"] == "Bob Stone mentioned you on the post-mortem of Checkout down"
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert f"{notebook_hub.base_url}{target}#comment-{comment_id}" in text
    context.close()


def test_a_viewer_reads_without_forms(chromium: Any, notebook_hub: RunningHub,
                                      incident: str) -> None:
    token = in_thread(notebook_hub.settings,
                      lambda hub: create_token(hub.db, "Reader", "viewer"))
    target = f"/incidents/{incident}/postmortem"
    context = chromium.new_context()
    page = context.new_page()
    sign_in(page, notebook_hub, token, target)
    assert page.locator("section#summary h2").inner_text() == "Summary"
    assert page.locator("details.nb-edit").count() == 0
    assert page.locator("form.comment-form").count() == 0
    assert page.locator("#thread-title").inner_text() == "Comments"
    context.close()
