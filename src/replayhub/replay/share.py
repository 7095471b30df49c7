"""Share links: an HMAC-signed session id, moment and expiry; no database row needed."""

from __future__ import annotations

import time
from dataclasses import dataclass

from replayhub.security import hash_secret
from replayhub.signing import sign, unsign

PURPOSE = "share"
DAY_SECONDS = 86_400
DEFAULT_SECONDS = 7 * DAY_SECONDS
MAX_SECONDS = 90 * DAY_SECONDS


@dataclass(frozen=True)
class Share:
    session_id: str
    t: int
    expires_at: int
    """Epoch seconds."""


def make_share_token(key: bytes, session_id: str, t: int, expires_in: int,
                     now: float | None = None) -> tuple[str, int]:
    """The token and its expiry (epoch seconds)."""
    expires_at = int(now if now is not None else time.time()) + expires_in
    return sign(key, PURPOSE, {"s": session_id, "t": t, "exp": expires_at}), expires_at


def read_share_token(key: bytes, token: str) -> Share:
    """The share a token grants; raises signing.BadSignature or signing.Expired."""
    payload = unsign(key, PURPOSE, token)
    return Share(str(payload["s"]), int(payload.get("t", 0)), int(payload["exp"]))


def share_token_hash(token: str) -> str:
    return hash_secret(token)
