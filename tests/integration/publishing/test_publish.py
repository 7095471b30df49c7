"""Publishing a post-mortem to Confluence: one page updated in place, pictures as attachments,
no second page after a timeout, one PagerDuty note with the link, Retry-After honoured."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from replayhub.outbox.dispatcher import Dispatcher
from replayhub.publishing import DOCUMENT_MARKER, INCIDENT_NOTE, PUBLISH_DOCUMENT
from tests.integration.publishing.conftest import (
    CONFLUENCE_TOKEN,
    PD_INCIDENT,
    deliveries,
    drain,
    publish,
)
from tests.integration.publishing.fake import (
    SITE,
    FakeConfluence,
    FakePagerDuty,
    answer,
    parse_storage,
    timeout_after_sending,
)
from tests.integration.zendesk.conftest import FakeClock, Snapshots

AC = "{http://atlassian.com/content}"
RI = "{http://atlassian.com/resource/identifier}"


async def publications(client: AsyncTestClient[Any], incident: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/incidents/{incident}/publications")
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


async def test_publishing_twice_updates_one_page_with_its_pictures(
        client: AsyncTestClient[Any], confluence: FakeConfluence, pagerduty: FakePagerDuty,
        dispatcher: Dispatcher, clock: FakeClock, incident: str) -> None:
    answer_ = await publish(client, incident)
    assert [(d["connector"], d["action"]) for d in answer_["deliveries"]] == [
        ("confluence", PUBLISH_DOCUMENT)]
    await drain(dispatcher, clock)
    [page] = confluence.pages.values()
    assert page.title == f"Post-mortem: Checkout broken ({incident})"
    assert page.version == 1 and page.parent_id == "65537"
    root = parse_storage(page.storage)
    assert [h.text for h in root.iter("h2")][:3] == ["Summary", "Impact", "Timeline"]
    images = [i.find(f"{RI}attachment").get(f"{RI}filename") for i in root.iter(f"{AC}image")]
    assert images == [f"{incident}-chart.png", f"{incident}-replay-1.png",
                      f"{incident}-replay-2.png"]
    assert set(confluence.attachments[page.id]) == set(images)
    assert confluence.attachments[page.id][images[0]][0].startswith(b"\x89PNG")
    assert f"{DOCUMENT_MARKER}postmortem:{incident}" in page.storage
    assert "<svg" not in page.storage and "<section" not in page.storage

    [item] = await publications(client, incident)
    assert (item["connector"], item["external_id"], item["version"]) == (
        "confluence", page.id, "1")
    assert item["url"] == f"{SITE}/wiki/spaces/ENG/pages/{page.id}/{page.title.replace(' ', '+')}"

    await publish(client, incident)
    await drain(dispatcher, clock)
    assert list(confluence.pages) == [page.id]
    assert page.version == 2 and len(page.versions) == 2
    assert [len(v) for v in confluence.attachments[page.id].values()] == [2, 2, 2]
    [item] = await publications(client, incident)
    assert item["version"] == "2"
    assert confluence.calls.count("createPage") == 1
    assert confluence.calls.count("updatePage") == 1


async def test_a_timeout_after_the_page_was_made_makes_no_second_page(
        client: AsyncTestClient[Any], confluence: FakeConfluence, pagerduty: FakePagerDuty,
        dispatcher: Dispatcher, clock: FakeClock, incident: str) -> None:
    confluence.fail("createPage", timeout_after_sending(confluence))
    await publish(client, incident)
    await drain(dispatcher, clock)
    assert len(confluence.pages) == 1
    [page] = confluence.pages.values()
    assert confluence.calls.count("createPage") == 1
    assert confluence.calls.count("getPages") == 2  # before the first try, and after it
    [delivery] = await deliveries(client, PUBLISH_DOCUMENT)
    assert (delivery.status, delivery.attempts, delivery.external_id) == ("sent", 2, page.id)
    assert set(confluence.attachments[page.id]) >= {f"{incident}-chart.png"}
    [item] = await publications(client, incident)
    assert item["external_id"] == page.id


async def test_the_pagerduty_incident_gets_one_note_with_the_link(
        client: AsyncTestClient[Any], confluence: FakeConfluence, pagerduty: FakePagerDuty,
        dispatcher: Dispatcher, clock: FakeClock, incident: str) -> None:
    pagerduty.fail("createIncidentNote", timeout_after_sending(pagerduty))
    await publish(client, incident)
    await drain(dispatcher, clock)
    await publish(client, incident)
    await drain(dispatcher, clock)
    assert len(confluence.pages) == 1
    [note] = pagerduty.notes[PD_INCIDENT]
    [item] = await publications(client, incident)
    assert item["url"] in note["content"]
    assert "The post-mortem is published on Confluence Cloud" in note["content"]
    assert "<" not in note["content"]
    assert pagerduty.calls.count("createIncidentNote") == 1
    assert pagerduty.calls.count("listIncidentNotes") == 1  # looked before posting again
    [delivery] = await deliveries(client, INCIDENT_NOTE)
    assert (delivery.status, delivery.external_id) == ("sent", note["id"])


async def test_retry_after_is_honoured(
        client: AsyncTestClient[Any], confluence: FakeConfluence, pagerduty: FakePagerDuty,
        dispatcher: Dispatcher, clock: FakeClock, incident: str) -> None:
    confluence.fail("createPage", answer(429, {"Retry-After": "30"}))
    await publish(client, incident)
    started = clock.now
    await dispatcher.run_until_idle()
    [delivery] = await deliveries(client, PUBLISH_DOCUMENT)
    assert delivery.status == "pending" and delivery.last_error
    assert "429" in delivery.last_error and CONFLUENCE_TOKEN not in delivery.last_error
    assert delivery.next_attempt_at == int(started * 1000) + 30_000
    clock.advance(29)
    assert await dispatcher.run_until_idle() == 0
    assert not confluence.pages
    clock.advance(2)
    await dispatcher.run_until_idle()
    assert len(confluence.pages) == 1
    assert confluence.calls.count("createPage") == 2


async def test_a_snapshot_that_cannot_be_rendered_leaves_no_broken_picture(
        client: AsyncTestClient[Any], confluence: FakeConfluence, pagerduty: FakePagerDuty,
        dispatcher: Dispatcher, clock: FakeClock, snapshots: Snapshots, incident: str) -> None:
    snapshots.available = False
    await publish(client, incident)
    await drain(dispatcher, clock)
    [page] = confluence.pages.values()
    images = [i.find(f"{RI}attachment").get(f"{RI}filename")
              for i in parse_storage(page.storage).iter(f"{AC}image")]
    assert images == [f"{incident}-chart.png"]
    assert list(confluence.attachments[page.id]) == images


async def test_refusals(client: AsyncTestClient[Any], confluence: FakeConfluence,
                        incident: str) -> None:
    missing = await client.post("/api/v1/incidents/inc_nope/publish", json={})
    assert missing.status_code == 404
    bad = await client.post(f"/api/v1/incidents/{incident}/publish",
                            json={"targets": ["pagerduty"]})
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert "confluence" in bad.json()["detail"]
    unknown = await client.post(f"/api/v1/incidents/{incident}/publish", json={"to": []})
    assert unknown.status_code == 400
    assert await deliveries(client) == []
    anonymous = await client.post(f"/api/v1/incidents/{incident}/publish", json={},
                                  headers={"Authorization": ""})
    assert anonymous.status_code == 401


async def test_publishing_by_default_goes_to_every_connector_that_publishes(
        client: AsyncTestClient[Any], confluence: FakeConfluence, incident: str) -> None:
    response = await client.post(f"/api/v1/incidents/{incident}/publish")
    assert response.status_code == 202, response.text
    assert [d["connector"] for d in response.json()["deliveries"]] == ["confluence"]


async def test_the_page_carries_the_sections_edited_in_the_notebook(
        client: AsyncTestClient[Any], confluence: FakeConfluence, pagerduty: FakePagerDuty,
        dispatcher: Dispatcher, clock: FakeClock, incident: str) -> None:
    edit = await client.put(f"/api/v1/incidents/{incident}/postmortem/sections/root_cause",
                            json={"body": "The cart cache **expired** early & nobody saw it.",
                                  "version": 0})
    assert edit.status_code == 200, edit.text
    await publish(client, incident)
    await drain(dispatcher, clock)
    [page] = confluence.pages.values()
    root = parse_storage(page.storage)
    cause = [p for p in root.iter("p") if "cart cache" in "".join(p.itertext())]
    assert "".join(cause[0].itertext()) == "The cart cache expired early & nobody saw it."
    assert cause[0].find("strong").text == "expired"
