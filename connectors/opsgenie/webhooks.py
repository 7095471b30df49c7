"""Inbound Opsgenie webhooks: the shared token, and alert actions as incident updates."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from typing import Any

from replayhub.connector import IncidentUpdate, WebhookRejected, json_object
from replayhub.inbox.signatures import same
from replayhub.inbox.times import epoch_ms

STATUSES = {"Create": "triggered", "Acknowledge": "acknowledged", "Close": "resolved"}
"""Alert actions the hub records; any other (AddNote, Escalate...) is answered 200, ignored."""
TOKEN_HEADER = "x-replayhub-token"
"""A custom header the Opsgenie webhook integration can send (its "Headers" setting)."""
MAX_EVENT_AGE_HOURS = 24
"""Opsgenie signs nothing and documents no long retry schedule: an alert action is sent
within seconds, so a day covers outages and clock skew while refusing an old body sent
again (the alert's own `updatedAt`, else `createdAt`, is the time looked at)."""


def basic_password(headers: Mapping[str, str]) -> str | None:
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2]


def verify(token: str, headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
    """The token as the basic-auth password, an `X-ReplayHub-Token` header, or `?token=`,
    compared in constant time; True when it came in the URL (a form to move away from: URLs
    end up in the access logs of proxies in front of the hub)."""
    given = basic_password(headers) or headers.get(TOKEN_HEADER) or query.get("token")
    if not given:
        raise WebhookRejected(401, f"missing token (basic auth, {TOKEN_HEADER} or ?token=)")
    if not token or not same(token, given):
        raise WebhookRejected(401, "the token does not match")
    return bool(query.get("token")) and given == query.get("token")


def check_event_age(body: bytes, now: float,
                    max_age_hours: float = MAX_EVENT_AGE_HOURS) -> None:
    """Refuse (401) a recorded alert action whose `updatedAt` (else `createdAt`) is older than
    the window; bodies the hub ignores or cannot read are left to `parse`."""
    try:
        data = json_object(body)
    except WebhookRejected:
        return
    alert = data.get("alert")
    if not isinstance(alert, dict) or str(data.get("action", "")) not in STATUSES:
        return
    at = (epoch_ms(alert.get("updatedAt"), "alert.updatedAt")
          or epoch_ms(alert.get("createdAt"), "alert.createdAt"))
    if at is not None and at < (now - max_age_hours * 3600) * 1000:
        raise WebhookRejected(401, f"the alert was last updated more than {max_age_hours:g} "
                                   "hours ago (alert.updatedAt): too old (replayed?)")


def parse(body: bytes, now_ms: int) -> IncidentUpdate | None:
    data = json_object(body)
    if not isinstance(data.get("alert"), dict):
        raise WebhookRejected(400, "the body has no `alert` object")
    status = STATUSES.get(str(data.get("action", "")))
    if status is None:
        return None
    alert: dict[str, Any] = data["alert"]
    if not alert.get("alertId"):
        raise WebhookRejected(400, "the alert has no `alertId`")
    created = epoch_ms(alert.get("createdAt"), "alert.createdAt")
    occurred = epoch_ms(alert.get("updatedAt"), "alert.updatedAt") or created or now_ms
    services = [alert.get("entity"), *(alert.get("tags") or []), data.get("integrationName")]
    return IncidentUpdate(
        event_key=f"body:{hashlib.sha256(body).hexdigest()}", external_id=str(alert["alertId"]),
        status=status, occurred_at=occurred if status != "triggered" else created or occurred,
        title=str(alert.get("message") or ""),
        services=[str(s) for s in dict.fromkeys(services) if s], started_at=created,
        resolved_at=occurred if status == "resolved" else None)
