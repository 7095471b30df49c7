"""Comments flow both ways between the incident's thread and its Confluence page: the page's
footer comments come in on the tick, hub comments go out once, nothing echoes or repeats."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from replayhub.outbox.dispatcher import Dispatcher
from replayhub.publishing import DOCUMENT_COMMENT, push_incident_comment, sync_document_comments
from tests.integration.publishing.conftest import deliveries, drain, publish
from tests.integration.publishing.fake import (
    FakeConfluence,
    FakePagerDuty,
    answer,
    timeout_after_sending,
)
from tests.integration.zendesk.conftest import FakeClock


async def thread(client: AsyncTestClient[Any], incident: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/incidents/{incident}/comments")
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


async def published_page(client: AsyncTestClient[Any], confluence: FakeConfluence,
                         dispatcher: Dispatcher, clock: FakeClock, incident: str) -> str:
    await publish(client, incident)
    await drain(dispatcher, clock)
    [page_id] = confluence.pages
    return page_id


async def test_page_comments_arrive_in_the_thread_once_in_order(
        client: AsyncTestClient[Any], confluence: FakeConfluence, pagerduty: FakePagerDuty,
        dispatcher: Dispatcher, clock: FakeClock, incident: str) -> None:
    page_id = await published_page(client, confluence, dispatcher, clock, incident)
    confluence.comment_page_size = 2  # the hub follows `_links.next`
    confluence.add_comment(page_id, "557058:ada", "The retry budget was too small")
    confluence.add_comment(page_id, "557058:grace", "Agreed &amp; we need an alert")
    confluence.add_comment(page_id, "557058:ada", "Action item filed")
    hub = client.hub  # type: ignore[attr-defined]
    assert await sync_document_comments(hub) == 3
    assert await sync_document_comments(hub) == 0
    items = await thread(client, incident)
    assert [(c["author"], c["body"]) for c in items] == [
        ("Ada Lovelace", "The retry budget was too small"),
        ("Grace Hopper", "Agreed & we need an alert"), ("Ada Lovelace", "Action item filed")]
    assert all(c["source"] == "confluence" and c["target_id"] == page_id for c in items)
    assert confluence.calls.count("getUser") == 2  # each name asked once


async def test_a_hub_comment_goes_out_once_and_never_comes_back(
        client: AsyncTestClient[Any], confluence: FakeConfluence, pagerduty: FakePagerDuty,
        dispatcher: Dispatcher, clock: FakeClock, incident: str) -> None:
    page_id = await published_page(client, confluence, dispatcher, clock, incident)
    confluence.fail("createFooterComment", timeout_after_sending(confluence))
    response = await client.post(f"/api/v1/incidents/{incident}/comments",
                                 json={"body": "Root cause: the cart <script> cache"})
    assert response.status_code == 201, response.text
    await drain(dispatcher, clock)
    [carried] = confluence.comments_with("Root cause: the cart &lt;script&gt; cache")
    assert carried.page_id == page_id
    assert "wrote in ReplayHub" in carried.storage
    assert confluence.calls.count("createFooterComment") == 1
    [delivery] = await deliveries(client, DOCUMENT_COMMENT)
    assert (delivery.status, delivery.external_id) == ("sent", carried.id)

    # pushing the same comment again enqueues nothing new
    hub = client.hub  # type: ignore[attr-defined]
    [comment] = [c for c in await thread(client, incident) if c["source"] == "hub"]
    item = type("Item", (), {**comment})
    await push_incident_comment(hub, item)
    await drain(dispatcher, clock)
    assert len(confluence.comments_with("Root cause")) == 1

    assert await sync_document_comments(hub) == 0
    bodies = [c["body"] for c in await thread(client, incident)]
    assert bodies == ["Root cause: the cart <script> cache"]


async def test_imported_comments_are_never_pushed_back(
        client: AsyncTestClient[Any], confluence: FakeConfluence, pagerduty: FakePagerDuty,
        dispatcher: Dispatcher, clock: FakeClock, incident: str) -> None:
    page_id = await published_page(client, confluence, dispatcher, clock, incident)
    confluence.add_comment(page_id, "557058:ada", "Written on the page")
    hub = client.hub  # type: ignore[attr-defined]
    assert await sync_document_comments(hub) == 1
    await drain(dispatcher, clock)
    assert await deliveries(client, DOCUMENT_COMMENT) == []
    assert len(confluence.comments) == 1


async def test_a_comment_the_outbox_posted_is_recognised_by_its_id_alone(
        client: AsyncTestClient[Any], confluence: FakeConfluence, pagerduty: FakePagerDuty,
        dispatcher: Dispatcher, clock: FakeClock, incident: str) -> None:
    await published_page(client, confluence, dispatcher, clock, incident)
    await client.post(f"/api/v1/incidents/{incident}/comments", json={"body": "From the hub"})
    await drain(dispatcher, clock)
    [carried] = confluence.comments_with("From the hub")
    carried.storage = "<p>From the hub (someone removed the marker line)</p>"
    assert await sync_document_comments(client.hub) == 0  # type: ignore[attr-defined]


async def test_a_rate_limited_sync_waits_and_loses_nothing(
        client: AsyncTestClient[Any], confluence: FakeConfluence, pagerduty: FakePagerDuty,
        dispatcher: Dispatcher, clock: FakeClock, incident: str) -> None:
    page_id = await published_page(client, confluence, dispatcher, clock, incident)
    confluence.add_comment(page_id, "557058:ada", "Still there after the 429")
    confluence.fail("getPageFooterComments", answer(429, {"Retry-After": "7"}))
    hub = client.hub  # type: ignore[attr-defined]
    bucket = hub.dispatcher.pacer.bucket("confluence", hub.connectors["confluence"].account,
                                         hub.connectors["confluence"].rate_limit_per_minute)
    assert await sync_document_comments(hub) == 0
    assert bucket.paused_until >= bucket.clock() + 6
    bucket.paused_until = 0.0  # the next tick comes after the wait
    assert await sync_document_comments(hub) == 1
    assert [c["body"] for c in await thread(client, incident)] == ["Still there after the 429"]
