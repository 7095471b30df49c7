"""GET /incidents/{id}/postmortem: the post-mortem draft as a page (the notebook, read-only)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from markupsafe import Markup

from replayhub.hub import Hub
from replayhub.incidents import get_incident
from replayhub.postmortem import render_postmortem
from replayhub.web.pages.common import PAGE_OPTIONS, page, person_of


class IncidentPages(Controller):
    tags = ["pages"]
    include_in_schema = False
    guards = PAGE_OPTIONS["guards"]
    exception_handlers = PAGE_OPTIONS["exception_handlers"]

    @get("/incidents/{incident_id:str}/postmortem", name="pages:postmortem",
         operation_id="postmortemPage")
    async def postmortem(self, request: Request[Any, Any, Any],
                         incident_id: str) -> Response[str]:
        """The rendered HTML draft inside the site layout, with a Markdown download."""
        hub: Hub = request.app.state.hub
        incident = await get_incident(hub, incident_id)
        person = person_of(request)
        if incident is None:
            return page("postmortem.html", status=404, person=person, title="not found",
                        document=Markup("<h1>Incident not found</h1>"),
                        markdown_url="", html_url="", filename="")
        document = await render_postmortem(hub, incident, "html", standalone=False)
        api = f"/api/v1/incidents/{incident.id}/postmortem"
        return page("postmortem.html", person=person, title=incident.title or incident.id,
                    document=Markup(document), markdown_url=f"{api}?format=markdown",
                    html_url=f"{api}?format=html", filename=f"postmortem-{incident.id}.md")
