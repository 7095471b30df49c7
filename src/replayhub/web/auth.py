"""Bearer-token guards: each route names the least role it needs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from litestar import Request
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


SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CROSS_SITE_BY_DESIGN = ("/api/v1/ingest", "/webhooks/", "/zendesk/", "/unsubscribe/")
"""Browsers post ingest batches from the recorded site; vendors post webhooks; Zendesk posts
the sidebar's signed request; mail clients post one-click unsubscribes (RFC 8058). Each is
authenticated by its own key, signature or signed token."""


def same_origin(request: Request[Any, Any, Any]) -> bool:
    """Whether a browser sent this request from the hub's own pages (Fetch Metadata, else
    Origin); a request from no browser at all carries neither header."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def refuse_cross_site(request: Request[Any, Any, Any]) -> None:
    """CSRF defence for the login cookie: a state-changing request that relies on cookies
    (no Authorization header) must come from the hub's own pages. SameSite=Lax alone lets
    a sibling subdomain through."""
    if request.method in SAFE_METHODS or request.url.path.startswith(CROSS_SITE_BY_DESIGN):
        return
    if request.headers.get("authorization", "").strip():
        return
    if not same_origin(request):
        raise PermissionDeniedException(
            "cross-site request refused: this form or call must come from the hub's own pages")
