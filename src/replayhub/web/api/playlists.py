"""Playlists: collections and saved searches (/api/v1/playlists)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post, put
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from sqlalchemy import select

from replayhub import playlists
from replayhub.db.models import ApiToken, Playlist
from replayhub.hub import Hub
from replayhub.index.sessions import SessionSummary, iso, summarize
from replayhub.replay.share import DEFAULT_SECONDS, MAX_SECONDS
from replayhub.security import hash_secret
from replayhub.web.auth import bearer_token, requires
from replayhub.web.problems import refusal_handler

Limit = Annotated[int, QueryParameter(ge=1, le=200, description="Page size (1-200).")]


class PlaylistRequest(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    filters: dict[str, Any] | None = None
    """A saved search: the filters of GET /api/v1/sessions."""
    session_ids: list[str] | None = None
    """A collection: the sessions it starts with."""
    watchers: list[str] = []
    """E-mails, team:NAME or slack:CHANNEL told about a saved search's new matches."""


class PlaylistChange(msgspec.Struct, forbid_unknown_fields=True):
    name: str | None = None
    filters: dict[str, Any] | None = None
    watchers: list[str] | None = None


class ItemRequest(msgspec.Struct, forbid_unknown_fields=True):
    t: Annotated[int, msgspec.Meta(ge=0)] = 0
    """The moment to open the session at, in ms from its start."""
    note: Annotated[str, msgspec.Meta(max_length=5000)] = ""


class ShareRequest(msgspec.Struct, forbid_unknown_fields=True):
    expires_in: Annotated[int, msgspec.Meta(ge=60, le=MAX_SECONDS)] = DEFAULT_SECONDS


class Watcher(msgspec.Struct):
    watcher: str
    unwatched: int | None = None
    """Matches this person has not opened yet (people only; at the last refresh)."""


class PlaylistOut(msgspec.Struct):
    id: str
    name: str
    kind: str
    """collection, search or builtin."""
    filters: dict[str, Any] | None
    owner: str
    created_at: str | None
    refreshed_at: str | None
    count: int | None
    """Matching sessions at the last refresh (a collection: its size); None: not counted."""
    count_capped: bool
    new_sessions: int
    watchers: list[Watcher]
    sessions_url: str
    page_url: str


class PlaylistList(msgspec.Struct):
    items: list[PlaylistOut]


class PlaylistSession(SessionSummary):
    t: int = 0
    note: str = ""


class SessionPage(msgspec.Struct):
    items: list[PlaylistSession]
    next_cursor: str | None


class ShareLink(msgspec.Struct):
    url: str
    expires_at: str


async def caller(request: Request[Any, Any, Any]) -> str:
    """Who is asking: the signed-in person's or the API token's name."""
    person = getattr(request.state, "person", None)
    if person is not None:
        return str(person.name)
    hub: Hub = request.app.state.hub
    async with hub.db.read() as tx:
        name = (await tx.execute(select(ApiToken.name).where(
            ApiToken.token_hash == hash_secret(bearer_token(request))))).scalar_one_or_none()
    return name or ""


PLAYLIST_REFUSED = refusal_handler({404: "Playlist not found", 409: "Playlist in use"},
                                   "Invalid playlist")


async def out(hub: Hub, playlist: Playlist) -> PlaylistOut:
    base = hub.settings.base_url
    watchers = await playlists.watchers_of(hub, playlist.id)
    count: int | None = playlist.match_count if playlist.counted_at else None
    if playlist.kind == playlists.COLLECTION:
        count = await playlists.collection_size(hub, playlist.id)
    filters = (msgspec.structs.asdict(playlists.filters_of(playlist))
               if playlist.kind == playlists.SEARCH else None)
    return PlaylistOut(
        playlist.id, playlist.name, playlist.kind,
        {k: v for k, v in (filters or {}).items() if v is not None} if filters else None,
        playlist.owner, iso(playlist.created_at),
        iso(playlist.refreshed_at) if playlist.refreshed_at else None, count,
        playlist.count_capped, playlist.new_count,
        [Watcher(w.watcher, None if ":" in w.watcher else w.unwatched) for w in watchers],
        f"{base}/api/v1/playlists/{playlist.id}/sessions", f"{base}/playlists/{playlist.id}")


def builtin_out(hub: Hub, name: str, title: str) -> PlaylistOut:
    base, playlist_id = hub.settings.base_url, f"{playlists.BUILTIN}:{name}"
    return PlaylistOut(playlist_id, title, playlists.BUILTIN, None, "", None, None, None, False,
                       0, [], f"{base}/api/v1/playlists/{playlist_id}/sessions",
                       f"{base}/playlists/{playlist_id}")


class PlaylistController(Controller):
    path = "/api/v1/playlists"
    tags = ["playlists"]
    exception_handlers = {playlists.PlaylistError: PLAYLIST_REFUSED}

    @post("/", name="playlists:create", operation_id="createPlaylist", status_code=201,
          guards=[requires("agent", cookie=True)])
    async def create(self, request: Request[Any, Any, Any],
                     data: JSONBody[PlaylistRequest]) -> PlaylistOut:
        """A saved search (`filters`) or a collection (`session_ids`), never both."""
        hub: Hub = request.app.state.hub
        watchers = [playlists.check_watcher(w) for w in data.watchers]
        playlist = await playlists.create_playlist(
            hub, name=data.name, owner=await caller(request), filters=data.filters,
            session_ids=data.session_ids)
        if watchers:
            playlist = await playlists.update_playlist(hub, playlist.id, watchers=watchers)
        return await out(hub, playlist)

    @get("/", name="playlists:list", operation_id="listPlaylists",
         guards=[requires("viewer", cookie=True)])
    async def list_all(self, request: Request[Any, Any, Any]) -> PlaylistList:
        """The built-in playlists, then every collection and saved search by name."""
        hub: Hub = request.app.state.hub
        items = [builtin_out(hub, name, title) for name, title in playlists.BUILTINS.items()]
        items += [await out(hub, p) for p in await playlists.list_playlists(hub)]
        return PlaylistList(items)

    @get("/{playlist_id:str}", name="playlists:get", operation_id="getPlaylist",
         guards=[requires("viewer", cookie=True)])
    async def get_one(self, request: Request[Any, Any, Any],
                      playlist_id: FromPath[str]) -> PlaylistOut:
        hub: Hub = request.app.state.hub
        name = playlist_id.partition(":")[2]
        if playlist_id.startswith(f"{playlists.BUILTIN}:") and name in playlists.BUILTINS:
            return builtin_out(hub, name, playlists.BUILTINS[name])
        return await out(hub, await playlists.get_playlist(hub, playlist_id))

    @patch("/{playlist_id:str}", name="playlists:update", operation_id="updatePlaylist",
           guards=[requires("agent", cookie=True)])
    async def change(self, request: Request[Any, Any, Any], playlist_id: FromPath[str],
                     data: JSONBody[PlaylistChange]) -> PlaylistOut:
        """Rename it, change a saved search's filters, or replace its watchers."""
        hub: Hub = request.app.state.hub
        playlist = await playlists.update_playlist(
            hub, playlist_id, name=data.name, filters=data.filters, watchers=data.watchers)
        return await out(hub, playlist)

    @delete("/{playlist_id:str}", name="playlists:delete", operation_id="deletePlaylist",
            guards=[requires("agent", cookie=True)])
    async def remove(self, request: Request[Any, Any, Any], playlist_id: FromPath[str]) -> None:
        hub: Hub = request.app.state.hub
        await playlists.delete_playlist(hub, playlist_id)

    @get("/{playlist_id:str}/sessions", name="playlists:sessions",
         operation_id="listPlaylistSessions", guards=[requires("viewer", cookie=True)])
    async def sessions(self, request: Request[Any, Any, Any], playlist_id: FromPath[str],
                       limit: Limit = 50, cursor: FromQuery[str | None] = None) -> SessionPage:
        """The same session summaries as the search; a saved search lists exactly what the
        search API lists for its filters."""
        hub: Hub = request.app.state.hub
        found = await playlists.playlist_sessions(hub, playlist_id, me=await caller(request),
                                                  limit=limit, cursor=cursor)
        items = []
        for session in found.sessions:
            item = found.items.get(session.id)
            summary = msgspec.structs.asdict(summarize(session, hub.settings.base_url))
            items.append(PlaylistSession(**summary, t=item.t if item else 0,
                                         note=item.note if item else ""))
        return SessionPage(items, found.next_cursor)

    @put("/{playlist_id:str}/sessions/{session_id:str}", name="playlists:put_session",
         operation_id="putPlaylistSession", guards=[requires("agent", cookie=True)])
    async def put_session(self, request: Request[Any, Any, Any], playlist_id: FromPath[str],
                          session_id: FromPath[str],
                          data: JSONBody[ItemRequest | None] = None) -> PlaylistOut:
        """Add a session to a collection (or change its moment and note)."""
        hub: Hub = request.app.state.hub
        data = data or ItemRequest()
        await playlists.put_session(hub, playlist_id, session_id, t=data.t, note=data.note,
                                    by=await caller(request))
        return await out(hub, await playlists.get_playlist(hub, playlist_id))

    @delete("/{playlist_id:str}/sessions/{session_id:str}", name="playlists:remove_session",
            operation_id="deletePlaylistSession", guards=[requires("agent", cookie=True)])
    async def remove_session(self, request: Request[Any, Any, Any], playlist_id: FromPath[str],
                             session_id: FromPath[str]) -> None:
        hub: Hub = request.app.state.hub
        await playlists.remove_session(hub, playlist_id, session_id)

    @post("/{playlist_id:str}/share", name="playlists:share", operation_id="sharePlaylist",
          status_code=201, guards=[requires("agent", cookie=True)])
    async def share(self, request: Request[Any, Any, Any], playlist_id: FromPath[str],
                    data: JSONBody[ShareRequest | None] = None) -> ShareLink:
        """A link that plays this playlist without an account, until it expires."""
        hub: Hub = request.app.state.hub
        await playlists.get_playlist(hub, playlist_id)
        token, expires_at = playlists.share_token(hub.secret_key, playlist_id,
                                                  (data or ShareRequest()).expires_in)
        return ShareLink(f"{hub.settings.base_url}/share/playlists/{token}",
                         iso(expires_at * 1000))
