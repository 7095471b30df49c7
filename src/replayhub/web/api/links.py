"""POST /api/v1/sessions/{id}/links: attach a session to a ticket (a note through the outbox)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, post
from litestar.params import FromPath, JSONBody

from replayhub.connector import PostChatAlert, PostNote
from replayhub.hub import Hub
from replayhub.outbox.chat import share_to_chat
from replayhub.ticket_notes import attach_by_hand
from replayhub.web.api.comments import author_of
from replayhub.web.api.sessions import load_session
from replayhub.web.auth import requires
from replayhub.web.problems import problem


class LinkRequest(msgspec.Struct, forbid_unknown_fields=True):
    target: str
    """The connector: zendesk, slack..."""
    ticket_id: Annotated[str, msgspec.Meta(min_length=1, max_length=50,
                                           pattern=r"^\d+$")] | None = None
    """The ticket (ticketing connectors)."""
    t: Annotated[int, msgspec.Meta(ge=0)] | None = None
    """The moment the replay link opens at (ms from the start; default: before the first
    error)."""
    channel: Annotated[str, msgspec.Meta(min_length=1, max_length=100,
                                         pattern=r"^#?[\w.-]+$")] | None = None
    """The Slack channel: an id (C0123…) or a name (#payments); not a person (@name)."""
    mention: Annotated[list[Annotated[str, msgspec.Meta(max_length=320)]],
                       msgspec.Meta(max_length=20)] = []
    """E-mails of people the chat message tags."""
    request_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64,
                                            pattern=r"^[\w.:-]+$")] | None = None
    """The client's id of this send: the same id posts once (a double click), another id
    posts again. Without it, the same share within ten minutes posts once."""


class LinkAccepted(msgspec.Struct):
    delivery_id: str


class LinkController(Controller):
    path = "/api/v1/sessions"
    tags = ["connectors"]

    @post("/{session_id:str}/links", name="sessions:link", operation_id="linkSession",
          status_code=202, guards=[requires("agent", cookie=True)])
    async def link(self, request: Request[Any, Any, Any], session_id: FromPath[str],
                   data: JSONBody[LinkRequest]) -> LinkAccepted:
        """Post this session's replay as an internal note on the ticket, or as a message in a
        chat channel tagging people; comments then sync."""
        hub: Hub = request.app.state.hub
        session = await load_session(hub, session_id)
        connector = hub.connectors.get(data.target)
        if data.target == "teams":
            raise problem(422, "Unsupported target",
                          "replays are sent by hand to Slack (target \"slack\"); Teams only "
                          "receives alerts, through each team's Workflows webhook")
        if isinstance(connector, PostChatAlert):
            if not data.channel or data.ticket_id:
                raise problem(400, "Bad link", f"{data.target} takes a channel, not a ticket_id")
            return LinkAccepted(await share_to_chat(
                hub, connector, session, data.channel.lstrip("#"), data.t, data.mention,
                await author_of(request, hub), data.request_id))
        if not isinstance(connector, PostNote):
            raise problem(404, "Unknown target",
                          f"no enabled connector {data.target!r} posts notes or messages")
        if not data.ticket_id:
            raise problem(400, "Bad link", f"{data.target} takes a ticket_id")
        delivery_id = await attach_by_hand(hub, connector, data.ticket_id, session, data.t)
        return LinkAccepted(delivery_id)
