"""The generic incident webhook: `X-ReplayHub-Signature` and a small JSON body.

Body: `{"id", "title", "status": "triggered|resolved", "started_at", "resolved_at"?,
"service"?, "url"?}`, times in ISO 8601 or epoch milliseconds.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from replayhub.connector import IncidentUpdate, WebhookRejected, json_object
from replayhub.inbox.signatures import check_fresh, same
from replayhub.inbox.times import epoch_ms

SIGNATURE = "x-replayhub-signature"
STATUSES = ("triggered", "resolved")


def replayhub_signature(secret: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of `{t}.{body}`."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={replayhub_signature(secret, str(timestamp), body)}"


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: float) -> None:
    header = headers.get(SIGNATURE)
    if not header:
        raise WebhookRejected(401, f"missing {SIGNATURE} header")
    parts = [part.strip().partition("=") for part in header.split(",")]
    timestamps = [value for key, _, value in parts if key == "t"]
    given = [value for key, _, value in parts if key == "v1"]
    if len(timestamps) != 1 or not timestamps[0].isdigit() or not given:
        raise WebhookRejected(401, f"{SIGNATURE} needs t=<unix seconds> and v1=<signature>")
    expected = replayhub_signature(secret, timestamps[0], body)
    if not any(same(expected, value) for value in given):
        raise WebhookRejected(401, "the signature does not match the body")
    check_fresh(timestamps[0], now)


def _text(data: dict[str, Any], key: str, required: bool = False) -> str:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise WebhookRejected(400, f"the body has no `{key}`")
        return ""
    if not isinstance(value, str | int):
        raise WebhookRejected(400, f"`{key}` is not a string")
    return str(value)


def parse(body: bytes) -> IncidentUpdate:
    data = json_object(body)
    status = _text(data, "status", True)
    if status not in STATUSES:
        raise WebhookRejected(400, f"`status` must be one of {', '.join(STATUSES)}")
    started = epoch_ms(data.get("started_at"), "started_at")
    if started is None:
        raise WebhookRejected(400, "the body has no `started_at`")
    resolved = epoch_ms(data.get("resolved_at"), "resolved_at")
    if status == "resolved" and resolved is None:
        raise WebhookRejected(400, "a resolved incident needs `resolved_at`")
    service = _text(data, "service")
    return IncidentUpdate(
        event_key=f"body:{hashlib.sha256(body).hexdigest()}", external_id=_text(data, "id", True),
        status=status, occurred_at=resolved if status == "resolved" and resolved else started,
        title=_text(data, "title", True), services=[service] if service else [],
        started_at=started, resolved_at=resolved if status == "resolved" else None,
        url=_text(data, "url"))
