"""API tokens with roles and app ingest keys: made here, stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
import time

from sqlalchemy import select

from replayhub.clock import now_ms
from replayhub.db.engine import Database
from replayhub.db.models import ApiToken, App

ROLES = ("viewer", "agent", "admin")
"""Each role can do what the roles before it can."""


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def role_allows(role: str, needed: str) -> bool:
    return ROLES.index(role) >= ROLES.index(needed)


class TokenCache:
    """Token hash → role, kept briefly so each request does not query the database."""

    def __init__(self, seconds: float = 30.0) -> None:
        self.seconds = seconds
        self._entries: dict[str, tuple[float, str | None]] = {}

    def get(self, token_hash: str) -> tuple[bool, str | None]:
        entry = self._entries.get(token_hash)
        if entry is None or entry[0] < time.monotonic():
            return False, None
        return True, entry[1]

    def put(self, token_hash: str, role: str | None) -> None:
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[token_hash] = (time.monotonic() + self.seconds, role)

    def clear(self) -> None:
        self._entries.clear()


async def create_token(db: Database, name: str, role: str, value: str | None = None) -> str:
    """Store a new token and return its value (shown once; only the hash is kept)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    value = value or f"rh_{secrets.token_urlsafe(32)}"
    async with db.write() as tx:
        tx.add(ApiToken(id=new_id("tok"), name=name, role=role, token_hash=hash_secret(value),
                        token_hint=value[:6], created_at=now_ms()))
    return value


async def ensure_admin_token(db: Database, value: str) -> None:
    """REPLAYHUB_ADMIN_TOKEN: make sure a live admin token with exactly this value exists."""
    async with db.read() as tx:
        found = (await tx.execute(select(ApiToken).where(
            ApiToken.token_hash == hash_secret(value)))).scalar_one_or_none()
    if found is None:
        await create_token(db, "bootstrap admin", "admin", value)
        return
    if found.role != "admin" or found.revoked_at is not None:
        async with db.write() as tx:
            found.role, found.revoked_at = "admin", None
            tx.add(found)


async def role_of_token(db: Database, value: str) -> str | None:
    async with db.read() as tx:
        token = (await tx.execute(select(ApiToken).where(
            ApiToken.token_hash == hash_secret(value),
            ApiToken.revoked_at.is_(None)))).scalar_one_or_none()  # type: ignore[union-attr]
    return token.role if token else None


async def create_app(db: Database, name: str) -> tuple[App, str]:
    """A new app and its ingest key (returned once)."""
    key = f"rhk_{secrets.token_urlsafe(24)}"
    app = App(id=new_id("app"), name=name, ingest_key_hash=hash_secret(key),
              ingest_key_hint=key[:8], created_at=now_ms())
    async with db.write() as tx:
        tx.add(app)
    return app, key


async def app_for_key(db: Database, key: str) -> App | None:
    async with db.read() as tx:
        return (await tx.execute(select(App).where(
            App.ingest_key_hash == hash_secret(key)))).scalar_one_or_none()
