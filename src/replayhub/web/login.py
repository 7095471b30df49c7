"""The web UI's login: a signed, HttpOnly session cookie naming the API token pasted at /login."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from sqlalchemy import select

from replayhub.db.models import ApiToken
from replayhub.hub import Hub
from replayhub.security import hash_secret
from replayhub.signing import BadSignature, Expired, sign, unsign

COOKIE = "replayhub_session"
PURPOSE = "login"
LIFETIME_SECONDS = 12 * 3600


@dataclass(frozen=True)
class Person:
    """Who is signed in: the API token they pasted (its id, name and role)."""

    token_id: str
    name: str
    role: str


async def token_for_login(hub: Hub, value: str) -> ApiToken | None:
    """The live token with this value, if any."""
    async with hub.db.read() as tx:
        return (await tx.execute(select(ApiToken).where(
            ApiToken.token_hash == hash_secret(value.strip()),
            ApiToken.revoked_at.is_(None)))).scalar_one_or_none()  # type: ignore[union-attr]


def login_cookie(hub: Hub, token: ApiToken, secure: bool) -> Cookie:
    value = sign(hub.secret_key, PURPOSE,
                 {"tid": token.id, "exp": int(time.time()) + LIFETIME_SECONDS})
    return Cookie(key=COOKIE, value=value, max_age=LIFETIME_SECONDS, path="/", httponly=True,
                  samesite="lax", secure=secure)


def logout_cookie(secure: bool) -> Cookie:
    return Cookie(key=COOKIE, value="", max_age=0, path="/", httponly=True, samesite="lax",
                  secure=secure)


async def signed_in(connection: ASGIConnection[Any, Any, Any, Any]) -> Person | None:
    """The person behind the request's session cookie (None: absent, bad, expired, revoked)."""
    hub: Hub = connection.app.state.hub
    value = connection.cookies.get(COOKIE)
    if not value:
        return None
    try:
        token_id = str(unsign(hub.secret_key, PURPOSE, value)["tid"])
    except (BadSignature, Expired, KeyError):
        return None
    async with hub.db.read() as tx:
        token = await tx.get(ApiToken, token_id)
    if token is None or token.revoked_at is not None:
        return None
    return Person(token.id, token.name, token.role)
