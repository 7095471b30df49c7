"""Webhook signature helpers, shared by the connectors and their tests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
from datetime import datetime

from replayhub.connector import WebhookRejected

MAX_SKEW_SECONDS = 300
"""A webhook signed more than 5 minutes ago, or for more than 5 minutes ahead, is refused."""


def hmac_sha256_base64(secret: str, message: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def same(expected: str, given: str) -> bool:
    """Constant-time comparison of two signatures."""
    return hmac.compare_digest(expected.encode(), given.encode())


def parse_timestamp(value: str) -> float:
    """Epoch seconds from an ISO 8601 time or a number of seconds."""
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):  # "nan" and "inf" parse as floats but are no time
            raise WebhookRejected(401, "the signature timestamp is not a time")
        return seconds
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise WebhookRejected(401, "the signature timestamp is not a time") from None


def check_fresh(timestamp: str, now: float, max_skew: float = MAX_SKEW_SECONDS) -> None:
    """Refuse a timestamp older than `max_skew` seconds or as far in the future."""
    signed_at = parse_timestamp(timestamp)
    if signed_at < now - max_skew:
        raise WebhookRejected(401, "the webhook's timestamp is too old (replayed?)")
    if signed_at > now + max_skew:
        raise WebhookRejected(401, "the webhook's timestamp is in the future")
