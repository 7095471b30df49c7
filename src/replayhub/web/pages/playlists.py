"""Playlist pages: the list, and a player that plays a playlist's sessions one after another."""

from __future__ import annotations

import time
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.params import FromPath, FromQuery

from replayhub import playlists
from replayhub.hub import Hub
from replayhub.replay.share import make_share_token
from replayhub.replay.views import SHARE_VIEWER, record_view
from replayhub.signing import BadSignature, Expired
from replayhub.web.pages.common import PAGE_OPTIONS, page, person_of
from replayhub.web.pages.replay import player_page
from replayhub.web.problems import problem

MOST = 200
"""The player steps through at most this many sessions (newest first)."""


async def steps(hub: Hub, playlist_id: str, me: str) -> tuple[str, playlists.Page]:
    """The playlist's name and its first MOST sessions."""
    name = playlists.BUILTINS.get(playlist_id.partition(":")[2], "")
    if not playlist_id.startswith(f"{playlists.BUILTIN}:"):
        name = (await playlists.get_playlist(hub, playlist_id)).name
    return name, await playlists.playlist_sessions(hub, playlist_id, me=me, limit=MOST)


def position(found: playlists.Page, index: int, name: str, link: str) -> dict[str, Any]:
    """What the player shows of the playlist: where we are, the moment and note, and links."""
    session = found.sessions[index]
    item = found.items.get(session.id)
    count = len(found.sessions)
    return {"name": name, "index": index, "count": count, "more": found.next_cursor is not None,
            "t": item.t if item else 0, "note": item.note if item else "",
            "previous_url": f"{link}?i={index - 1}" if index > 0 else None,
            "next_url": f"{link}?i={index + 1}" if index + 1 < count else None}


class PlaylistPages(Controller):
    tags = ["pages"]
    include_in_schema = False

    @get("/playlists", name="pages:playlists", operation_id="playlistsPage", **PAGE_OPTIONS)
    async def index(self, request: Request[Any, Any, Any]) -> Response[str]:
        """Every playlist with its count, new sessions and a link to play it."""
        hub: Hub = request.app.state.hub
        saved = await playlists.list_playlists(hub)
        return page("playlists.html", person=person_of(request), active="playlists",
                    builtins=playlists.BUILTINS, playlists=saved)

    @get("/playlists/{playlist_id:str}", name="pages:playlist", operation_id="playlistPage",
         **PAGE_OPTIONS)
    async def play(self, request: Request[Any, Any, Any], playlist_id: FromPath[str],
                   i: FromQuery[int] = 0) -> Response[str]:
        """The player on the playlist's i-th session; it opens the next one at the end."""
        hub: Hub = request.app.state.hub
        person = person_of(request)
        try:
            name, found = await steps(hub, playlist_id, person.name)
        except playlists.PlaylistError as error:
            raise problem(error.status, "Playlist not found", str(error)) from None
        if not found.sessions:
            return page("playlists.html", person=person, active="playlists", empty=name,
                        builtins=playlists.BUILTINS, playlists=await playlists.list_playlists(hub))
        index = max(0, min(i, len(found.sessions) - 1))
        step = position(found, index, name, f"/playlists/{playlist_id}")
        session_id = found.sessions[index].id
        await record_view(hub.db, session_id, person.name, "page")
        return await player_page(hub, session_id, step["t"], person=person, shared=False,
                                 events_url=f"/api/v1/sessions/{session_id}/events",
                                 share_url=None, playlist=step)

    @get("/share/playlists/{token:str}", name="pages:shared_playlist",
         operation_id="sharedPlaylistPage", security=[])
    async def shared(self, request: Request[Any, Any, Any], token: FromPath[str],
                     i: FromQuery[int] = 0) -> Response[str]:
        """A shared playlist's player, no account needed; a bad or old link says so."""
        hub: Hub = request.app.state.hub
        try:
            playlist_id, expires_at = playlists.read_share_token(hub.secret_key, token)
            name, found = await steps(hub, playlist_id, "")
        except Expired:
            return page("share_error.html", status=410, reason="expired")
        except (BadSignature, playlists.PlaylistError):
            return page("share_error.html", status=403, reason="invalid")
        if not found.sessions:
            return page("share_error.html", status=404, reason="empty")
        index = max(0, min(i, len(found.sessions) - 1))
        step = position(found, index, name, f"/share/playlists/{token}")
        session_id = found.sessions[index].id
        session_token, _ = make_share_token(hub.secret_key, session_id, step["t"],
                                            max(60, expires_at - int(time.time())))
        await record_view(hub.db, session_id, SHARE_VIEWER, "share")
        return await player_page(hub, session_id, step["t"], shared=True, share_url=None,
                                 events_url=f"/share/{session_token}/events", playlist=step)
