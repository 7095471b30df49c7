"""Bearer-token guards: each route names the least role it needs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from replayhub.hub import Hub
from replayhub.security import hash_secret, role_allows, role_of_token
from replayhub.web.login import signed_in

Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    scheme, _, value = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise NotAuthorizedException(
            "this route needs an API token: send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"})
    return value.strip()


async def token_role(hub: Hub, token: str) -> str | None:
    token_hash = hash_secret(token)
    known, role = hub.tokens.get(token_hash)
    if not known:
        role = await role_of_token(hub.db, token)
        hub.tokens.put(token_hash, role)
    return role


async def cookie_role(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    person = await signed_in(connection)
    if person is None:
        raise NotAuthorizedException("sign in at /login or send 'Authorization: Bearer <token>'",
                                     headers={"WWW-Authenticate": "Bearer"})
    connection.state.person = person
    return person.role


def requires(needed: str, cookie: bool = False) -> Guard:
    """A guard letting through tokens whose role is `needed` or higher.

    With `cookie`, a request without an Authorization header may instead carry the web UI's
    login cookie (the player's own fetches); every other API route stays bearer-only.
    """

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        hub: Hub = connection.app.state.hub
        if cookie and not connection.headers.get("authorization", "").strip():
            role = await cookie_role(connection)
        else:
            role = await token_role(hub, bearer_token(connection))
        if role is None:
            raise NotAuthorizedException("the API token is unknown or revoked",
                                         headers={"WWW-Authenticate": "Bearer"})
        if not role_allows(role, needed):
            raise PermissionDeniedException(f"this route needs the {needed} role; "
                                            f"the token has {role}")
        connection.state.role = role

    return guard
