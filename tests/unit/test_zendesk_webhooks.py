"""Zendesk webhook signatures and bodies (the helpers the inbox and these tests share)."""

from __future__ import annotations

import json

import pytest

from connectors.zendesk.webhooks import SIGNATURE, TIMESTAMP, parse, verify, zendesk_signature
from replayhub.connector import CommentAdded, TicketCreated, WebhookRejected

SECRET = "dGhpc19zZWNyZXQ="
NOW = 1_790_000_000.0
STAMP = "2026-09-21T14:13:20Z"


def headers(body: bytes, stamp: str = STAMP, secret: str = SECRET) -> dict[str, str]:
    return {SIGNATURE: zendesk_signature(secret, stamp, body), TIMESTAMP: stamp}


def test_a_signed_body_verifies() -> None:
    body = b'{"ticket_id": "1"}'
    verify(SECRET, headers(body), body, NOW)


@pytest.mark.parametrize("change", ["body", "secret", "stamp"])
def test_any_change_breaks_the_signature(change: str) -> None:
    body = b'{"ticket_id": "1"}'
    signed = headers(body, secret="other" if change == "secret" else SECRET)
    if change == "stamp":
        signed[TIMESTAMP] = "2026-09-21T14:13:21Z"
    sent = body + b" " if change == "body" else body
    with pytest.raises(WebhookRejected) as caught:
        verify(SECRET, signed, sent, NOW)
    assert caught.value.status == 401


def test_old_and_future_timestamps_are_refused() -> None:
    body = b"{}"
    for skew in (-301, 301):
        with pytest.raises(WebhookRejected, match="timestamp"):
            verify(SECRET, headers(body), body, NOW - skew)
    verify(SECRET, headers(body), body, NOW + 299)


def test_native_events_and_trigger_bodies_parse() -> None:
    created = parse(json.dumps({"type": "zen:event-type:ticket.created", "id": "e-1",
                                "detail": {"id": "42", "requester_id": "7"}}).encode())
    assert created == TicketCreated("event:e-1", "42", requester_id="7")
    comment = parse(json.dumps({"type": "zen:event-type:ticket.comment_added", "id": "e-2",
                                "detail": {"id": "42"}}).encode())
    assert comment == CommentAdded("event:e-2", "42")
    trigger = parse(b'{"ticket_id": "42", "requester_email": "a@b.c"}')
    assert isinstance(trigger, TicketCreated) and trigger.requester_email == "a@b.c"
    assert trigger.event_key.startswith("body:")
    assert parse(b'{"event": "comment_added", "ticket_id": "42"}') == CommentAdded(
        trigger_key(b'{"event": "comment_added", "ticket_id": "42"}'), "42")


def trigger_key(body: bytes) -> str:
    import hashlib

    return f"body:{hashlib.sha256(body).hexdigest()}"


def test_placeholders_left_unrendered_are_malformed() -> None:
    with pytest.raises(WebhookRejected) as caught:
        parse(b'{"ticket_id": "{{ticket.id}}"}')
    assert caught.value.status == 400
