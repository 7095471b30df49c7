"""GET/POST /login (paste an API token) and POST /logout."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromQuery
from litestar.response import Redirect

from replayhub.hub import Hub
from replayhub.web.login import login_cookie, logout_cookie, signed_in, token_for_login
from replayhub.web.pages.common import page


class LoginForm(msgspec.Struct):
    token: str = ""
    next: str = "/"


def safe_next(target: str) -> str:
    """Only paths on this hub: never another site."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def secure_cookie(request: Request[Any, Any, Any], hub: Hub) -> bool:
    return request.url.scheme == "https" or hub.settings.base_url.startswith("https://")


class AccountController(Controller):
    tags = ["pages"]
    include_in_schema = False

    @get("/login", name="pages:login", operation_id="loginPage", security=[])
    async def login_page(self, request: Request[Any, Any, Any],
                         next: FromQuery[str] = "/") -> Response[Any]:
        """The login form; a signed-in person goes straight on."""
        if await signed_in(request) is not None:
            return Redirect(safe_next(next), status_code=303)
        return page("login.html", next=safe_next(next), error=None)

    @post("/login", name="pages:login_submit", operation_id="login", security=[],
          status_code=303)
    async def login(self, request: Request[Any, Any, Any], data: Annotated[
            LoginForm, Body(media_type=RequestEncodingType.URL_ENCODED)]) -> Response[Any]:
        """Check the pasted token (any role) and set the signed session cookie."""
        hub: Hub = request.app.state.hub
        token = await token_for_login(hub, data.token) if data.token.strip() else None
        if token is None:
            return page("login.html", status=401, next=safe_next(data.next),
                        error="That token is unknown or revoked. Paste an API token "
                              "(viewer, agent or admin).")
        response: Response[Any] = Redirect(safe_next(data.next), status_code=303)
        response.set_cookie(login_cookie(hub, token, secure_cookie(request, hub)))
        return response

    @post("/logout", name="pages:logout", operation_id="logout", security=[], status_code=303)
    async def logout(self, request: Request[Any, Any, Any]) -> Response[Any]:
        hub: Hub = request.app.state.hub
        response: Response[Any] = Redirect("/login", status_code=303)
        response.set_cookie(logout_cookie(secure_cookie(request, hub)))
        return response
