"""Inbound Zendesk webhooks: the signature, and the two kinds of body (event and trigger)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from replayhub.connector import (
    CommentAdded,
    TicketCreated,
    WebhookEvent,
    WebhookRejected,
    json_object,
)
from replayhub.inbox.signatures import check_fresh, hmac_sha256_base64, same

SIGNATURE = "x-zendesk-webhook-signature"
TIMESTAMP = "x-zendesk-webhook-signature-timestamp"
TICKET_CREATED = "zen:event-type:ticket.created"
COMMENT_ADDED = "zen:event-type:ticket.comment_added"
TRIGGER_EVENTS = {"ticket_created": "created", "ticket.created": "created",
                  "comment_added": "comment", "ticket.comment_added": "comment"}


def zendesk_signature(secret: str, timestamp: str, body: bytes) -> str:
    """base64(HMAC-SHA256(secret, timestamp + body)), as Zendesk signs a webhook."""
    return hmac_sha256_base64(secret, timestamp.encode() + body)


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: float) -> None:
    signature, timestamp = headers.get(SIGNATURE), headers.get(TIMESTAMP)
    if not signature or not timestamp:
        raise WebhookRejected(401, f"missing {SIGNATURE} or {TIMESTAMP} header")
    if not same(zendesk_signature(secret, timestamp, body), signature):
        raise WebhookRejected(401, "the signature does not match the body")
    check_fresh(timestamp, now)


def _ticket_id(value: Any) -> str:
    text = str(value if value is not None else "").strip()
    if not text.isdigit():
        raise WebhookRejected(400, "the body has no numeric ticket id")
    return text


def _text(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def parse(body: bytes) -> WebhookEvent | None:
    """A native event webhook (`type`, `detail`) or our trigger JSON (`ticket_id`)."""
    data = json_object(body)
    if "type" in data:
        return _parse_event(data)
    if "ticket_id" in data:
        return _parse_trigger(data, body)
    raise WebhookRejected(400, "the body is neither a Zendesk event nor the trigger JSON")


def _parse_event(data: dict[str, Any]) -> WebhookEvent | None:
    detail = data.get("detail")
    if not isinstance(detail, dict) or not data.get("id"):
        raise WebhookRejected(400, "a Zendesk event needs `id` and a `detail` object")
    key = f"event:{data['id']}"[:200]
    if data["type"] == TICKET_CREATED:
        return TicketCreated(key, _ticket_id(detail.get("id")),
                             requester_id=_text(detail.get("requester_id")))
    if data["type"] == COMMENT_ADDED:
        return CommentAdded(key, _ticket_id(detail.get("id")))
    return None


def _parse_trigger(data: dict[str, Any], body: bytes) -> WebhookEvent | None:
    key = f"body:{hashlib.sha256(body).hexdigest()}"
    kind = TRIGGER_EVENTS.get(str(data.get("event", "ticket_created")))
    ticket_id = _ticket_id(data.get("ticket_id"))
    if kind == "comment":
        return CommentAdded(key, ticket_id)
    if kind == "created":
        return TicketCreated(key, ticket_id, requester_id=_text(data.get("requester_id")),
                             requester_email=_text(data.get("requester_email")),
                             requester_external_id=_text(data.get("requester_external_id")))
    return None
