"""Session search, one session's summary and timeline, and its stored events."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get
from litestar.params import FromPath, FromQuery, Parameter, QueryParameter
from litestar.response import Stream
from sqlalchemy import Select

from replayhub.db.models import ReplaySession
from replayhub.hub import Hub
from replayhub.incidents import get_incident, now_ms, scope_of
from replayhub.index.impact import affected_session_ids, impact_window
from replayhub.index.sessions import (
    BadFilter,
    SessionDetail,
    SessionFilters,
    SessionSummary,
    parse_time,
    search_sessions,
    session_detail,
    summarize,
)
from replayhub.people import Owners, owners_of_session
from replayhub.replay.events import segment_page, stream_events, stream_segments
from replayhub.retention import iso_day, purged_at
from replayhub.web.auth import requires
from replayhub.web.problems import problem

Limit = Annotated[int, QueryParameter(ge=1, le=200, description="Page size (1-200).")]
Query = FromQuery[str | None]
FromSeq = Annotated[int | None, Parameter(ge=0, le=2**31 - 1,
                                          description="First stored batch (seq).")]
Segments = Annotated[int | None, Parameter(ge=1, le=1000,
                                           description="Most stored batches to return.")]


class SessionPage(msgspec.Struct):
    items: list[SessionSummary]
    next_cursor: str | None


class OwnedSessionDetail(SessionDetail):
    owners: Owners = msgspec.field(default_factory=Owners)
    """Who owns the session by the `[[ownership]]` rules (its app, pages, errors)."""


def filters_from_query(user_email: str | None, user_id: str | None, url: str | None,
                       error: str | None, frustration: str | None, since: str | None,
                       until: str | None, app_id: str | None) -> SessionFilters:
    try:
        return SessionFilters(user_email=user_email, user_id=user_id, url=url, error=error,
                              frustration=frustration, since=parse_time(since, "since"),
                              until=parse_time(until, "until"), app_id=app_id)
    except BadFilter as bad:
        raise problem(400, "Invalid filter", str(bad)) from None


async def affected_by(hub: Hub, incident_id: str) -> Select[tuple[str]]:
    """The ids of the sessions an incident affected (its impact's `affected` figure)."""
    incident = await get_incident(hub, incident_id)
    if incident is None:
        raise problem(400, "Invalid filter", f"incident: no incident {incident_id!r}")
    since, until = impact_window(incident.started_at, incident.resolved_at,
                                 hub.settings.incidents, now_ms())
    return affected_session_ids(scope_of(incident), since, until)


async def load_session(hub: Hub, session_id: str) -> ReplaySession:
    async with hub.db.read() as tx:
        session = await tx.get(ReplaySession, session_id)
    if session is None:
        purged = await purged_at(hub, session_id)
        if purged is not None:
            raise problem(410, "Session purged", f"session {session_id!r} was deleted on "
                          f"{iso_day(purged)} by the retention policy (retention_days)")
        raise problem(404, "Session not found", f"no session {session_id!r}")
    return session


async def events_response(hub: Hub, session_id: str, from_seq: int | None,
                          limit_segments: int | None) -> Stream:
    """All events, or a page of stored batches with the next seq in `X-Next-From-Seq`."""
    if from_seq is None and limit_segments is None:
        return Stream(stream_events(hub.db, hub.blobs, session_id),
                      media_type="application/json")
    segments, next_seq = await segment_page(hub.db, session_id, from_seq or 0,
                                            limit_segments or 1000)
    headers = {"X-Next-From-Seq": str(next_seq)} if next_seq is not None else {}
    return Stream(stream_segments(hub.blobs, segments), media_type="application/json",
                  headers=headers)


class SessionController(Controller):
    path = "/api/v1/sessions"
    tags = ["sessions"]

    @get("/", name="sessions:list", operation_id="listSessions", guards=[requires("viewer")])
    async def list_sessions(
        self, request: Request[Any, Any, Any], user_email: Query = None,
        user_id: Query = None, url: Query = None, error: Query = None,
        frustration: Query = None, since: Query = None, until: Query = None,
        app_id: Query = None, limit: Limit = 50, cursor: Query = None,
        incident: Query = None,
    ) -> SessionPage:
        """Sessions newest first; `next_cursor` pages on without skipping or repeating.

        `incident`: only the sessions the incident affected (an error or a frustration signal
        in its window, apps and pages), whenever they started."""
        hub: Hub = request.app.state.hub
        filters = filters_from_query(user_email, user_id, url, error, frustration, since,
                                     until, app_id)
        among = await affected_by(hub, incident) if incident else None
        try:
            async with hub.db.read() as tx:
                rows, next_cursor = await search_sessions(tx, filters, limit, cursor, among)
        except BadFilter as bad:
            raise problem(400, "Invalid filter", str(bad)) from None
        return SessionPage([summarize(row, hub.settings.base_url) for row in rows], next_cursor)

    @get("/{session_id:str}", name="sessions:detail", operation_id="getSession",
         guards=[requires("viewer", cookie=True)])
    async def detail(self, request: Request[Any, Any, Any],
                     session_id: FromPath[str]) -> OwnedSessionDetail:
        """The session's summary, its timeline (t in ms from the start) and its owners."""
        hub: Hub = request.app.state.hub
        session = await load_session(hub, session_id)
        async with hub.db.read() as tx:
            detail = await session_detail(tx, session, hub.settings.base_url)
        return OwnedSessionDetail(**msgspec.structs.asdict(detail),
                                  owners=await owners_of_session(hub, session_id))

    @get("/{session_id:str}/events", name="sessions:events", operation_id="getSessionEvents",
         media_type="application/json", guards=[requires("viewer", cookie=True)])
    async def events(self, request: Request[Any, Any, Any], session_id: FromPath[str],
                     from_seq: FromSeq = None, limit_segments: Segments = None) -> Stream:
        """The stored (scrubbed) rrweb events in order, streamed as one JSON array.

        With `from_seq` or `limit_segments`, only those stored batches; the `X-Next-From-Seq`
        header then names the seq to ask for next (absent at the end).
        """
        hub: Hub = request.app.state.hub
        await load_session(hub, session_id)
        return await events_response(hub, session_id, from_seq, limit_segments)
