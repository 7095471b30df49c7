"""Inbound PagerDuty webhooks v3: the `X-PagerDuty-Signature` check and incident events."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from replayhub.connector import IncidentUpdate, WebhookRejected, json_object
from replayhub.inbox.signatures import same
from replayhub.inbox.times import epoch_ms

SIGNATURE = "x-pagerduty-signature"
STATUSES = {"incident.triggered": "triggered", "incident.acknowledged": "acknowledged",
            "incident.resolved": "resolved", "incident.reopened": "triggered",
            "incident.unacknowledged": "triggered"}
"""The event types the hub records; any other is answered 200 and ignored. A reopened or
unacknowledged incident is open and unanswered again, as after it was triggered."""
MAX_EVENT_AGE_HOURS = 50
"""PagerDuty signs no timestamp, so the event's own `occurred_at` bounds a replay. PagerDuty
retries a failed delivery for up to 48 hours (and queues the incident's later events behind
it), so anything younger than that is a delivery it may legitimately still make; 2 hours more
cover clock skew and that queue. A tighter window would answer a late retry 4xx, which
PagerDuty counts as a dropped webhook (three in a row disable the subscription for a day)."""


def pagerduty_signature(secret: str, body: bytes) -> str:
    """`v1=` + hex HMAC-SHA256 of the raw body, as PagerDuty signs a v3 webhook."""
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secrets: list[str], headers: Mapping[str, str], body: bytes) -> None:
    """Accept when any signature in the header matches any of our secrets.

    PagerDuty sends one `v1=` signature per secret of the subscription, comma-separated, so a
    rotation keeps working. It sends no timestamp header: redeliveries are recognised by the
    event id (the inbox stores each once) and old events by `check_event_age`.
    """
    header = headers.get(SIGNATURE)
    if not header:
        raise WebhookRejected(401, f"missing {SIGNATURE} header")
    given = [part.strip() for part in header.split(",") if part.strip().startswith("v1=")]
    expected = [pagerduty_signature(secret, body) for secret in secrets if secret]
    if not any(same(mine, theirs) for mine in expected for theirs in given):
        raise WebhookRejected(401, "the signature does not match the body")


def check_event_age(body: bytes, now: float,
                    max_age_hours: float = MAX_EVENT_AGE_HOURS) -> None:
    """Refuse (401) a recorded event type whose `event.occurred_at` is older than the window.

    Called after the signature check, so the time read is the one PagerDuty signed. Bodies
    the hub ignores or cannot read are left to `parse` (200 ignored, 400 malformed).
    """
    try:
        event = json_object(body).get("event")
    except WebhookRejected:
        return
    if not isinstance(event, dict) or str(event.get("event_type", "")) not in STATUSES:
        return
    occurred = epoch_ms(event.get("occurred_at"), "event.occurred_at")
    if occurred is not None and occurred < (now - max_age_hours * 3600) * 1000:
        raise WebhookRejected(401, f"the event occurred more than {max_age_hours:g} hours "
                                   "ago (event.occurred_at): too old (replayed?)")


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WebhookRejected(400, f"the body has no {what} object")
    return value


def parse(body: bytes) -> IncidentUpdate | None:
    data = json_object(body)
    event = _object(data.get("event"), "`event`")
    status = STATUSES.get(str(event.get("event_type", "")))
    if status is None:
        return None
    incident = _object(event.get("data"), "`event.data`")
    if not event.get("id") or not incident.get("id"):
        raise WebhookRejected(400, "a PagerDuty event needs `event.id` and `event.data.id`")
    occurred = epoch_ms(event.get("occurred_at"), "event.occurred_at")
    if occurred is None:
        raise WebhookRejected(400, "a PagerDuty event needs `event.occurred_at`")
    service = incident.get("service") if isinstance(incident.get("service"), dict) else {}
    services = [str(service[key]) for key in ("summary", "id") if service.get(key)]
    return IncidentUpdate(
        event_key=f"event:{event['id']}"[:200], external_id=str(incident["id"]), status=status,
        occurred_at=occurred, title=str(incident.get("title") or ""), services=services,
        started_at=epoch_ms(incident.get("created_at"), "event.data.created_at"),
        resolved_at=occurred if status == "resolved" else None,
        url=str(incident.get("html_url") or ""))
