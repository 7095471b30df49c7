"""Share links to a moment of a session, and the session's playback history."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody

from replayhub.hub import Hub
from replayhub.index.sessions import iso
from replayhub.replay.share import DEFAULT_SECONDS, MAX_SECONDS, make_share_token
from replayhub.replay.views import ViewItem, list_views
from replayhub.web.api.sessions import load_session
from replayhub.web.auth import requires


class ShareRequest(msgspec.Struct, forbid_unknown_fields=True):
    t: Annotated[int, msgspec.Meta(ge=0)] = 0
    """The moment the link opens at, in ms from the session start."""
    expires_in: Annotated[int, msgspec.Meta(ge=60, le=MAX_SECONDS)] = DEFAULT_SECONDS
    """Seconds the link works for (default 7 days, at most 90)."""


class ShareLink(msgspec.Struct):
    url: str
    expires_at: str


class ViewPage(msgspec.Struct):
    items: list[ViewItem]


class ReplayController(Controller):
    path = "/api/v1/sessions"
    tags = ["replays"]

    @post("/{session_id:str}/share", name="sessions:share", operation_id="shareSession",
          status_code=201, guards=[requires("agent", cookie=True)])
    async def share(self, request: Request[Any, Any, Any], session_id: FromPath[str],
                    data: JSONBody[ShareRequest | None] = None) -> ShareLink:
        """A link that opens this one session at `t` without an account, until it expires."""
        hub: Hub = request.app.state.hub
        data = data or ShareRequest()
        await load_session(hub, session_id)
        token, expires_at = make_share_token(hub.secret_key, session_id, data.t,
                                             data.expires_in)
        return ShareLink(f"{hub.settings.base_url}/share/{token}", iso(expires_at * 1000))

    @get("/{session_id:str}/views", name="sessions:views", operation_id="listSessionViews",
         guards=[requires("viewer")])
    async def views(self, request: Request[Any, Any, Any], session_id: FromPath[str]) -> ViewPage:
        """Who opened the player on this session, newest first."""
        hub: Hub = request.app.state.hub
        await load_session(hub, session_id)
        return ViewPage(await list_views(hub.db, session_id))
