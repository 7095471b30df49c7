"""Vendor times in webhook bodies (ISO 8601, epoch seconds, ms or ns) as epoch milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from replayhub.connector import WebhookRejected


def epoch_ms(value: Any, name: str = "time") -> int | None:
    """None for a missing value; a malformed one is a 400 refusal naming the field."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise WebhookRejected(400, f"{name} is not a time")
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        number = float(value)
        if number >= 1e17:
            return int(number / 1_000_000)  # nanoseconds (Opsgenie's updatedAt)
        if number >= 1e11:
            return int(number)  # milliseconds
        return int(number * 1000)  # seconds
    if not isinstance(value, str):
        raise WebhookRejected(400, f"{name} is not a time")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise WebhookRejected(400, f"{name} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)
