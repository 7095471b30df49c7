"""People, teams and ownership: the directory's API and the ownership rules' explanation."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.exceptions import HTTPException
from litestar.params import FromPath, JSONBody

from replayhub.db.models import Incident
from replayhub.hub import Hub
from replayhub.people import (
    KEYS,
    DirectoryError,
    Owners,
    PersonRecord,
    RuleResult,
    Subject,
    TeamRecord,
    create_person,
    create_team,
    delete_person,
    delete_team,
    error_subjects,
    evaluate,
    free_subject,
    get_person,
    incident_subject,
    list_people,
    list_teams,
    owners_from,
    rules_of,
    session_subjects,
    team,
    update_person,
    update_team,
)
from replayhub.web.auth import requires
from replayhub.web.problems import problem

Short = Annotated[str, msgspec.Meta(max_length=320)]
Long = Annotated[str, msgspec.Meta(max_length=2000)]


class PersonIn(msgspec.Struct, forbid_unknown_fields=True):
    email: Short
    name: Short = ""
    slack: Short = ""
    """Slack member id (U…); empty: looked up by e-mail when a message mentions them."""
    zendesk: Short = ""
    teams: Short = ""
    """Microsoft Teams sign-in address; empty: the e-mail."""


class PersonPatch(msgspec.Struct, forbid_unknown_fields=True):
    """The fields to change (the e-mail is the person's key and cannot change)."""

    name: Short | None = None
    slack: Short | None = None
    zendesk: Short | None = None
    teams: Short | None = None


class PersonList(msgspec.Struct):
    items: list[PersonRecord]


class TeamIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Short
    members: list[Short] = []
    """E-mails of people already in the directory."""
    slack_channel: Short = ""
    teams_webhook: Long = ""
    """A Power Automate Workflows URL (a secret: it is never shown again)."""
    email: Short = ""


class TeamPatch(msgspec.Struct, forbid_unknown_fields=True):
    """The fields to change (not the name); `teams_webhook: ""` removes the webhook."""

    members: list[Short] | None = None
    slack_channel: Short | None = None
    teams_webhook: Long | None = None
    email: Short | None = None


class TeamOut(msgspec.Struct):
    name: str
    members: list[str]
    slack_channel: str
    teams_webhook_set: bool
    """Whether a Teams webhook is configured (the URL itself is a secret)."""
    email: str
    source: str
    """config ([[teams]] in the config file) or api."""


class TeamList(msgspec.Struct):
    items: list[TeamOut]


class OwnershipQuestion(msgspec.Struct, forbid_unknown_fields=True):
    """What to explain: a session, an error fingerprint, an incident, or values by hand."""

    session_id: Short | None = None
    fingerprint: Short | None = None
    incident_id: Short | None = None
    app: Short = ""
    url: Long = ""
    error: Long = ""
    tags: list[Short] = []


class OwnershipAnswer(msgspec.Struct):
    subject: Subject
    """What the rules were matched against."""
    rules: list[RuleResult]
    """Every rule in order, with the value each condition matched (null: none)."""
    owners: Owners


def team_out(record: TeamRecord) -> TeamOut:
    return TeamOut(record.name, record.members, record.slack_channel,
                   bool(record.teams_webhook), record.email, record.source)


def refused(error: DirectoryError) -> HTTPException:
    return problem(error.status, error.title, error.detail)


def changes_of(patch_: msgspec.Struct) -> dict[str, Any]:
    return {name: value for name, value in msgspec.structs.asdict(patch_).items()
            if value is not None}


class PeopleController(Controller):
    path = "/api/v1/people"
    tags = ["people"]

    @get("/", name="people:list", operation_id="listPeople", guards=[requires("viewer")])
    async def list_all(self, request: Request[Any, Any, Any]) -> PersonList:
        """Everyone in the directory, by e-mail, with the teams they belong to."""
        return PersonList(await list_people(request.app.state.hub))

    @post("/", name="people:create", operation_id="createPerson", status_code=201,
          guards=[requires("admin")])
    async def create(self, request: Request[Any, Any, Any],
                     data: JSONBody[PersonIn]) -> PersonRecord:
        """Add a person (409 when the e-mail is already in the directory)."""
        try:
            return await create_person(request.app.state.hub, PersonRecord(
                data.email, data.name, data.slack, data.zendesk, data.teams))
        except DirectoryError as error:
            raise refused(error) from None

    @get("/{email:str}", name="people:detail", operation_id="getPerson",
         guards=[requires("viewer")])
    async def detail(self, request: Request[Any, Any, Any], email: FromPath[str]) -> PersonRecord:
        person = await get_person(request.app.state.hub, email)
        if person is None:
            raise problem(404, "Person not found", f"no person {email!r}")
        return person

    @patch("/{email:str}", name="people:update", operation_id="updatePerson",
           guards=[requires("admin")])
    async def update(self, request: Request[Any, Any, Any], email: FromPath[str],
                     data: JSONBody[PersonPatch]) -> PersonRecord:
        try:
            return await update_person(request.app.state.hub, email, changes_of(data))
        except DirectoryError as error:
            raise refused(error) from None

    @delete("/{email:str}", name="people:delete", operation_id="deletePerson",
            guards=[requires("admin")])
    async def remove(self, request: Request[Any, Any, Any], email: FromPath[str]) -> None:
        """Remove a person and their memberships (409 for a [[people]] entry of the file)."""
        try:
            await delete_person(request.app.state.hub, email)
        except DirectoryError as error:
            raise refused(error) from None


class TeamController(Controller):
    path = "/api/v1/teams"
    tags = ["people"]

    @get("/", name="teams:list", operation_id="listTeams", guards=[requires("viewer")])
    async def list_all(self, request: Request[Any, Any, Any]) -> TeamList:
        return TeamList([team_out(t) for t in await list_teams(request.app.state.hub)])

    @post("/", name="teams:create", operation_id="createTeam", status_code=201,
          guards=[requires("admin")])
    async def create(self, request: Request[Any, Any, Any], data: JSONBody[TeamIn]) -> TeamOut:
        """Add a team; its members must be in the directory (422 otherwise)."""
        try:
            return team_out(await create_team(request.app.state.hub, TeamRecord(
                data.name, data.members, data.slack_channel, data.teams_webhook, data.email)))
        except DirectoryError as error:
            raise refused(error) from None

    @get("/{name:str}", name="teams:detail", operation_id="getTeam",
         guards=[requires("viewer")])
    async def detail(self, request: Request[Any, Any, Any], name: FromPath[str]) -> TeamOut:
        found = await team(request.app.state.hub, name)
        if found is None:
            raise problem(404, "Team not found", f"no team {name!r}")
        return team_out(found)

    @patch("/{name:str}", name="teams:update", operation_id="updateTeam",
           guards=[requires("admin")])
    async def update(self, request: Request[Any, Any, Any], name: FromPath[str],
                     data: JSONBody[TeamPatch]) -> TeamOut:
        try:
            return team_out(await update_team(request.app.state.hub, name, changes_of(data)))
        except DirectoryError as error:
            raise refused(error) from None

    @delete("/{name:str}", name="teams:delete", operation_id="deleteTeam",
            guards=[requires("admin")])
    async def remove(self, request: Request[Any, Any, Any], name: FromPath[str]) -> None:
        try:
            await delete_team(request.app.state.hub, name)
        except DirectoryError as error:
            raise refused(error) from None


async def question_subject(hub: Hub, question: OwnershipQuestion) -> Subject:
    """The subject to explain: the one named by id, else the values given."""
    async with hub.db.read() as tx:
        if question.session_id:
            found = await session_subjects(tx, [question.session_id], KEYS)
            if question.session_id not in found:
                raise problem(404, "Session not found", f"no session {question.session_id!r}")
            return found[question.session_id]
        if question.fingerprint:
            groups = await error_subjects(tx, [question.fingerprint], KEYS)
            if not groups:
                raise problem(404, "Error not found",
                              f"no error group {question.fingerprint!r}")
            return _union(list(groups.values()))
        if question.incident_id:
            incident = await tx.get(Incident, question.incident_id)
            if incident is None:
                raise problem(404, "Incident not found", f"no incident {question.incident_id!r}")
            return await incident_subject(tx, incident)
        return await free_subject(tx, app=question.app, url=question.url,
                                  error=question.error, tags=question.tags)


def _union(subjects: list[Subject]) -> Subject:
    def values(key: str) -> list[str]:
        return list(dict.fromkeys(v for subject in subjects for v in subject.values(key)))

    return Subject(values("app"), values("url"), values("error"), values("tags"))


@post("/api/v1/ownership/test", name="ownership:test", operation_id="testOwnership",
      status_code=200, tags=["people"], guards=[requires("viewer")])
async def explain_ownership(request: Request[Any, Any, Any],
                         data: JSONBody[OwnershipQuestion]) -> OwnershipAnswer:
    """Which `[[ownership]]` rules match a session, an error, an incident or given values
    (app, url, error, tags), condition by condition, and the owners that follow."""
    hub: Hub = request.app.state.hub
    subject = await question_subject(hub, data)
    results = evaluate(rules_of(hub), subject)
    return OwnershipAnswer(subject, results, owners_from(results))


PEOPLE_HANDLERS = [PeopleController, TeamController, explain_ownership]
