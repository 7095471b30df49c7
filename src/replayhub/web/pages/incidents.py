"""/incidents/{id}/postmortem: the post-mortem notebook page.

The rendered draft with an Edit form under each section (agents and admins; a reset brings
the generated text back), and the incident's comment thread with a form whose `@mentions`
e-mail the people named. Forms post to this page's own routes and come back with a 303;
viewers read only.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect
from markupsafe import Markup

from replayhub.db.models import Incident
from replayhub.hub import Hub
from replayhub.incidents import create_incident, get_incident, list_incidents
from replayhub.index.sessions import BadFilter, parse_time
from replayhub.notebook import (
    MAX_BODY,
    KeyReused,
    SectionItem,
    StaleVersion,
    UnknownSection,
    email_of,
    incident_comments,
    list_sections,
    people_directory,
    post_incident_comment,
    save_section,
    split_html,
)
from replayhub.postmortem import render_postmortem
from replayhub.publishing import publications_of, publish_postmortem, publish_targets
from replayhub.security import role_allows
from replayhub.web.login import Person
from replayhub.web.pages.common import PAGE_OPTIONS, page, person_of
from replayhub.web.problems import problem


class SectionForm(msgspec.Struct):
    body: str = ""
    version: str = "0"
    action: str = "save"
    """save or reset."""


class CommentForm(msgspec.Struct):
    body: str = ""
    key: str = ""
    """A value made for the form when the page was shown: a form sent twice adds one comment."""


@dataclass
class Part:
    """A piece of the rendered article; sections carry their editable state."""

    html: Markup
    name: str = ""
    title: Markup = field(default_factory=Markup)
    section: SectionItem | None = None


@dataclass
class Conflict:
    """An edit refused because the section changed meanwhile: the text is kept for the person."""

    name: str
    body: str
    version: int


def page_path(incident_id: str) -> str:
    return f"/incidents/{incident_id}/postmortem"


def can_edit(person: Person) -> bool:
    return role_allows(person.role, "agent")


async def notebook_page(hub: Hub, incident: Incident, person: Person, status: int = 200,
                        conflict: Conflict | None = None, error: str = "",
                        published: int | None = None) -> Response[str]:
    document = await render_postmortem(hub, incident, "html", standalone=False,
                                       share_links=can_edit(person))
    sections = {item.name: item for item in await list_sections(hub, incident)}
    parts = [Part(Markup(chunk.text), chunk.name, Markup(chunk.title), sections[chunk.name])
             if chunk.name in sections else Part(Markup(chunk.text))
             for chunk in split_html(document)]
    api = f"/api/v1/incidents/{incident.id}/postmortem"
    return page("postmortem.html", status=status, person=person,
                title=incident.title or incident.id, incident_id=incident.id, parts=parts,
                comments=await incident_comments(hub, incident.id),
                people=await people_directory(hub), editable=can_edit(person),
                conflict=conflict, error=error, comment_key=secrets.token_urlsafe(12),
                markdown_url=f"{api}?format=markdown", html_url=f"{api}?format=html",
                filename=f"postmortem-{incident.id}.md", action=page_path(incident.id),
                publications=await publications_of(hub, incident.id),
                targets=publish_targets(hub, None), published=published)


def not_found(person: Person) -> Response[str]:
    return page("postmortem.html", status=404, person=person, title="not found", parts=[
        Part(Markup("<h1>Incident not found</h1>"))], comments=[], people=[], editable=False,
        conflict=None, error="", comment_key="", markdown_url="", html_url="", filename="",
        incident_id="", action="", publications=[], targets=[], published=None)


def require_agent(person: Person) -> None:
    if not can_edit(person):
        raise problem(403, "Forbidden", f"editing the notebook needs the agent role; "
                      f"{person.name} is a {person.role}")


class IncidentForm(msgspec.Struct):
    title: str = ""
    started_at: str = ""
    """ISO 8601 (a datetime-local field: UTC) or epoch milliseconds."""
    resolved_at: str = ""
    service: str = ""
    url_patterns: str = ""
    """Page URL globs, one a line."""


def incident_from_form(data: IncidentForm) -> dict[str, Any]:
    """The create_incident arguments; ValueError naming the field to fix."""
    title = data.title.strip()
    if not 1 <= len(title) <= 500:
        raise ValueError("Give the incident a title (at most 500 characters).")
    try:
        started = parse_time(data.started_at.strip(), "started_at")
        resolved = parse_time(data.resolved_at.strip() or None, "resolved_at")
    except BadFilter as bad:
        raise ValueError(f"{bad} (use the date and time pickers, in UTC)") from None
    if started is None:
        raise ValueError("Say when the incident started (UTC).")
    if resolved is not None and resolved < started:
        raise ValueError("The incident cannot be resolved before it started.")
    patterns = [line.strip() for line in data.url_patterns.splitlines() if line.strip()]
    return {"title": title, "started_at": started, "resolved_at": resolved,
            "service": data.service.strip()[:300] or None, "app_ids": None,
            "url_patterns": patterns[:50] or None}


async def incidents_page(hub: Hub, person: Person, status: int = 200, error: str = "",
                         form: IncidentForm | None = None) -> Response[str]:
    return page("incidents.html", status=status, person=person, active="incidents",
                incidents=await list_incidents(hub, 200), editable=can_edit(person),
                error=error, form=form or IncidentForm())


class IncidentPages(Controller):
    tags = ["pages"]
    include_in_schema = False
    guards = PAGE_OPTIONS["guards"]
    exception_handlers = PAGE_OPTIONS["exception_handlers"]

    @get("/incidents", name="pages:incidents", operation_id="incidentsPage")
    async def incidents(self, request: Request[Any, Any, Any]) -> Response[str]:
        """Incidents newest first, each with its post-mortem; a form declares one by hand."""
        return await incidents_page(request.app.state.hub, person_of(request))

    @post("/incidents", name="pages:incident_create", operation_id="incidentForm",
          status_code=303)
    async def declare(self, request: Request[Any, Any, Any],
                      data: Annotated[IncidentForm, Body(
                          media_type=RequestEncodingType.URL_ENCODED)]) -> Response[Any]:
        """Declare an incident by hand (source `manual`) and open its post-mortem."""
        hub: Hub = request.app.state.hub
        person = person_of(request)
        require_agent(person)
        try:
            values = incident_from_form(data)
        except ValueError as bad:
            return await incidents_page(hub, person, status=400, error=str(bad), form=data)
        incident_id = await create_incident(hub, **values)
        return Redirect(page_path(incident_id), status_code=303)

    @get("/incidents/{incident_id:str}/postmortem", name="pages:postmortem",
         operation_id="postmortemPage")
    async def postmortem(self, request: Request[Any, Any, Any], incident_id: FromPath[str],
                         published: FromQuery[int | None] = None) -> Response[str]:
        """The rendered draft inside the site layout: sections to edit, the comment thread,
        the Markdown download, and where the document is published."""
        hub: Hub = request.app.state.hub
        incident = await get_incident(hub, incident_id)
        if incident is None:
            return not_found(person_of(request))
        return await notebook_page(hub, incident, person_of(request), published=published)

    @post("/incidents/{incident_id:str}/postmortem/publish", name="pages:postmortem_publish",
          operation_id="postmortemPublishForm", status_code=303)
    async def publish(self, request: Request[Any, Any, Any],
                      incident_id: FromPath[str]) -> Response[Any]:
        """Publish (or update in place) the document at every enabled publishing connector."""
        hub: Hub = request.app.state.hub
        require_agent(person_of(request))
        try:
            deliveries = await publish_postmortem(hub, incident_id)
        except LookupError:
            return not_found(person_of(request))
        return Redirect(f"{page_path(incident_id)}?published={len(deliveries)}",
                        status_code=303)

    @post("/incidents/{incident_id:str}/postmortem/sections/{name:str}",
          name="pages:postmortem_section", operation_id="postmortemSectionForm",
          status_code=303)
    async def edit_section(self, request: Request[Any, Any, Any], incident_id: FromPath[str],
                           name: FromPath[str],
                           data: Annotated[SectionForm, Body(
                               media_type=RequestEncodingType.URL_ENCODED)]) -> Response[Any]:
        """Save (or reset) a section from its form; a stale version shows the page again with
        the text kept and the section's new version."""
        hub: Hub = request.app.state.hub
        person = person_of(request)
        require_agent(person)
        incident = await get_incident(hub, incident_id)
        if incident is None:
            return not_found(person)
        if len(data.body) > MAX_BODY or not data.version.isdigit():
            raise problem(400, "Invalid section", f"body at most {MAX_BODY} characters, "
                          "version a whole number")
        body = None if data.action == "reset" else data.body
        try:
            await save_section(hub, incident, name, body, int(data.version), person.name)
        except UnknownSection:
            raise problem(404, "Section not found", f"no section {name!r}") from None
        except StaleVersion as stale:
            return await notebook_page(
                hub, incident, person, status=409,
                conflict=Conflict(name, data.body, stale.current),
                error=f"Someone changed this section while you were editing it (now version "
                      f"{stale.current}). Your text is kept below: compare, then save again.")
        return Redirect(f"{page_path(incident.id)}#section-{name}", status_code=303)

    @post("/incidents/{incident_id:str}/postmortem/comments", name="pages:postmortem_comment",
          operation_id="postmortemCommentForm", status_code=303)
    async def comment(self, request: Request[Any, Any, Any], incident_id: FromPath[str],
                      data: Annotated[CommentForm, Body(
                          media_type=RequestEncodingType.URL_ENCODED)]) -> Response[Any]:
        """Add a comment to the thread (mentions get their e-mail) and show it."""
        hub: Hub = request.app.state.hub
        person = person_of(request)
        require_agent(person)
        incident = await get_incident(hub, incident_id)
        if incident is None:
            return not_found(person)
        body = data.body.strip()
        if not body or len(body) > MAX_BODY:
            return await notebook_page(hub, incident, person, status=400,
                                       error=f"A comment needs 1 to {MAX_BODY} characters.")
        key = f"form:{data.key[:100]}" if data.key else None
        try:
            item, _ = await post_incident_comment(hub, incident.id, person.name,
                                                  await email_of(hub, person.name), body, key)
        except KeyReused:
            return await notebook_page(hub, incident, person, status=409,
                                       error="This form was already sent with another text: "
                                             "write the comment again.")
        return Redirect(f"{page_path(incident.id)}#comment-{item.id}", status_code=303)
