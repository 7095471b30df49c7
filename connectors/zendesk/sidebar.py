"""The Zendesk ticket-sidebar app: the page Zendesk opens in the sidebar, and what it reads.

Zendesk opens the app's URL with a form POST carrying `token`, a JWT it signs (HS256) with
the app's secure `shared_secret` setting (manifest `signedUrls: true`): `iss` is the
account's host (`acme.zendesk.com`), `aud` the installation
(`https://acme.zendesk.com/api/v2/apps/installations/<id>.json`), `exp` a few minutes ahead.
The hub checks all of them, then embeds in the page a short-lived token of its own (signed
with the hub's secret key, never an API token) that lets the page list the ticket
requester's sessions and load their thumbnails, and nothing else.
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Annotated, Any

import jwt
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery, Parameter

from replayhub.clock import now_ms
from replayhub.signing import BadSignature, Expired, sign, unsign
from replayhub.templating import render
from replayhub.ticket_notes import Requester, find_sessions_for_requester, note_items
from replayhub.web.api.snapshots import PNG_HEADERS, picture
from replayhub.web.problems import problem

if TYPE_CHECKING:
    from connectors.zendesk.settings import ZendeskSettings
    from replayhub.hub import Hub

CONNECTOR = "zendesk"
PURPOSE = "zendesk-sidebar"
THUMB_PURPOSE = "zendesk-sidebar-thumb"
TOKEN_SECONDS = 15 * 60
"""The page's own token works this long (reopening the ticket makes a fresh one)."""
TOKEN_HEADER = "X-ReplayHub-Sidebar"
JWT_LEEWAY_SECONDS = 30
MAX_SESSIONS = 10
MAX_LOOKBACK_HOURS = 24 * 90
THUMB_WIDTH = 480
ZAF_SDK = "https://static.zdassets.com/zendesk_app_framework_sdk/2.0/zaf_sdk.min.js"


class SidebarRefused(Exception):
    """The sidebar request is not Zendesk's (or not this account's, or too old)."""


def _check_audience(settings: ZendeskSettings, audience: Any) -> None:
    prefix = f"https://{settings.zendesk_host}/api/v2/apps/installations/"
    for value in audience if isinstance(audience, list) else [audience]:
        if not (isinstance(value, str) and value.startswith(prefix) and value.endswith(".json")):
            continue
        installation = value[len(prefix):-len(".json")]
        if installation.isdigit() and (settings.sidebar_installation_id is None
                                       or int(installation) == settings.sidebar_installation_id):
            return
    raise SidebarRefused("the token is for another Zendesk account or app installation")


def verify_app_jwt(settings: ZendeskSettings, token: str | None) -> dict[str, Any]:
    """The claims of the JWT Zendesk signed the sidebar URL with; SidebarRefused if bad."""
    if not settings.sidebar_shared_secret:
        raise SidebarRefused("the sidebar app is not set up "
                             "(connectors.zendesk.sidebar_shared_secret is empty)")
    if not token:
        raise SidebarRefused("no token: open the app from a ticket in Zendesk")
    try:
        claims: dict[str, Any] = jwt.decode(
            token, settings.sidebar_shared_secret, algorithms=["HS256"],
            issuer=settings.zendesk_host, leeway=JWT_LEEWAY_SECONDS,
            options={"require": ["exp", "iss", "aud"], "verify_aud": False})
    except jwt.ExpiredSignatureError:
        raise SidebarRefused("the token has expired: reload the app") from None
    except jwt.InvalidTokenError as error:
        raise SidebarRefused(f"the token is not valid ({type(error).__name__})") from None
    _check_audience(settings, claims.get("aud"))
    return claims


def make_sidebar_token(key: bytes, account: str, now: float | None = None) -> tuple[str, int]:
    expires_at = int(time.time() if now is None else now) + TOKEN_SECONDS
    return sign(key, PURPOSE, {"a": account, "exp": expires_at}), expires_at


def read_sidebar_token(key: bytes, account: str, token: str) -> int:
    """The token's expiry; raises signing.BadSignature or signing.Expired."""
    payload = unsign(key, PURPOSE, token)
    if payload.get("a") != account:
        raise BadSignature("the token is for another account")
    return int(payload["exp"])


def _settings(hub: Hub) -> ZendeskSettings:
    connector = hub.connectors.get(CONNECTOR)
    if connector is None:
        raise problem(404, "Not found", "the Zendesk connector is not enabled")
    return connector.settings  # type: ignore[no-any-return]


def csp(nonce: str) -> str:
    return (f"default-src 'none'; script-src 'nonce-{nonce}' https://static.zdassets.com; "
            f"style-src 'nonce-{nonce}'; img-src 'self' data:; connect-src 'self'; "
            "base-uri 'none'; form-action 'none'; "
            "frame-ancestors https://*.zendesk.com")


def sidebar_page(status: int, **context: Any) -> Response[str]:
    nonce = secrets.token_urlsafe(16)
    return Response(render("web/zendesk_sidebar.html", nonce=nonce, zaf_sdk=ZAF_SDK, **context),
                    status_code=status, media_type="text/html; charset=utf-8",
                    headers={"Content-Security-Policy": csp(nonce),
                             "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
                             "Referrer-Policy": "no-referrer"})


class SidebarSession(msgspec.Struct):
    id: str
    started_at: str
    duration: str
    page: str
    errors: list[str]
    frustration: str
    replay_url: str
    """A share link that opens the replay (just before the first error), no account needed."""
    thumbnail_url: str


class SidebarSessions(msgspec.Struct):
    lookback_hours: int
    items: list[SidebarSession]


Lookback = Annotated[int | None, Parameter(ge=1, le=MAX_LOOKBACK_HOURS,
                                           description="Hours back (default: the setting).")]


class ZendeskSidebarController(Controller):
    path = "/zendesk/sidebar"
    tags = ["zendesk"]
    include_in_schema = False

    @post("/", name="zendesk:sidebar", security=[], status_code=200)
    async def open(self, request: Request[Any, Any, Any]) -> Response[str]:
        """The sidebar page, for a POST signed by Zendesk; 401 without a good JWT."""
        hub: Hub = request.app.state.hub
        settings = _settings(hub)
        form = await request.form()
        token = form.get("token")
        try:
            verify_app_jwt(settings, token if isinstance(token, str) else None)
        except SidebarRefused as refused:
            return sidebar_page(401, error=str(refused))
        page_token, _ = make_sidebar_token(hub.secret_key, settings.subdomain)
        return sidebar_page(200, error=None, token=page_token,
                            lookback_hours=settings.lookback_hours)

    @get("/sessions", name="zendesk:sidebar_sessions", security=[])
    async def sessions(self, request: Request[Any, Any, Any],
                       email: FromQuery[str | None] = None,
                       external_id: FromQuery[str | None] = None,
                       lookback_hours: Lookback = None) -> SidebarSessions:
        """The requester's recent sessions (by email or our user id), newest first."""
        hub: Hub = request.app.state.hub
        settings = _settings(hub)
        try:
            expires_at = read_sidebar_token(hub.secret_key, settings.subdomain,
                                            request.headers.get(TOKEN_HEADER, ""))
        except (BadSignature, Expired):
            raise problem(401, "Not authorized",
                          "the sidebar token is missing, not valid or expired: reload the app",
                          headers={"WWW-Authenticate": TOKEN_HEADER}) from None
        # Never further back than the hub's setting: the sidebar token is not bound to one
        # requester, so it must not open a deeper window than a ticket note would.
        hours = min(lookback_hours or settings.lookback_hours, settings.lookback_hours)
        since = now_ms() - hours * 3_600_000
        found = await find_sessions_for_requester(
            hub, Requester(email or None, external_id or None), since, MAX_SESSIONS)
        found.sort(key=lambda session: (session.started_at, session.id), reverse=True)
        items = []
        for item in await note_items(hub, found):
            thumb = sign(hub.secret_key, THUMB_PURPOSE,
                         {"s": item.session_id, "t": item.t, "exp": expires_at})
            items.append(SidebarSession(
                item.session_id, item.started_at, item.duration, item.page, item.errors,
                item.frustration, item.url,
                f"{hub.settings.base_url}/zendesk/sidebar/thumbnails/{thumb}"))
        return SidebarSessions(hours, items)

    @get("/thumbnails/{token:str}", name="zendesk:sidebar_thumbnail", security=[],
         media_type="image/png")
    async def thumbnail(self, request: Request[Any, Any, Any],
                        token: FromPath[str]) -> Response[bytes]:
        """The PNG of a session the sidebar listed (the URL is signed and short-lived)."""
        hub: Hub = request.app.state.hub
        _settings(hub)
        try:
            payload = unsign(hub.secret_key, THUMB_PURPOSE, token)
        except (BadSignature, Expired):
            raise problem(401, "Not authorized", "the thumbnail link is not valid or expired",
                          headers={"WWW-Authenticate": TOKEN_HEADER}) from None
        png = await picture(hub, str(payload["s"]), int(payload.get("t", 0)), THUMB_WIDTH)
        return Response(png, media_type="image/png", headers=PNG_HEADERS)
