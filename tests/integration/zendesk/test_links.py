"""An agent attaches a session to a ticket by hand."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from replayhub.outbox.dispatcher import Dispatcher
from replayhub.replay.share import read_share_token
from replayhub.security import create_token
from tests.conftest import ADMIN
from tests.integration.zendesk.conftest import FIELD_ID, FakeClock, drain, ingest_as
from tests.integration.zendesk.fake import FakeZendesk


async def test_link_posts_a_note_opening_at_t(
        client: AsyncTestClient[Any], fake: FakeZendesk, shop: str, dispatcher: Dispatcher,
        clock: FakeClock) -> None:
    session_id = await ingest_as(client, shop, "rage", email="kj@example.com", user_id="kj")
    fake.add_user(5002, "Katherine Johnson")
    fake.add_ticket(77, 5002)
    response = await client.post(f"/api/v1/sessions/{session_id}/links",
                                  json={"target": "zendesk", "ticket_id": "77", "t": 1500})
    assert response.status_code == 202, response.text
    delivery_id = response.json()["delivery_id"]
    await drain(dispatcher, clock)
    [note] = fake.tickets[77].notes_with(f"replayhub-delivery:{delivery_id}")
    assert "Frustration:" in note["html_body"]
    token = fake.tickets[77].custom_fields[FIELD_ID].rsplit("/", 1)[1]
    share = read_share_token(client.hub.secret_key, token)  # type: ignore[attr-defined]
    assert (share.session_id, share.t) == (session_id, 1500)
    again = await client.post(f"/api/v1/sessions/{session_id}/links",
                              json={"target": "zendesk", "ticket_id": "77", "t": 1500})
    assert again.json()["delivery_id"] == delivery_id


async def test_link_refusals(client: AsyncTestClient[Any], fake: FakeZendesk,
                             shop: str) -> None:
    session_id = await ingest_as(client, shop, "rage", email="kj@example.com", user_id="kj")
    url = f"/api/v1/sessions/{session_id}/links"
    unknown = await client.post(url, json={"target": "jira", "ticket_id": "1"})
    assert unknown.status_code == 404
    bad = await client.post(url, json={"target": "zendesk", "ticket_id": "../1"})
    assert bad.status_code == 400
    missing = await client.post("/api/v1/sessions/nope/links",
                                json={"target": "zendesk", "ticket_id": "1"})
    assert missing.status_code == 404
    viewer = await create_token(client.hub.db, "viewer", "viewer")  # type: ignore[attr-defined]
    denied = await client.post(url, json={"target": "zendesk", "ticket_id": "1"},
                               headers={"Authorization": f"Bearer {viewer}"})
    assert denied.status_code == 403
    assert fake.calls == []


async def test_deliveries_page_lists_failures_for_a_signed_in_person(
        client: AsyncTestClient[Any], fake: FakeZendesk, shop: str, dispatcher: Dispatcher,
        clock: FakeClock) -> None:
    session_id = await ingest_as(client, shop, "rage", email="kj@example.com", user_id="kj")
    await client.post(f"/api/v1/sessions/{session_id}/links",
                      json={"target": "zendesk", "ticket_id": "404404"})
    await drain(dispatcher, clock)
    anonymous = await client.get("/deliveries", headers={"Authorization": ""},
                                 follow_redirects=False)
    assert anonymous.status_code == 303
    login = await client.post("/login", data={"token": ADMIN, "next": "/deliveries"},
                              headers={"Authorization": ""}, follow_redirects=False)
    assert login.status_code == 303
    client.cookies.set("replayhub_session", login.cookies["replayhub_session"])
    page = await client.get("/deliveries?status=failed", headers={"Authorization": ""})
    assert page.status_code == 200
    assert "ticket 404404" in page.text and "404" in page.text and "Retry" in page.text
