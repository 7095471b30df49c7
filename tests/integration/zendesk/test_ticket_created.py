"""A new ticket gets one internal note with the requester's replays, a snapshot, a tag."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from litestar.testing import AsyncTestClient

from replayhub.outbox.dispatcher import Dispatcher
from tests.integration.zendesk.conftest import (
    FIELD_ID,
    PNG,
    FakeClock,
    Snapshots,
    alan_opens_ticket,
    deliveries,
    drain,
    fixture,
    ingest_as,
    post_webhook,
)
from tests.integration.zendesk.fake import FakeZendesk


async def test_ticket_event_gets_one_note_with_replays_snapshot_tag_and_field(
        client: AsyncTestClient[Any], fake: FakeZendesk, shop: str, dispatcher: Dispatcher,
        clock: FakeClock) -> None:
    sessions = await alan_opens_ticket(client, fake, shop)
    await drain(dispatcher, clock)

    ticket = fake.tickets[4242]
    notes = [c for c in ticket.comments if not c["public"]]
    assert len(notes) == 1
    note = notes[0]
    html = note["html_body"]
    assert "https://hub.example.test/share/" in html
    assert "Errors:" in html and "replayhub-delivery:dlv_" in html
    assert len(note["attachments"]) == 1 and list(fake.uploads.values()) == [PNG]
    assert ticket.tags == ["replay_attached"]
    assert ticket.custom_fields[FIELD_ID].startswith("https://hub.example.test/share/")
    [delivery] = await deliveries(client)
    assert delivery.status == "sent" and delivery.external_id == str(note["id"])
    assert delivery.session_id == sessions["broken"], "the session with errors ranks first"


async def test_replay_link_in_the_note_opens_the_player(
        client: AsyncTestClient[Any], fake: FakeZendesk, shop: str, dispatcher: Dispatcher,
        clock: FakeClock) -> None:
    await alan_opens_ticket(client, fake, shop)
    await drain(dispatcher, clock)
    url = fake.tickets[4242].custom_fields[FIELD_ID]
    response = await client.get(urlparse(url).path, headers={"Authorization": ""})
    assert response.status_code == 200


async def test_trigger_webhook_matches_the_requester_by_email(
        client: AsyncTestClient[Any], fake: FakeZendesk, shop: str, dispatcher: Dispatcher,
        clock: FakeClock) -> None:
    await ingest_as(client, shop, "broken", email="alan@example.com", user_id="u-9")
    fake.add_user(5001, "Alan Turing")
    fake.add_ticket(4242, 5001)
    response = await post_webhook(client, fixture("trigger_ticket_created.json",
                                                  requester_external_id=""))
    assert response.status_code == 200
    await drain(dispatcher, clock)
    assert len(fake.tickets[4242].notes_with("replayhub-delivery:")) == 1
    assert "ShowUser" not in fake.calls, "the trigger carries the email: no lookup"


async def test_trigger_webhook_matches_the_requester_by_external_id(
        client: AsyncTestClient[Any], fake: FakeZendesk, shop: str, dispatcher: Dispatcher,
        clock: FakeClock) -> None:
    await ingest_as(client, shop, "broken", email="other@example.com", user_id="user-alan")
    fake.add_user(5001, "Alan Turing")
    fake.add_ticket(4242, 5001)
    response = await post_webhook(client, fixture("trigger_ticket_created.json",
                                                  requester_email=""))
    assert response.status_code == 200
    await drain(dispatcher, clock)
    assert len(fake.tickets[4242].notes_with("replayhub-delivery:")) == 1


async def test_no_recent_session_means_no_note(
        client: AsyncTestClient[Any], fake: FakeZendesk, shop: str, dispatcher: Dispatcher,
        clock: FakeClock) -> None:
    await ingest_as(client, shop, "broken", email="alan@example.com", user_id="user-alan",
                    hours_ago=30)
    fake.add_user(5001, "Alan Turing", "alan@example.com", "user-alan")
    fake.add_ticket(4242, 5001)
    response = await post_webhook(client, fixture("ticket_created_event.json"))
    assert response.status_code == 200
    await drain(dispatcher, clock)
    assert await deliveries(client) == []
    assert [c for c in fake.tickets[4242].comments if not c["public"]] == []


async def test_note_goes_out_without_a_picture_when_snapshots_are_unavailable(
        client: AsyncTestClient[Any], fake: FakeZendesk, shop: str, dispatcher: Dispatcher,
        clock: FakeClock, snapshots: Snapshots) -> None:
    snapshots.available = False
    await alan_opens_ticket(client, fake, shop)
    await drain(dispatcher, clock)
    [note] = fake.tickets[4242].notes_with("replayhub-delivery:")
    assert note["attachments"] == [] and "UploadFiles" not in fake.calls
    assert fake.tickets[4242].tags == ["replay_attached"]


async def test_note_snapshot_is_none_when_the_renderer_fails(
        client: AsyncTestClient[Any], shop: str, monkeypatch: Any) -> None:
    from replayhub.replay import moments
    from replayhub.replay.snapshot import SnapshotUnavailable
    from replayhub.ticket_notes import note_snapshot

    session_id = await ingest_as(client, shop, "broken", email="a@example.com", user_id="a")

    async def no_chromium(*_: Any) -> bytes:
        raise SnapshotUnavailable("chromium is not installed")

    monkeypatch.setattr(moments, "snapshot_png", no_chromium)
    assert await note_snapshot(client.hub, session_id, 0) is None  # type: ignore[attr-defined]

    async def picture(*_: Any) -> bytes:
        return PNG

    monkeypatch.setattr(moments, "snapshot_png", picture)
    assert await note_snapshot(client.hub, session_id, 0) == PNG  # type: ignore[attr-defined]
