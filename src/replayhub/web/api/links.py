"""POST /api/v1/sessions/{id}/links: attach a session to a ticket (a note through the outbox)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, post

from replayhub.connector import PostNote
from replayhub.hub import Hub
from replayhub.ticket_notes import attach_by_hand
from replayhub.web.api.sessions import load_session
from replayhub.web.auth import requires
from replayhub.web.problems import problem


class LinkRequest(msgspec.Struct, forbid_unknown_fields=True):
    target: str
    """The connector: zendesk..."""
    ticket_id: Annotated[str, msgspec.Meta(min_length=1, max_length=50, pattern=r"^\d+$")]
    t: Annotated[int, msgspec.Meta(ge=0)] | None = None
    """The moment the replay link opens at (ms from the start; default: before the first
    error)."""


class LinkAccepted(msgspec.Struct):
    delivery_id: str


class LinkController(Controller):
    path = "/api/v1/sessions"
    tags = ["connectors"]

    @post("/{session_id:str}/links", name="sessions:link", operation_id="linkSession",
          status_code=202, guards=[requires("agent")])
    async def link(self, request: Request[Any, Any, Any], session_id: str,
                   data: LinkRequest) -> LinkAccepted:
        """Post this session's replay as an internal note on the ticket; comments then sync."""
        hub: Hub = request.app.state.hub
        session = await load_session(hub, session_id)
        connector = hub.connectors.get(data.target)
        if not isinstance(connector, PostNote):
            raise problem(404, "Unknown target",
                          f"no enabled connector {data.target!r} posts notes on tickets")
        delivery_id = await attach_by_hand(hub, connector, data.ticket_id, session, data.t)
        return LinkAccepted(delivery_id)
