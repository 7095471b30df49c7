"""The notebook page's Publish button: one click publishes, the page then links the result."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from replayhub.config import Settings
from replayhub.outbox.dispatcher import Dispatcher
from tests.conftest import ADMIN
from tests.integration.publishing.conftest import drain
from tests.integration.publishing.fake import FakeConfluence, FakePagerDuty
from tests.integration.zendesk.conftest import FakeClock

NO_AUTH = {"Authorization": ""}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Served over plain HTTP here, so the login cookie is not marked Secure."""
    return msgspec.structs.replace(settings, public_url="")


async def test_the_publish_button_publishes_and_links_the_page(
        client: AsyncTestClient[Any], confluence: FakeConfluence, pagerduty: FakePagerDuty,
        dispatcher: Dispatcher, clock: FakeClock, incident: str) -> None:
    await client.post("/login", data={"token": ADMIN}, headers=NO_AUTH)
    path = f"/incidents/{incident}/postmortem"
    before = await client.get(path, headers=NO_AUTH)
    assert 'id="publish"' in before.text and "Publish to Confluence" in before.text
    clicked = await client.post(f"{path}/publish", headers={**NO_AUTH, "Origin": str(
        client.base_url)}, follow_redirects=False)
    assert clicked.status_code == 303 and clicked.headers["location"] == f"{path}?published=1"
    await drain(dispatcher, clock)
    [page] = confluence.pages.values()
    after = await client.get(f"{path}?published=1", headers=NO_AUTH)
    assert "1 publication queued" in after.text
    assert 'class="publication"' in after.text and "Confluence (version 1)" in after.text
    assert "Update to Confluence" in after.text and page.id in after.text
