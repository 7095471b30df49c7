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


def basic_password(headers: Mapping[str, str]) -> str | None:
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2]


def verify(token: str, headers: Mapping[str, str], query: Mapping[str, str]) -> None:
    """The token as `?token=` or as the basic-auth password, compared in constant time."""
    given = query.get("token") or basic_password(headers)
    if not given:
        raise WebhookRejected(401, "missing token (?token= or basic auth)")
    if not token or not same(token, given):
        raise WebhookRejected(401, "the token does not match")


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
