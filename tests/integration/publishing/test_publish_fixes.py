"""Publishing stays one page per incident and connector under concurrency, carries the newest
content, survives hostile text in recorded errors, and follows `[postmortem] share_links`."""

from __future__ import annotations

import time
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from connectors.confluence.storage import storage_body
from replayhub.config import Settings
from replayhub.connector import Document, VendorError
from replayhub.db.models import ErrorEvent
from replayhub.outbox import store
from replayhub.outbox.dispatcher import Dispatcher
from replayhub.publishing import PUBLISH_DOCUMENT, lock_name, take_lock
from tests.conftest import ADMIN
from tests.helpers import NO_AUTH, make_app
from tests.integration.incidents.test_impact import CHECKOUT, MINUTE, session
from tests.integration.publishing.conftest import deliveries, drain, publish
from tests.integration.publishing.fake import FakeConfluence, FakePagerDuty, parse_storage
from tests.integration.zendesk.conftest import FakeClock

HOSTILE = "bad\x01char\x0b\x1f <img src=x> & \ufffe [x](https://evil.example/a) ]]>"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Two deliveries in flight at once; plain HTTP so the login cookie works."""
    return msgspec.structs.replace(
        settings, public_url="",
        outbox=msgspec.structs.replace(settings.outbox, concurrency=2))


async def edit_root_cause(client: AsyncTestClient[Any], incident: str, body: str,
                          version: int) -> None:
    edit = await client.put(f"/api/v1/incidents/{incident}/postmortem/sections/root_cause",
                            json={"body": body, "version": version})
    assert edit.status_code == 200, edit.text


def page_text(confluence: FakeConfluence) -> tuple[Any, str]:
    [page] = confluence.pages.values()
    return page, "".join(parse_storage(page.storage).itertext())


async def test_two_publishes_at_once_make_one_page_with_the_newest_content(
        client: AsyncTestClient[Any], confluence: FakeConfluence, pagerduty: FakePagerDuty,
        dispatcher: Dispatcher, clock: FakeClock, incident: str) -> None:
    first = await publish(client, incident)
    await edit_root_cause(client, incident, "The cart cache expired early.", 0)
    second = await publish(client, incident)
    assert first["deliveries"][0]["id"] == second["deliveries"][0]["id"]  # one waiting
    await edit_root_cause(client, incident, "The cart cache was sized too small.", 1)
    assert dispatcher.settings.concurrency == 2
    await drain(dispatcher, clock)
    _, text = page_text(confluence)
    assert "sized too small" in text and "expired early" not in text  # rendered when sent
    assert confluence.calls.count("createPage") == 1
    assert [d.status for d in await deliveries(client, PUBLISH_DOCUMENT)] == ["sent"]


async def test_two_deliveries_running_together_make_one_page(
        client: AsyncTestClient[Any], confluence: FakeConfluence, pagerduty: FakePagerDuty,
        dispatcher: Dispatcher, clock: FakeClock, incident: str) -> None:
    """Even two deliveries claimed in the same round (an older hub's keys, two processes)
    take turns: the second updates the page the first made."""
    hub = client.hub  # type: ignore[attr-defined]
    for n in (1, 2):
        await store.enqueue(hub.db, delivery_id=f"dlv_race{n}", connector="confluence",
                            account=hub.connectors["confluence"].account,
                            action=PUBLISH_DOCUMENT, payload={"incident_id": incident},
                            key=f"publish:{incident}:confluence:dlv_race{n}",
                            now_ms=int(clock.now * 1000))
    assert await dispatcher.run_once() == 2  # both attempted at once
    await drain(dispatcher, clock)
    page, _ = page_text(confluence)
    assert confluence.calls.count("createPage") == 1
    assert page.version == 2
    rows = await deliveries(client, PUBLISH_DOCUMENT)
    assert [(d.status, d.external_id) for d in rows] == [("sent", page.id)] * 2
    assert sorted(d.attempts for d in rows) == [1, 2]  # one waited for the other's lease


async def test_a_publish_while_one_is_sent_follows_it(
        client: AsyncTestClient[Any], confluence: FakeConfluence, pagerduty: FakePagerDuty,
        dispatcher: Dispatcher, clock: FakeClock, incident: str) -> None:
    hub = client.hub  # type: ignore[attr-defined]
    first = (await publish(client, incident))["deliveries"][0]["id"]
    [running] = await store.claim_due(hub.db, dispatcher.owner, dispatcher.now_ms(),
                                      120_000, 1)
    assert running.id == first
    await edit_root_cause(client, incident, "Written while the first publish ran.", 0)
    follow = (await publish(client, incident))["deliveries"][0]["id"]
    assert follow != first
    assert (await publish(client, incident))["deliveries"][0]["id"] == follow
    [waiting] = [d for d in await deliveries(client, PUBLISH_DOCUMENT) if d.id == follow]
    assert waiting.next_attempt_at == running.lease_until  # after the one in flight
    assert await dispatcher.run_once() == 0
    await dispatcher.attempt(running)  # the first ends and wakes its follower
    await dispatcher.run_until_idle()  # the clock has not moved
    [done] = [d for d in await deliveries(client, PUBLISH_DOCUMENT) if d.id == follow]
    assert (done.status, done.attempts) == ("sent", 1)
    page, text = page_text(confluence)
    assert page.version == 2 and "Written while the first publish ran." in text
    assert confluence.calls.count("createPage") == 1


async def test_a_publish_waits_for_the_lease_another_holds(
        client: AsyncTestClient[Any], confluence: FakeConfluence, pagerduty: FakePagerDuty,
        dispatcher: Dispatcher, clock: FakeClock, incident: str) -> None:
    hub = client.hub  # type: ignore[attr-defined]
    assert await take_lock(hub.db, lock_name(incident, "confluence"), "dlv_other",
                           int(clock.now * 1000), 60_000)
    await publish(client, incident)
    await dispatcher.run_until_idle()
    [delivery] = await deliveries(client, PUBLISH_DOCUMENT)
    assert delivery.status == "pending" and "another publish" in (delivery.last_error or "")
    assert not confluence.pages
    clock.advance(61)  # the other's lease runs out
    await drain(dispatcher, clock)
    assert len(confluence.pages) == 1


async def test_the_web_form_posted_twice_makes_one_page(
        client: AsyncTestClient[Any], confluence: FakeConfluence, pagerduty: FakePagerDuty,
        dispatcher: Dispatcher, clock: FakeClock, incident: str) -> None:
    await client.post("/login", data={"token": ADMIN}, headers=NO_AUTH)
    path = f"/incidents/{incident}/postmortem/publish"
    headers = {**NO_AUTH, "Origin": str(client.base_url)}
    for _ in range(2):
        clicked = await client.post(path, headers=headers, follow_redirects=False)
        assert clicked.status_code == 303
    await drain(dispatcher, clock)
    assert len(confluence.pages) == 1 and confluence.calls.count("createPage") == 1
    assert len(await deliveries(client, PUBLISH_DOCUMENT)) == 1


@pytest.fixture
async def hostile_incident(client: AsyncTestClient[Any]) -> str:
    """A manual incident whose only error message carries control characters and markup."""
    shop_id, key = await make_app(client, "Shop")
    start = (int(time.time() * 1000) // MINUTE - 90) * MINUTE
    await session(client, key, start + 2 * MINUTE, user="alice", url=CHECKOUT,
                  errors=[(1000, HOSTILE)])
    await client.hub.ingestor.close_quiet_sessions(quiet_ms=0)  # type: ignore[attr-defined]
    async with client.hub.db.read() as tx:  # type: ignore[attr-defined]
        [message] = (await tx.execute(select(ErrorEvent.message))).scalars()
    assert "\x01" in message  # recorded as sent
    response = await client.post("/api/v1/incidents", json={
        "title": "Checkout \x02broken", "started_at": start,
        "resolved_at": start + 30 * MINUTE, "app_ids": [shop_id],
        "url_patterns": ["https://shop.example.test/checkout*"]})
    assert response.status_code == 201, response.text
    return response.json()["id"]  # type: ignore[no-any-return]


async def test_control_characters_in_an_error_message_publish_fine(
        client: AsyncTestClient[Any], confluence: FakeConfluence,
        dispatcher: Dispatcher, clock: FakeClock, hostile_incident: str) -> None:
    await publish(client, hostile_incident)
    await drain(dispatcher, clock)
    [delivery] = await deliveries(client, PUBLISH_DOCUMENT)
    assert (delivery.status, delivery.attempts) == ("sent", 1), delivery.last_error
    page, text = page_text(confluence)  # the storage format parses
    assert "badchar <img src=x> &  [x](https://evil.example/a) ]]>" in text
    assert "\x01" not in page.storage and "\ufffe" not in page.storage


def test_a_body_that_cannot_be_converted_is_a_clear_final_error() -> None:
    document = Document(key="postmortem:inc_1", title="t", html="<p>never closed")
    with pytest.raises(VendorError) as raised:
        storage_body(document)
    assert not raised.value.retryable
    assert "cannot be converted to Confluence storage format" in str(raised.value)
    fine = storage_body(Document(key="k", title="t", html="<p>a&#1;b&#x1F;c&#65;</p>"))
    assert fine == "<p>abcA</p>"


@pytest.mark.parametrize("share_links", [True, False])
async def test_published_documents_follow_the_share_links_setting(
        client: AsyncTestClient[Any], confluence: FakeConfluence, pagerduty: FakePagerDuty,
        dispatcher: Dispatcher, clock: FakeClock, incident: str, share_links: bool) -> None:
    hub = client.hub  # type: ignore[attr-defined]
    hub.settings = msgspec.structs.replace(hub.settings, postmortem=msgspec.structs.replace(
        hub.settings.postmortem, share_links=share_links))
    await publish(client, incident)
    await drain(dispatcher, clock)
    [page] = confluence.pages.values()
    assert ("/share/" in page.storage) is share_links
    assert "/replays/" in page.storage
