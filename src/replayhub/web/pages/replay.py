"""GET /replays/{id}?t=MS (signed in) and GET /share/{token} (anyone holding the link)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.params import FromPath, Parameter
from litestar.response import Stream

from replayhub.hub import Hub
from replayhub.index.sessions import session_detail
from replayhub.people import owner_labels, owners_of_session
from replayhub.replay.share import Share, read_share_token, share_token_hash
from replayhub.replay.views import SHARE_VIEWER, list_views, record_view
from replayhub.retention import purged_at
from replayhub.security import role_allows
from replayhub.signing import BadSignature, Expired
from replayhub.web.api.sessions import FromSeq, Segments, events_response, load_session
from replayhub.web.pages.common import PAGE_OPTIONS, json_for_script, page, person_of
from replayhub.web.problems import problem

Moment = Annotated[int, Parameter(ge=0, description="Position in ms from the session start.")]


async def player_page(hub: Hub, session_id: str, t: int, *, events_url: str,
                      share_url: str | None, shared: bool, person: Any = None,
                      playlist: dict[str, Any] | None = None) -> Response[str]:
    """The player page; with `playlist`, it also steps through the playlist's sessions."""
    session = await load_session(hub, session_id)
    async with hub.db.read() as tx:
        detail = await session_detail(tx, session, hub.settings.base_url)
    views = await list_views(hub.db, session_id, limit=20)
    owners = [] if shared else await owner_labels(hub, await owners_of_session(hub, session_id))
    data = {"session_id": session_id, "t": t, "events_url": events_url, "share_url": share_url,
            "duration_ms": detail.duration_ms, "shared": shared, "playlist": playlist,
            "markers": [{"t": e.t, "kind": e.kind, "label": e.label} for e in detail.timeline
                        if e.kind in {"page", "error", "rage_click", "dead_click",
                                      "error_click"}]}
    return page("replay.html", person=person, session=detail, views=views, shared=shared,
                can_share=share_url is not None, data=json_for_script(data), t=t,
                owners=owners, playlist=playlist)


class ReplayPages(Controller):
    tags = ["pages"]
    include_in_schema = False

    @get("/replays/{session_id:str}", name="pages:replay", operation_id="replayPage",
         **PAGE_OPTIONS)
    async def replay(self, request: Request[Any, Any, Any], session_id: FromPath[str],
                     t: Moment = 0) -> Response[str]:
        """The player positioned at `t`, the session's timeline, and who watched it."""
        hub: Hub = request.app.state.hub
        person = person_of(request)
        await load_session(hub, session_id)
        await record_view(hub.db, session_id, person.name, "page")
        share_url = (f"/api/v1/sessions/{session_id}/share"
                     if role_allows(person.role, "agent") else None)
        return await player_page(hub, session_id, t, person=person, shared=False,
                                 events_url=f"/api/v1/sessions/{session_id}/events",
                                 share_url=share_url)

    @get("/share/{token:str}", name="pages:share", operation_id="sharedReplayPage",
         security=[])
    async def shared(self, request: Request[Any, Any, Any], token: FromPath[str]) -> Response[str]:
        """The player for one session, no account needed; a bad or old link says so."""
        hub: Hub = request.app.state.hub
        try:
            share = read_share_token(hub.secret_key, token)
        except Expired:
            return page("share_error.html", status=410, reason="expired")
        except BadSignature:
            return page("share_error.html", status=403, reason="invalid")
        if await purged_at(hub, share.session_id) is not None:
            return page("share_error.html", status=410, reason="purged")
        await load_session(hub, share.session_id)
        await record_view(hub.db, share.session_id, SHARE_VIEWER, "share",
                          share_token_hash(token))
        return await player_page(hub, share.session_id, share.t, shared=True, share_url=None,
                                 events_url=f"/share/{token}/events")

    @get("/share/{token:str}/events", name="pages:share_events",
         operation_id="sharedReplayEvents", media_type="application/json", security=[])
    async def shared_events(self, request: Request[Any, Any, Any], token: FromPath[str],
                            from_seq: FromSeq = None, limit_segments: Segments = None) -> Stream:
        """The events of the link's one session (paged like the API's events)."""
        hub: Hub = request.app.state.hub
        share = share_from(hub, token)
        await load_session(hub, share.session_id)
        return await events_response(hub, share.session_id, from_seq, limit_segments)


def share_from(hub: Hub, token: str) -> Share:
    try:
        return read_share_token(hub.secret_key, token)
    except Expired:
        raise problem(410, "Link expired", "this share link has expired") from None
    except BadSignature:
        raise problem(403, "Forbidden", "this share link is not valid") from None
