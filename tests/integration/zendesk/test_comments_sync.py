"""Comments flow both ways between a session and its Zendesk ticket, without echoes."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from replayhub.outbox.dispatcher import Dispatcher
from tests.integration.zendesk.conftest import (
    FakeClock,
    alan_opens_ticket,
    drain,
    fixture,
    post_webhook,
)
from tests.integration.zendesk.fake import FakeZendesk


async def comments(client: AsyncTestClient[Any], session_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/sessions/{session_id}/comments")
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


def comment_event(number: int) -> dict[str, Any]:
    return fixture("comment_added_event.json", id=f"evt-comment-{number}")


async def test_ticket_comments_appear_on_the_session_in_order_without_the_hubs_note(
        client: AsyncTestClient[Any], fake: FakeZendesk, shop: str, dispatcher: Dispatcher,
        clock: FakeClock) -> None:
    sessions = await alan_opens_ticket(client, fake, shop)
    await drain(dispatcher, clock)
    fake.add_user(7, "Agent Smith")
    fake.add_comment(4242, 7, "Could you try again?", public=True)
    fake.add_comment(4242, 5001, "It still fails")
    assert (await post_webhook(client, comment_event(1))).status_code == 200

    items = await comments(client, sessions["broken"])
    assert [(c["author"], c["body"]) for c in items] == [
        ("Alan Turing", "My checkout is broken"), ("Agent Smith", "Could you try again?"),
        ("Alan Turing", "It still fails")]
    assert all(c["source"] == "zendesk" and c["ticket_id"] == "4242" for c in items)
    assert [c["body"] for c in await comments(client, sessions["calm"])] == [
        c["body"] for c in items]


async def test_redelivered_and_repeated_events_import_nothing_twice(
        client: AsyncTestClient[Any], fake: FakeZendesk, shop: str, dispatcher: Dispatcher,
        clock: FakeClock) -> None:
    sessions = await alan_opens_ticket(client, fake, shop)
    await drain(dispatcher, clock)
    fake.add_comment(4242, 5001, "It still fails")
    await post_webhook(client, comment_event(1))
    again = await post_webhook(client, comment_event(1))
    assert again.json() == {"status": "duplicate"}
    fake.add_comment(4242, 5001, "Now it works")
    await post_webhook(client, comment_event(2))
    assert [c["body"] for c in await comments(client, sessions["broken"])] == [
        "My checkout is broken", "It still fails", "Now it works"]


async def test_hub_comment_becomes_one_internal_note_and_never_comes_back(
        client: AsyncTestClient[Any], fake: FakeZendesk, shop: str, dispatcher: Dispatcher,
        clock: FakeClock) -> None:
    sessions = await alan_opens_ticket(client, fake, shop)
    await drain(dispatcher, clock)
    response = await client.post(f"/api/v1/sessions/{sessions['broken']}/comments",
                                 json={"body": "The coupon field throws on submit"})
    assert response.status_code == 201, response.text
    assert response.json()["source"] == "hub"
    await drain(dispatcher, clock)
    carried = fake.tickets[4242].notes_with("The coupon field throws on submit")
    assert len(carried) == 1 and carried[0]["public"] is False

    await post_webhook(client, comment_event(1))
    bodies = [c["body"] for c in await comments(client, sessions["broken"])]
    assert bodies.count("The coupon field throws on submit") == 1
    assert not any("replayhub-delivery" in body for body in bodies)
    assert len(fake.tickets[4242].notes_with("The coupon field throws on submit")) == 1


async def test_imported_comments_never_go_back_out(
        client: AsyncTestClient[Any], fake: FakeZendesk, shop: str, dispatcher: Dispatcher,
        clock: FakeClock) -> None:
    await alan_opens_ticket(client, fake, shop)
    await drain(dispatcher, clock)
    fake.add_comment(4242, 5001, "It still fails")
    await post_webhook(client, comment_event(1))
    calls = len(fake.calls)
    await drain(dispatcher, clock)
    assert fake.calls[calls:] == []
    assert len(fake.tickets[4242].notes_with("replayhub-delivery:")) == 1
