"""What every page shares: the login guard, the HTML response and its security headers."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import msgspec
from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Redirect

from replayhub.templating import render
from replayhub.web.login import Person, signed_in

CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
       "font-src 'self' data:; connect-src 'self'; frame-src 'self'; media-src 'self' blob:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "same-origin", "Cache-Control": "no-store"}


class LoginRequired(NotAuthorizedException):
    """A page was asked for without a valid login cookie: send the browser to /login."""


async def signed_in_guard(connection: ASGIConnection[Any, Any, Any, Any],
                          _: BaseRouteHandler) -> None:
    person = await signed_in(connection)
    if person is None:
        raise LoginRequired("sign in first")
    connection.state.person = person


def to_login(request: Request[Any, Any, Any], _: LoginRequired) -> Response[Any]:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect(f"/login?next={quote(target, safe='')}", status_code=303)


def person_of(request: Request[Any, Any, Any]) -> Person:
    return request.state.person  # type: ignore[no-any-return]


def page(name: str, status: int = 200, **context: Any) -> Response[str]:
    """A rendered template from templates/web/ with the UI's security headers."""
    return Response(render(f"web/{name}", **context), status_code=status,
                    media_type="text/html; charset=utf-8", headers=HEADERS)


def json_for_script(value: Any) -> str:
    """JSON safe inside <script type="application/json"> (no closing tags)."""
    text = msgspec.json.encode(value).decode()
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


PAGE_OPTIONS: dict[str, Any] = {"guards": [signed_in_guard],
                                "exception_handlers": {LoginRequired: to_login}}
