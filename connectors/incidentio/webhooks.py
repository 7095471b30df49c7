"""Inbound incident.io webhooks: the Svix-style signature and the public incident events.

Headers: `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`, a
space-separated list of `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed with the
base64 part of the secret after `whsec_`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from replayhub.connector import IncidentUpdate, WebhookRejected, json_object
from replayhub.inbox.signatures import check_fresh, same
from replayhub.inbox.times import epoch_ms

ID, TIMESTAMP, SIGNATURE = "webhook-id", "webhook-timestamp", "webhook-signature"
INCIDENT_EVENTS = ("public_incident.incident_created_v2", "public_incident.incident_updated_v2",
                   "public_incident.incident_status_updated_v2")
"""Events carrying the whole incident; private incidents' events carry only an id: ignored."""
STATUS_OF_CATEGORY = {"triage": "triggered", "live": "acknowledged", "paused": "acknowledged",
                      "learning": "resolved", "closed": "resolved", "declined": "resolved",
                      "merged": "resolved", "canceled": "resolved"}
STARTED = ("impact started", "reported at", "reported")
RESOLVED = ("resolved at", "resolved", "impact ended", "fixed at")


def signing_key(secret: str) -> bytes:
    try:
        return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        return secret.encode()


def svix_signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """`v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`."""
    message = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(signing_key(secret), message, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: float) -> None:
    msg_id, timestamp, header = headers.get(ID), headers.get(TIMESTAMP), headers.get(SIGNATURE)
    if not msg_id or not timestamp or not header:
        raise WebhookRejected(401, f"missing {ID}, {TIMESTAMP} or {SIGNATURE} header")
    if not timestamp.strip().isdigit():
        raise WebhookRejected(401, f"{TIMESTAMP} is not Unix seconds")
    expected = svix_signature(secret, msg_id, timestamp, body)
    if not any(same(expected, given) for given in header.split()):
        raise WebhookRejected(401, "the signature does not match the body")
    check_fresh(timestamp, now)


def _named_time(incident: dict[str, Any], names: tuple[str, ...]) -> int | None:
    for entry in incident.get("incident_timestamp_values") or []:
        name = str((entry.get("incident_timestamp") or {}).get("name", "")).lower()
        value = (entry.get("value") or {}).get("value")
        if name in names and value:
            return epoch_ms(value, f"incident timestamp {name!r}")
    return None


def _services(incident: dict[str, Any]) -> list[str]:
    """Custom field values (catalog entries: name, external id, aliases) and the type's name."""
    found: list[str] = []
    for entry in incident.get("custom_field_entries") or []:
        for value in entry.get("values") or []:
            option = value.get("value_option") or {}
            catalog = value.get("value_catalog_entry") or {}
            found += [option.get("value"), catalog.get("name"), catalog.get("external_id"),
                      *(catalog.get("aliases") or []), value.get("value_text")]
    found.append((incident.get("incident_type") or {}).get("name"))
    return [str(item) for item in dict.fromkeys(found) if item]


def parse(body: bytes, include_test: bool = False) -> IncidentUpdate | None:
    data = json_object(body)
    if not isinstance(data.get("event_type"), str):
        raise WebhookRejected(400, "the body has no `event_type`")
    kind = data["event_type"]
    if kind not in INCIDENT_EVENTS:
        return None
    payload = data.get(kind)
    if kind.endswith("status_updated_v2") and isinstance(payload, dict):
        payload = payload.get("incident")
    if not isinstance(payload, dict):
        raise WebhookRejected(400, f"the body has no `{kind}` incident")
    missing = [key for key in ("id", "name", "incident_status", "created_at", "updated_at")
               if not payload.get(key)]
    if missing:
        raise WebhookRejected(400, f"the incident has no {', '.join(missing)}")
    if payload.get("mode") in {"test", "tutorial"} and not include_test:
        return None
    category = str((payload["incident_status"] or {}).get("category", ""))
    status = STATUS_OF_CATEGORY.get(category)
    if status is None:
        raise WebhookRejected(400, f"unknown incident status category {category!r}")
    updated = epoch_ms(payload["updated_at"], "updated_at")
    assert updated is not None
    resolved = None
    if status == "resolved":
        resolved = _named_time(payload, RESOLVED) or updated
    return IncidentUpdate(
        event_key=f"body:{hashlib.sha256(body).hexdigest()}", external_id=str(payload["id"]),
        status=status, occurred_at=updated,
        title=f"{payload.get('reference', '')} {payload['name']}".strip(),
        services=_services(payload),
        started_at=_named_time(payload, STARTED) or epoch_ms(payload["created_at"], "created_at"),
        resolved_at=resolved, url=str(payload.get("permalink") or ""))
