"""Publishing post-mortems: POST /api/v1/incidents/{id}/publish and the pages they are on."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody

from replayhub.hub import Hub
from replayhub.publishing import (
    PublicationItem,
    PublishDelivery,
    UnknownTarget,
    publications_of,
    publish_postmortem,
)
from replayhub.web.api.incidents import load_incident
from replayhub.web.auth import requires
from replayhub.web.problems import problem

Target = Annotated[str, msgspec.Meta(min_length=1, max_length=50)]


class PublishRequest(msgspec.Struct, forbid_unknown_fields=True):
    targets: Annotated[list[Target], msgspec.Meta(max_length=20)] | None = None
    """Connector names (confluence, notion, github); none: every enabled one that publishes."""


class PublishAnswer(msgspec.Struct):
    incident_id: str
    deliveries: list[PublishDelivery]
    """One per target; follow each at GET /api/v1/deliveries/{id}."""


class PublicationPage(msgspec.Struct):
    items: list[PublicationItem]


class PublicationController(Controller):
    path = "/api/v1/incidents"
    tags = ["publications"]

    @post("/{incident_id:str}/publish", name="incidents:publish",
          operation_id="publishIncidentPostmortem", status_code=202,
          guards=[requires("agent", cookie=True)])
    async def publish(self, request: Request[Any, Any, Any], incident_id: FromPath[str],
                      data: JSONBody[PublishRequest | None] = None) -> PublishAnswer:
        """Publish the post-mortem (as it reads now, edited sections included) to each target:
        the first time a page is created, later the same page gets a new version. Answers
        at once; the outbox sends it (retried, never a second page)."""
        hub: Hub = request.app.state.hub
        incident = await load_incident(hub, incident_id)
        try:
            deliveries = await publish_postmortem(hub, incident.id,
                                                  data.targets if data else None)
        except UnknownTarget as bad:
            raise problem(400, "Invalid target", str(bad)) from None
        if not deliveries:
            raise problem(409, "Nowhere to publish", "no enabled connector publishes documents "
                          "(enable [connectors.confluence], notion or github)")
        return PublishAnswer(incident.id, deliveries)

    @get("/{incident_id:str}/publications", name="incidents:publications",
         operation_id="listIncidentPublications", guards=[requires("viewer", cookie=True)])
    async def publications(self, request: Request[Any, Any, Any],
                           incident_id: FromPath[str]) -> PublicationPage:
        """Where the post-mortem is published: one page per connector, its link and version."""
        hub: Hub = request.app.state.hub
        incident = await load_incident(hub, incident_id)
        return PublicationPage(await publications_of(hub, incident.id))
