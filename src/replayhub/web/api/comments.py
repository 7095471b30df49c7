"""GET/POST /api/v1/sessions/{id}/comments: the session's comments, here and on its tickets."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody
from sqlalchemy import select

from replayhub.comments import CommentItem, add_hub_comment, session_comments
from replayhub.db.models import ApiToken
from replayhub.hub import Hub
from replayhub.security import hash_secret
from replayhub.web.api.sessions import load_session
from replayhub.web.auth import requires


class NewComment(msgspec.Struct, forbid_unknown_fields=True):
    body: Annotated[str, msgspec.Meta(min_length=1, max_length=10_000)]


class CommentPage(msgspec.Struct):
    items: list[CommentItem]


async def author_of(request: Request[Any, Any, Any], hub: Hub) -> str:
    """The signed-in person, else the name of the API token used."""
    person = getattr(request.state, "person", None)
    if person is not None:
        return str(person.name)
    _, _, value = request.headers.get("authorization", "").partition(" ")
    async with hub.db.read() as tx:
        name = (await tx.execute(select(ApiToken.name).where(
            ApiToken.token_hash == hash_secret(value.strip())))).scalar_one_or_none()
    return name or "API token"


class CommentController(Controller):
    path = "/api/v1/sessions"
    tags = ["comments"]

    @get("/{session_id:str}/comments", name="sessions:comments", operation_id="listComments",
         guards=[requires("viewer", cookie=True)])
    async def list_all(self, request: Request[Any, Any, Any],
                       session_id: FromPath[str]) -> CommentPage:
        """Comments oldest first: written here, and imported from linked tickets."""
        hub: Hub = request.app.state.hub
        await load_session(hub, session_id)
        return CommentPage(await session_comments(hub, session_id))

    @post("/{session_id:str}/comments", name="sessions:comment", operation_id="addComment",
          status_code=201, guards=[requires("agent", cookie=True)])
    async def add(self, request: Request[Any, Any, Any], session_id: FromPath[str],
                  data: JSONBody[NewComment]) -> CommentItem:
        """A comment on the session, also posted as an internal note on its linked tickets."""
        hub: Hub = request.app.state.hub
        await load_session(hub, session_id)
        return await add_hub_comment(hub, session_id, await author_of(request, hub), data.body)
