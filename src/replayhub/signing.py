"""HMAC-signed, expiring payloads (login cookies, share links) under the hub's secret key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

SECRET_KEY_FILE = "secret-key"


class BadSignature(ValueError):
    """The value was not signed with this hub's key for this purpose, or was altered."""


class Expired(ValueError):
    """The signature is good but the value's time is up."""


def load_secret_key(secret_key: str, data_dir: Path) -> bytes:
    """The configured secret, else one generated once and kept in DATA_DIR/secret-key (0600)."""
    if secret_key:
        return secret_key.encode()
    path = data_dir / SECRET_KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_urlsafe(48) + "\n")
    return path.read_text().strip().encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, purpose: str, body: str) -> str:
    return _b64(hmac.new(key, f"{purpose}.{body}".encode(), hashlib.sha256).digest())


def sign(key: bytes, purpose: str, payload: dict[str, Any]) -> str:
    """`body.mac`: the payload as base64url JSON and its HMAC-SHA256 for this purpose."""
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    return f"{body}.{_mac(key, purpose, body)}"


def unsign(key: bytes, purpose: str, value: str, now: float | None = None) -> dict[str, Any]:
    """The payload of a value `sign` made; its `exp` (epoch seconds) must be in the future."""
    body, _, mac = value.partition(".")
    if not body or not hmac.compare_digest(mac.encode(), _mac(key, purpose, body).encode()):
        raise BadSignature("the signature does not match")
    try:
        payload = json.loads(_unb64(body))
    except ValueError as error:
        raise BadSignature("the payload is not readable") from error
    if not isinstance(payload, dict) or not isinstance(payload.get("exp"), int):
        raise BadSignature("the payload has no expiry")
    if payload["exp"] <= (time.time() if now is None else now):
        raise Expired("the link has expired")
    return payload
