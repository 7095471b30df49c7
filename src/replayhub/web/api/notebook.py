"""The post-mortem notebook's API: edit sections of the draft, and the incident's thread.

GET/PUT/DELETE /api/v1/incidents/{id}/postmortem/sections[/{name}] and
GET/POST /api/v1/incidents/{id}/comments.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post, put
from litestar.params import FromPath, HeaderParameter, JSONBody, Parameter

from replayhub.hub import Hub
from replayhub.notebook import (
    MAX_BODY,
    IncidentCommentItem,
    KeyReused,
    SectionItem,
    StaleVersion,
    UnknownSection,
    email_of,
    incident_comments,
    list_sections,
    post_incident_comment,
    save_section,
)
from replayhub.web.api.comments import author_of
from replayhub.web.api.incidents import load_incident
from replayhub.web.auth import requires
from replayhub.web.problems import problem

Body = Annotated[str, msgspec.Meta(max_length=MAX_BODY)]
IdempotencyKey = Annotated[str | None, HeaderParameter(
    name="Idempotency-Key", required=False, max_length=200,
    description="A retried request with the same key returns the first comment (200).")]


class SectionEdit(msgspec.Struct, forbid_unknown_fields=True):
    body: Body
    """Markdown."""
    version: Annotated[int, msgspec.Meta(ge=0)]
    """The version the edit started from (GET .../sections); a newer one answers 409."""


class SectionPage(msgspec.Struct):
    items: list[SectionItem]


class NewIncidentComment(msgspec.Struct, forbid_unknown_fields=True):
    body: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_BODY)]
    """Markdown; `@alice@example.com`, `@Alice Smith` or `@alice` mention (and e-mail)
    someone of the people directory."""


class IncidentCommentPage(msgspec.Struct):
    items: list[IncidentCommentItem]


def stale(error: StaleVersion, name: str) -> Exception:
    return problem(409, "Section changed", f"section {name!r} is at version {error.current}: "
                   "load it again, merge your text and send that version",
                   current_version=error.current)


def unknown(name: str) -> Exception:
    return problem(404, "Section not found", f"the post-mortem has no section {name!r} "
                   "(GET .../postmortem/sections lists them)")


class NotebookController(Controller):
    path = "/api/v1/incidents"
    tags = ["notebook"]

    @get("/{incident_id:str}/postmortem/sections", name="notebook:sections",
         operation_id="listPostmortemSections", guards=[requires("viewer", cookie=True)])
    async def sections(self, request: Request[Any, Any, Any],
                       incident_id: FromPath[str]) -> SectionPage:
        """The draft's sections in order: text now (edited or generated), the generated
        text, whether and by whom it was edited, and its version."""
        hub: Hub = request.app.state.hub
        return SectionPage(await list_sections(hub, await load_incident(hub, incident_id)))

    @put("/{incident_id:str}/postmortem/sections/{name:str}", name="notebook:edit_section",
         operation_id="editPostmortemSection", guards=[requires("agent", cookie=True)])
    async def edit(self, request: Request[Any, Any, Any], incident_id: FromPath[str],
                   name: FromPath[str],
                   data: JSONBody[SectionEdit]) -> SectionItem:
        """Replace a section's text (Markdown); it stays when the draft is generated again.
        409 if the section changed since `version`."""
        hub: Hub = request.app.state.hub
        incident = await load_incident(hub, incident_id)
        try:
            return await save_section(hub, incident, name, data.body, data.version,
                                      await author_of(request, hub))
        except UnknownSection:
            raise unknown(name) from None
        except StaleVersion as error:
            raise stale(error, name) from None

    @delete("/{incident_id:str}/postmortem/sections/{name:str}", status_code=200,
            name="notebook:reset_section", operation_id="resetPostmortemSection",
            guards=[requires("agent", cookie=True)])
    async def reset(self, request: Request[Any, Any, Any], incident_id: FromPath[str],
                    name: FromPath[str],
                    version: Annotated[int | None, Parameter(ge=0)] = None) -> SectionItem:
        """Back to the generated text (from `version`, when given: 409 if it changed)."""
        hub: Hub = request.app.state.hub
        incident = await load_incident(hub, incident_id)
        try:
            return await save_section(hub, incident, name, None, version,
                                      await author_of(request, hub))
        except UnknownSection:
            raise unknown(name) from None
        except StaleVersion as error:
            raise stale(error, name) from None

    @get("/{incident_id:str}/comments", name="notebook:comments",
         operation_id="listIncidentComments", guards=[requires("viewer", cookie=True)])
    async def comments(self, request: Request[Any, Any, Any],
                       incident_id: FromPath[str]) -> IncidentCommentPage:
        """The incident's thread, oldest first: written here or on the published pages."""
        hub: Hub = request.app.state.hub
        await load_incident(hub, incident_id)
        return IncidentCommentPage(await incident_comments(hub, incident_id))

    @post("/{incident_id:str}/comments", name="notebook:comment",
          operation_id="addIncidentComment", status_code=201,
          guards=[requires("agent", cookie=True)])
    async def comment(self, request: Request[Any, Any, Any], incident_id: FromPath[str],
                      data: JSONBody[NewIncidentComment],
                      idempotency_key: IdempotencyKey = None) -> Response[IncidentCommentItem]:
        """A comment in the thread; each person it mentions gets one e-mail with a link to
        it. Send an `Idempotency-Key` to retry safely."""
        hub: Hub = request.app.state.hub
        await load_incident(hub, incident_id)
        author = await author_of(request, hub)
        key = idempotency_key.strip() if idempotency_key and idempotency_key.strip() else None
        try:
            item, created = await post_incident_comment(
                hub, incident_id, author, await email_of(hub, author), data.body, key)
        except KeyReused:
            raise problem(422, "Idempotency-Key reused",
                          "this Idempotency-Key came before with another comment") from None
        return Response(item, status_code=201 if created else 200)
