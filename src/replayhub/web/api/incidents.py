"""Incidents: list, read, enter by hand, and their impact on recorded sessions."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from replayhub.hub import Hub
from replayhub.incidents import (
    IncidentDetail,
    IncidentSummary,
    create_incident,
    get_incident,
    incident_detail,
    list_incidents,
    now_ms,
    scope_of,
)
from replayhub.index.impact import Impact, incident_impact
from replayhub.index.sessions import BadFilter, parse_time
from replayhub.people import Owners, owners_of_incident
from replayhub.postmortem import FORMATS, UnknownFormat, render_postmortem
from replayhub.security import role_allows
from replayhub.web.auth import requires
from replayhub.web.pages.common import HEADERS
from replayhub.web.problems import problem

Text = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class IncidentRequest(msgspec.Struct, forbid_unknown_fields=True):
    title: Text
    started_at: str | int
    """ISO 8601 or epoch milliseconds."""
    resolved_at: str | int | None = None
    service: Annotated[str, msgspec.Meta(max_length=300)] | None = None
    """Matched to `[[incident_services]]` when app_ids / url_patterns are not given."""
    app_ids: list[Annotated[str, msgspec.Meta(max_length=32)]] | None = None
    url_patterns: list[Text] | None = None
    """Page URL globs (`https://shop.example.com/checkout*`)."""


class IncidentPage(msgspec.Struct):
    items: list[IncidentSummary]


class OwnedIncidentDetail(IncidentDetail):
    owners: Owners = msgspec.field(default_factory=Owners)
    """Who owns the incident by the `[[ownership]]` rules (its apps, service, pages)."""


async def load_incident(hub: Hub, incident_id: str) -> Any:
    incident = await get_incident(hub, incident_id)
    if incident is None:
        raise problem(404, "Incident not found", f"no incident {incident_id!r}")
    return incident


class IncidentController(Controller):
    path = "/api/v1/incidents"
    tags = ["incidents"]

    @get("/", name="incidents:list", operation_id="listIncidents", guards=[requires("viewer")])
    async def list_all(self, request: Request[Any, Any, Any],
                       limit: Annotated[int, msgspec.Meta(ge=1, le=500)] = 100) -> IncidentPage:
        """Incidents, newest first."""
        return IncidentPage(await list_incidents(request.app.state.hub, limit))

    @post("/", name="incidents:create", operation_id="createIncident", status_code=201,
          guards=[requires("agent")])
    async def create(self, request: Request[Any, Any, Any],
                     data: JSONBody[IncidentRequest]) -> IncidentDetail:
        """An incident entered by hand (source `manual`)."""
        hub: Hub = request.app.state.hub
        try:
            started = parse_time(str(data.started_at), "started_at")
            resolved = parse_time(None if data.resolved_at is None else str(data.resolved_at),
                                  "resolved_at")
        except BadFilter as bad:
            raise problem(400, "Invalid incident", str(bad)) from None
        assert started is not None
        if resolved is not None and resolved < started:
            raise problem(400, "Invalid incident", "resolved_at is before started_at")
        try:
            incident_id = await create_incident(
                hub, title=data.title, started_at=started, resolved_at=resolved,
                service=data.service, app_ids=data.app_ids, url_patterns=data.url_patterns)
        except ValueError as bad:  # UnknownApps: names the ids
            raise problem(400, "Invalid incident", str(bad)) from None
        return await incident_detail(hub, await load_incident(hub, incident_id))

    @get("/{incident_id:str}", name="incidents:detail", operation_id="getIncident",
         guards=[requires("viewer")])
    async def detail(self, request: Request[Any, Any, Any],
                     incident_id: FromPath[str]) -> OwnedIncidentDetail:
        """The incident with its timeline and its owners."""
        hub: Hub = request.app.state.hub
        incident = await load_incident(hub, incident_id)
        detail = await incident_detail(hub, incident)
        return OwnedIncidentDetail(**msgspec.structs.asdict(detail),
                                   owners=await owners_of_incident(hub, incident))

    @get("/{incident_id:str}/impact", name="incidents:impact", operation_id="getIncidentImpact",
         guards=[requires("viewer")])
    async def impact(self, request: Request[Any, Any, Any], incident_id: FromPath[str]) -> Impact:
        """Error spikes against the previous days, affected sessions and users, frustration,
        and the most telling replays, over the incident's window."""
        hub: Hub = request.app.state.hub
        incident = await load_incident(hub, incident_id)
        async with hub.db.read() as tx:
            return await incident_impact(
                tx, incident.id, incident.started_at, incident.resolved_at, scope_of(incident),
                hub.settings.incidents, now_ms(), hub.settings.base_url)

    @get("/{incident_id:str}/postmortem", name="incidents:postmortem",
         operation_id="getIncidentPostmortem", media_type="text/markdown",
         guards=[requires("viewer", cookie=True)])
    async def postmortem(self, request: Request[Any, Any, Any], incident_id: FromPath[str],
                         format: FromQuery[str] = "markdown",
                         download: FromQuery[bool] = False) -> Response[str]:
        """The post-mortem draft (`format` markdown or html): summary, impact figures and
        chart, timeline, evidence replays, and placeholders to fill. The evidence carries
        signed share links for agents and admins; a viewer's draft links to the replay pages
        (a login needed). `download=1` serves the Markdown as a file to save
        (postmortem-<id>.md)."""
        hub: Hub = request.app.state.hub
        if format not in FORMATS:
            raise problem(400, "Invalid format", f"format must be one of {', '.join(FORMATS)}")
        incident = await load_incident(hub, incident_id)
        try:
            text = await render_postmortem(
                hub, incident, format,
                share_links=role_allows(getattr(request.state, "role", "viewer"), "agent"))
        except UnknownFormat as bad:  # pragma: no cover - checked above
            raise problem(400, "Invalid format", str(bad)) from None
        if format == "html":
            return Response(text, media_type="text/html; charset=utf-8", headers=HEADERS)
        return Response(text, media_type="text/markdown; charset=utf-8", headers={
            "Content-Disposition": f'{"attachment" if download else "inline"}; '
                                   f'filename="postmortem-{incident.id}.md"',
            "Cache-Control": "no-store"})
