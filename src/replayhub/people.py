"""People, teams and ownership rules: who owns a session, an error group or an incident.

The directory (people, teams and their members) lives in the database. The config file's
`[[people]]` and `[[teams]]` are applied at start (`seed_directory`): an entry that is new, or
that changed since it was last applied, is written and marked source=config, so an API edit of
it lasts until the entry itself changes in the file (then the file wins); an entry removed from
the file is removed. Entries created through the API (source=api) are kept.

Ownership rules (`[[ownership]]`) come from the config file. They are compiled once and matched
in Python against what a subject is made of (its apps, pages, errors and tags): the owners of a
page of error groups cost a few queries, never one per group or per rule.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import translate
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy import Connection, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from replayhub.clock import now_ms as _now
from replayhub.config import ConfigError, OwnershipRule, PersonSettings, TeamSettings, masked_repr
from replayhub.connector import ChatPerson
from replayhub.db.models import (
    App,
    ErrorEvent,
    ErrorGroup,
    Incident,
    Person,
    ReplaySession,
    SessionUrl,
    SlackIdCache,
    Team,
    TeamMember,
    Url,
)
from replayhub.db.upsert import insert_ignore_many, upsert

if TYPE_CHECKING:
    from replayhub.hub import Hub

CONFIG, API = "config", "api"
DAY = 86_400_000
SLACK_MISS_DAYS = 7
"""A Slack lookup that found nobody is tried again after this many days."""
ERROR_URL_DAYS = 7
"""An error group's pages are those of its occurrences in the week before it was last seen."""
KEYS = ("app", "url", "error", "tags")


# --- records ------------------------------------------------------------------------------


class Owners(msgspec.Struct):
    """Who owns something: team names, e-mails named directly, and the rules that said so."""

    teams: list[str] = []
    emails: list[str] = []
    rules: list[str] = []


class PersonRecord(msgspec.Struct):
    email: str
    name: str = ""
    slack: str = ""
    """Slack member id; empty: unknown (see cached_slack_id)."""
    zendesk: str = ""
    teams: str = ""
    """Microsoft Teams sign-in address; empty: the e-mail."""
    source: str = API
    member_of: list[str] = []


class TeamRecord(msgspec.Struct):
    name: str
    members: list[str] = []
    slack_channel: str = ""
    teams_webhook: str = ""
    """A secret: never returned by the API, never logged."""
    email: str = ""
    source: str = API

    def __repr__(self) -> str:
        return masked_repr(self, ("teams_webhook",))


class OwnerContact(msgspec.Struct):
    """An owner as people read it: a team or a person, with where to reach them."""

    name: str
    kind: str
    """team or person."""
    contact: str = ""

    @property
    def label(self) -> str:
        return f"{self.name} (team)" if self.kind == "team" else self.name


class DirectoryError(Exception):
    """A directory change refused; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


# --- checks -------------------------------------------------------------------------------

EMAIL = re.compile(r"[^@\s<>,;\"']+@[^@\s<>,;\"']+\.[^@\s<>,;\"'.]+")
SLACK_ID = re.compile(r"[UW][A-Z0-9]{2,49}")
ZENDESK_ID = re.compile(r"[0-9]{1,50}")
CHANNEL = re.compile(r"#?[A-Za-z0-9._-]{1,80}")
TEAM_NAME = re.compile(r"[^/\s:][^/:]{0,98}[^/\s:]|[^/\s:]")


def clean_email(value: str, field: str = "email") -> str:
    """The address in lower case; DirectoryError (422) when it is not shaped like one."""
    email = value.strip().lower()
    if len(email) > 320 or not EMAIL.fullmatch(email):
        raise DirectoryError(422, "Invalid e-mail", f"{field}: {value!r} is not an e-mail address")
    return email


def _check(pattern: re.Pattern[str], value: str, field: str, shape: str) -> str:
    value = value.strip()
    if value and not pattern.fullmatch(value):
        raise DirectoryError(422, "Invalid value", f"{field}: {value!r} is not {shape}")
    return value


def check_person(person: PersonRecord) -> PersonRecord:
    """The person with clean fields, or DirectoryError (422) naming the bad one."""
    return PersonRecord(
        email=clean_email(person.email), name=person.name.strip()[:200],
        slack=_check(SLACK_ID, person.slack, "slack", "a Slack member id (U…)"),
        zendesk=_check(ZENDESK_ID, person.zendesk, "zendesk", "a Zendesk user id"),
        teams=clean_email(person.teams, "teams") if person.teams.strip() else "",
        source=person.source)


def check_team(team: TeamRecord) -> TeamRecord:
    name = team.name.strip()
    if not TEAM_NAME.fullmatch(name):
        raise DirectoryError(422, "Invalid value", f"name: {team.name!r} must be 1-100 "
                             "characters without '/' or ':'")
    webhook = team.teams_webhook.strip()
    if webhook and not webhook.startswith("https://"):
        raise DirectoryError(422, "Invalid value", "teams_webhook: must be an https:// URL")
    members = list(dict.fromkeys(clean_email(m, "members") for m in team.members))
    return TeamRecord(
        name=name, members=members, teams_webhook=webhook, source=team.source,
        slack_channel=_check(CHANNEL, team.slack_channel, "slack_channel",
                             "a Slack channel id or name"),
        email=clean_email(team.email, "email") if team.email.strip() else "")


# --- reading the directory ----------------------------------------------------------------


def _person(row: Person, member_of: list[str] | None = None) -> PersonRecord:
    return PersonRecord(email=row.email, name=row.name, slack=row.slack, zendesk=row.zendesk,
                        teams=row.teams_address, source=row.source, member_of=member_of or [])


async def _memberships(tx: AsyncSession, emails: list[str] | None = None) -> dict[str, list[str]]:
    """Each person's teams, by e-mail (of `emails` only, when given)."""
    return await _team_links(tx, TeamMember.email, TeamMember.team_name, emails)


async def _team_links(tx: AsyncSession, key: Any, value: Any,
                      keys: list[str] | None) -> dict[str, list[str]]:
    """team_members as `key` -> sorted `value`s (people's teams, or teams' members)."""
    query = select(key, value).order_by(value)
    if keys is not None:
        query = query.where(key.in_(keys))
    found: dict[str, list[str]] = defaultdict(list)
    for owner, item in (await tx.execute(query)).all():
        found[owner].append(item)
    return found


async def list_people(hub: Hub) -> list[PersonRecord]:
    async with hub.db.read() as tx:
        rows = (await tx.execute(select(Person).order_by(Person.email))).scalars().all()
        teams = await _memberships(tx)
    return [_person(row, teams.get(row.email)) for row in rows]


async def get_person(hub: Hub, email: str) -> PersonRecord | None:
    email = email.strip().lower()
    async with hub.db.read() as tx:
        row = await tx.get(Person, email)
        return _person(row, (await _memberships(tx, [email])).get(email)) if row else None


async def find_person(hub: Hub, handle: str) -> PersonRecord | None:
    """The person with this e-mail, else the one person with this name (case-insensitive);
    a leading @ is ignored. None when nobody (or more than one person) answers to it."""
    handle = handle.strip().removeprefix("@").strip()
    if not handle:
        return None
    if "@" in handle:
        return await get_person(hub, handle)
    async with hub.db.read() as tx:
        rows = (await tx.execute(select(Person).where(
            func.lower(Person.name) == handle.lower()).limit(2))).scalars().all()
    return _person(rows[0]) if len(rows) == 1 else None


def _team(row: Team, members: list[str]) -> TeamRecord:
    return TeamRecord(name=row.name, members=members, slack_channel=row.slack_channel,
                      teams_webhook=row.teams_webhook, email=row.email, source=row.source)


async def _members(tx: AsyncSession, names: list[str] | None = None) -> dict[str, list[str]]:
    """Each team's members' e-mails, by team name (of `names` only, when given)."""
    return await _team_links(tx, TeamMember.team_name, TeamMember.email, names)


async def list_teams(hub: Hub) -> list[TeamRecord]:
    async with hub.db.read() as tx:
        rows = (await tx.execute(select(Team).order_by(Team.name))).scalars().all()
        members = await _members(tx)
    return [_team(row, members.get(row.name, [])) for row in rows]


async def _team_row(tx: AsyncSession, name: str) -> Team | None:
    return (await tx.execute(select(Team).where(
        func.lower(Team.name) == name.strip().lower()).limit(1))).scalar_one_or_none()


async def team(hub: Hub, name: str) -> TeamRecord | None:
    """The team (name case-insensitive) with its members, channels and webhook (a secret)."""
    async with hub.db.read() as tx:
        row = await _team_row(tx, name)
        if row is None:
            return None
        return _team(row, (await _members(tx, [row.name])).get(row.name, []))


async def chat_people(hub: Hub, emails: list[str]) -> list[ChatPerson]:
    """People with the ids chat vendors mention them by (the Slack id known or cached);
    an e-mail not in the directory becomes a ChatPerson with the e-mail alone."""
    wanted = list(dict.fromkeys(email.strip().lower() for email in emails if email.strip()))
    if not wanted:
        return []
    async with hub.db.read() as tx:
        rows = {row.email: row for row in (await tx.execute(
            select(Person).where(Person.email.in_(wanted)))).scalars()}
        cached = dict((await tx.execute(select(SlackIdCache.email, SlackIdCache.slack_id)
                                        .where(SlackIdCache.email.in_(wanted)))).all())
    found = []
    for email in wanted:
        row = rows.get(email)
        slack = (row.slack if row else "") or cached.get(email, "")
        found.append(ChatPerson(email=email, name=row.name if row else "", slack=slack,
                                teams=row.teams_address if row else ""))
    return found


async def members_of(hub: Hub, owners: Owners) -> list[str]:
    """The e-mails named directly, then the members of the owning teams (no duplicates)."""
    async with hub.db.read() as tx:
        rows = (await tx.execute(select(Team.name).where(
            func.lower(Team.name).in_([name.lower() for name in owners.teams])))).scalars()
        members = await _members(tx, list(rows))
    teams = {name.lower(): emails for name, emails in members.items()}
    found = list(owners.emails)
    for name in owners.teams:
        found.extend(teams.get(name.lower(), []))
    return list(dict.fromkeys(found))


async def owner_contacts(hub: Hub, owners: Owners) -> list[OwnerContact]:
    """The owning teams (with their channel or e-mail), then the people (name, e-mail)."""
    if not owners.teams and not owners.emails:
        return []
    async with hub.db.read() as tx:
        teams = {row.name.lower(): row for row in (await tx.execute(select(Team).where(
            func.lower(Team.name).in_([name.lower() for name in owners.teams])))).scalars()}
        people = {row.email: row for row in (await tx.execute(
            select(Person).where(Person.email.in_(owners.emails)))).scalars()}
    found = []
    for name in owners.teams:
        row = teams.get(name.lower())
        contact = (row.slack_channel or row.email) if row else ""
        found.append(OwnerContact(row.name if row else name, "team", contact))
    for email in owners.emails:
        person = people.get(email)
        found.append(OwnerContact((person.name if person else "") or email, "person", email))
    return found


async def owner_labels(hub: Hub, owners: Owners | None) -> list[str]:
    """Owners as a reader sees them: `Payments (team)`, `Ada Lovelace` (none: [])."""
    if owners is None:
        return []
    return [contact.label for contact in await owner_contacts(hub, owners)]


async def owner_labels_many(hub: Hub, owners: list[Owners]) -> list[list[str]]:
    """owner_labels for many subjects at once (two queries, whatever their number)."""
    everyone = merge(owners)
    contacts = await owner_contacts(hub, everyone)
    teams = dict(zip([name.lower() for name in everyone.teams], contacts, strict=False))
    people = dict(zip(everyone.emails, contacts[len(everyone.teams):], strict=True))
    return [[teams[name.lower()].label for name in one.teams]
            + [people[email].label for email in one.emails] for one in owners]


# --- changing the directory ---------------------------------------------------------------


def _person_values(person: PersonRecord) -> dict[str, Any]:
    return {"name": person.name, "slack": person.slack, "zendesk": person.zendesk,
            "teams_address": person.teams}


async def create_person(hub: Hub, person: PersonRecord) -> PersonRecord:
    person = check_person(person)
    now = _now()
    try:
        async with hub.db.write() as tx:
            if await tx.get(Person, person.email) is not None:
                raise DirectoryError(409, "Person exists",
                                     f"{person.email} is already in the directory")
            tx.add(Person(email=person.email, source=API, created_at=now, updated_at=now,
                          **_person_values(person)))
    except IntegrityError:
        raise DirectoryError(409, "Person exists",
                             f"{person.email} is already in the directory") from None
    await forget_slack_id(hub, person.email)
    return await _must_person(hub, person.email)


async def update_person(hub: Hub, email: str, changes: dict[str, str]) -> PersonRecord:
    """Change some of name, slack, zendesk, teams (the e-mail is the person's key)."""
    async with hub.db.write() as tx:
        row = await tx.get(Person, email.strip().lower())
        if row is None:
            raise DirectoryError(404, "Person not found", f"no person {email!r}")
        merged = msgspec.structs.replace(_person(row), **changes)
        values = _person_values(check_person(merged))
        for name, value in values.items():
            setattr(row, name, value)
        row.updated_at = _now()
    if "slack" in changes:
        await forget_slack_id(hub, row.email)
    return await _must_person(hub, row.email)


async def _must_person(hub: Hub, email: str) -> PersonRecord:
    person = await get_person(hub, email)
    if person is None:  # pragma: no cover - deleted between the write and this read
        raise DirectoryError(404, "Person not found", f"no person {email!r}")
    return person


async def delete_person(hub: Hub, email: str) -> None:
    """Remove a person and their team memberships; config entries are removed in the file."""
    async with hub.db.write() as tx:
        row = await tx.get(Person, email.strip().lower())
        if row is None:
            raise DirectoryError(404, "Person not found", f"no person {email!r}")
        if row.source == CONFIG:
            raise DirectoryError(409, "Defined in the config file",
                                 f"{row.email} comes from [[people]]: remove it there")
        await tx.execute(delete(TeamMember).where(TeamMember.email == row.email))
        await tx.delete(row)


async def _check_members(tx: AsyncSession, members: list[str]) -> None:
    known = set((await tx.execute(select(Person.email).where(
        Person.email.in_(members)))).scalars())
    unknown = [email for email in members if email not in known]
    if unknown:
        raise DirectoryError(422, "Unknown member", "members: not in the directory (add them "
                             f"with POST /api/v1/people first): {', '.join(unknown)}")


async def create_team(hub: Hub, new: TeamRecord) -> TeamRecord:
    new = check_team(new)
    now = _now()
    try:
        async with hub.db.write() as tx:
            if await _team_row(tx, new.name) is not None:
                raise DirectoryError(409, "Team exists", f"a team {new.name!r} already exists")
            await _check_members(tx, new.members)
            tx.add(Team(name=new.name, slack_channel=new.slack_channel, email=new.email,
                        teams_webhook=new.teams_webhook, source=API, created_at=now,
                        updated_at=now))
            await tx.flush()
            tx.add_all([TeamMember(team_name=new.name, email=e) for e in new.members])
    except IntegrityError:
        raise DirectoryError(409, "Team exists", f"a team {new.name!r} already exists") from None
    return await _must_team(hub, new.name)


async def update_team(hub: Hub, name: str, changes: dict[str, Any]) -> TeamRecord:
    """Change some of members, slack_channel, teams_webhook, email (not the name)."""
    async with hub.db.write() as tx:
        row = await _team_row(tx, name)
        if row is None:
            raise DirectoryError(404, "Team not found", f"no team {name!r}")
        members = (await _members(tx, [row.name])).get(row.name, [])
        merged = check_team(msgspec.structs.replace(_team(row, members), **changes))
        await _check_members(tx, merged.members)
        row.slack_channel, row.email = merged.slack_channel, merged.email
        row.teams_webhook, row.updated_at = merged.teams_webhook, _now()
        if "members" in changes:
            await tx.execute(delete(TeamMember).where(TeamMember.team_name == row.name))
            tx.add_all([TeamMember(team_name=row.name, email=e) for e in merged.members])
    return await _must_team(hub, row.name)


async def _must_team(hub: Hub, name: str) -> TeamRecord:
    found = await team(hub, name)
    if found is None:  # pragma: no cover - deleted between the write and this read
        raise DirectoryError(404, "Team not found", f"no team {name!r}")
    return found


async def delete_team(hub: Hub, name: str) -> None:
    async with hub.db.write() as tx:
        row = await _team_row(tx, name)
        if row is None:
            raise DirectoryError(404, "Team not found", f"no team {name!r}")
        if row.source == CONFIG:
            raise DirectoryError(409, "Defined in the config file",
                                 f"team {row.name!r} comes from [[teams]]: remove it there")
        await tx.execute(delete(TeamMember).where(TeamMember.team_name == row.name))
        await tx.delete(row)


# --- the config file's entries ------------------------------------------------------------


def _hash(entry: msgspec.Struct) -> str:
    return hashlib.sha256(msgspec.json.encode(entry)).hexdigest()


def _config_people(people: list[PersonSettings],
                   teams: list[TeamSettings]) -> dict[str, PersonSettings]:
    """[[people]] by e-mail, plus team members missing from it (as bare entries)."""
    found: dict[str, PersonSettings] = {}
    for entry in people:
        try:
            person = check_person(PersonRecord(entry.email, entry.name, entry.slack,
                                               entry.zendesk, entry.teams))
        except DirectoryError as bad:
            raise ConfigError(f"[[people]] {entry.email!r}: {bad.detail}") from None
        found[person.email] = PersonSettings(person.email, person.name, person.slack,
                                             person.zendesk, person.teams)
    for entry in teams:
        for member in entry.members:
            try:
                email = clean_email(member, "members")
            except DirectoryError as bad:
                raise ConfigError(f"[[teams]] {entry.name!r}: {bad.detail}") from None
            found.setdefault(email, PersonSettings(email))
    return found


def _config_teams(teams: list[TeamSettings]) -> list[TeamSettings]:
    found = []
    for entry in teams:
        try:
            clean = check_team(TeamRecord(entry.name, entry.members, entry.slack_channel,
                                          entry.teams_webhook, entry.email))
        except DirectoryError as bad:
            raise ConfigError(f"[[teams]] {entry.name!r}: {bad.detail}") from None
        found.append(TeamSettings(clean.name, clean.members, clean.slack_channel,
                                  clean.teams_webhook, clean.email))
    return found


async def seed_directory(hub: Hub) -> None:
    """Apply the config file's people and teams (see the module's docstring)."""
    people = _config_people(hub.settings.people, hub.settings.teams)
    teams = _config_teams(hub.settings.teams)
    now = _now()
    async with hub.db.transaction() as tx:
        await tx.finish(lambda connection: _seed(connection, people, teams, now))


def _seed(tx: Connection, people: dict[str, PersonSettings], teams: list[TeamSettings],
          now: int) -> None:
    known = dict(tx.execute(select(Person.email, Person.config_hash)
                            .where(Person.source == CONFIG)).all())
    for email, entry in people.items():
        digest = _hash(entry)
        if known.get(email) != digest:
            upsert(tx, Person, ["email"], {
                "email": email, "name": entry.name, "slack": entry.slack,
                "zendesk": entry.zendesk, "teams_address": entry.teams, "source": CONFIG,
                "config_hash": digest, "created_at": now, "updated_at": now})
    known_teams = dict(tx.execute(select(Team.name, Team.config_hash)
                                  .where(Team.source == CONFIG)).all())
    for entry in teams:
        digest = _hash(entry)
        if known_teams.get(entry.name) == digest:
            continue
        upsert(tx, Team, ["name"], {
            "name": entry.name, "slack_channel": entry.slack_channel, "email": entry.email,
            "teams_webhook": entry.teams_webhook, "source": CONFIG, "config_hash": digest,
            "created_at": now, "updated_at": now})
        tx.execute(delete(TeamMember).where(TeamMember.team_name == entry.name))
        if entry.members:
            insert_ignore_many(tx, TeamMember, [{"team_name": entry.name, "email": email}
                                                for email in entry.members])
    gone_teams = set(known_teams) - {entry.name for entry in teams}
    gone_people = set(known) - set(people)
    if gone_teams:
        tx.execute(delete(TeamMember).where(TeamMember.team_name.in_(gone_teams)))
        tx.execute(delete(Team).where(Team.name.in_(gone_teams)))
    if gone_people:
        tx.execute(delete(TeamMember).where(TeamMember.email.in_(gone_people)))
        tx.execute(delete(Person).where(Person.email.in_(gone_people)))


# --- the Slack id cache -------------------------------------------------------------------


async def cached_slack_id(hub: Hub, email: str) -> str | None:
    """The Slack member id found for this e-mail: None when never looked up (or a miss is
    older than SLACK_MISS_DAYS), "" when the last lookup found nobody."""
    async with hub.db.read() as tx:
        row = await tx.get(SlackIdCache, email.strip().lower())
    if row is None:
        return None
    if not row.slack_id and _now() - row.looked_up_at > SLACK_MISS_DAYS * DAY:
        return None
    return row.slack_id


async def remember_slack_id(hub: Hub, email: str, slack_id: str) -> None:
    """Keep what users.lookupByEmail answered ("" for no such member)."""
    values = {"email": email.strip().lower(), "slack_id": slack_id[:50],
              "looked_up_at": _now()}
    async with hub.db.transaction() as tx:
        await tx.finish(lambda connection: upsert(connection, SlackIdCache, ["email"], values))


async def forget_slack_id(hub: Hub, email: str) -> None:
    async with hub.db.write() as tx:
        await tx.execute(delete(SlackIdCache).where(SlackIdCache.email == email.lower()))


# --- ownership rules ----------------------------------------------------------------------


class Pattern:
    """A case-insensitive glob matched against the whole value, or `re:` and a regex
    searched anywhere in it (also case-insensitive)."""

    __slots__ = ("_find", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        if text.startswith("re:"):
            self._find = re.compile(text[3:], re.IGNORECASE).search
        else:
            self._find = re.compile(translate(text), re.IGNORECASE).match

    def matches(self, value: str) -> bool:
        return self._find(value) is not None


@dataclass(frozen=True)
class Rule:
    name: str
    conditions: dict[str, list[Pattern]]
    owners: list[str]
    stop: bool


def compile_rules(rules: list[OwnershipRule]) -> list[Rule]:
    """The rules with their patterns compiled (the config checked the regexes already)."""
    return [Rule(rule.name, {key: [Pattern(p) for p in patterns]
                             for key, patterns in rule.match.patterns().items()},
                 list(rule.owners), rule.stop)
            for rule in rules]


_compiled: dict[int, tuple[list[OwnershipRule], list[Rule]]] = {}


def rules_of(hub: Hub) -> list[Rule]:
    """The hub's rules, compiled once per settings object."""
    source = hub.settings.ownership
    cached = _compiled.get(id(source))
    if cached is None or cached[0] is not source:
        cached = (source, compile_rules(source))
        _compiled[id(source)] = cached
    return cached[1]


class Subject(msgspec.Struct):
    """What ownership rules look at: `app` conditions see apps, `url` urls, and so on."""

    apps: list[str] = []
    urls: list[str] = []
    errors: list[str] = []
    tags: list[str] = []

    def values(self, key: str) -> list[str]:
        return {"app": self.apps, "url": self.urls, "error": self.errors,
                "tags": self.tags}[key]


class ConditionResult(msgspec.Struct):
    key: str
    patterns: list[str]
    matched: str | None
    """The value that matched, None when none did."""


class RuleResult(msgspec.Struct):
    name: str
    matched: bool
    tried: bool
    """False: an earlier matching rule had stop, so this one was not tried."""
    stop: bool
    owners: list[str]
    conditions: list[ConditionResult]
    """Empty: a catch-all."""


def _condition(key: str, patterns: list[Pattern], subject: Subject) -> ConditionResult:
    for value in subject.values(key):
        if any(pattern.matches(value) for pattern in patterns):
            return ConditionResult(key, [p.text for p in patterns], value)
    return ConditionResult(key, [p.text for p in patterns], None)


def evaluate(rules: list[Rule], subject: Subject) -> list[RuleResult]:
    """Every rule in order: whether it matched (all its conditions did) and why."""
    results, stopped = [], False
    for rule in rules:
        if stopped:
            results.append(RuleResult(rule.name, False, False, rule.stop, rule.owners, []))
            continue
        conditions = [_condition(key, patterns, subject)
                      for key, patterns in rule.conditions.items()]
        matched = all(condition.matched is not None for condition in conditions)
        results.append(RuleResult(rule.name, matched, True, rule.stop, rule.owners, conditions))
        stopped = matched and rule.stop
    return results


def owners_from(results: list[RuleResult]) -> Owners:
    teams: dict[str, None] = {}
    emails: dict[str, None] = {}
    for result in results:
        if not result.matched:
            continue
        for owner in result.owners:
            if owner.startswith("team:"):
                teams[owner[5:].strip()] = None
            else:
                emails[owner.strip().lower()] = None
    return Owners(list(teams), list(emails), [r.name for r in results if r.matched])


def owners_of(rules: list[Rule], subject: Subject) -> Owners:
    return owners_from(evaluate(rules, subject))


def keys_used(rules: list[Rule]) -> set[str]:
    """The subject parts some rule looks at: the others need not be loaded."""
    return {key for rule in rules for key in rule.conditions}


def merge(owners: Iterable[Owners]) -> Owners:
    teams: dict[str, None] = {}
    emails: dict[str, None] = {}
    rules: dict[str, None] = {}
    for one in owners:
        teams.update(dict.fromkeys(one.teams))
        emails.update(dict.fromkeys(one.emails))
        rules.update(dict.fromkeys(one.rules))
    return Owners(list(teams), list(emails), list(rules))


# --- subjects from the database -----------------------------------------------------------


async def _app_names(tx: AsyncSession) -> dict[str, str]:
    return dict((await tx.execute(select(App.id, App.name))).all())


def _error_values(fingerprint: str, type_: str, message: str) -> list[str]:
    return [fingerprint, message, *([f"{type_}: {message}"] if type_ else [])]


async def session_subjects(tx: AsyncSession, session_ids: list[str],
                           keys: Iterable[str] = KEYS) -> dict[str, Subject]:
    """What each session is made of: its app, the pages it visited, its errors."""
    keys = set(keys)
    rows = (await tx.execute(select(ReplaySession.id, ReplaySession.app_id)
                             .where(ReplaySession.id.in_(session_ids)))).all()
    apps = await _app_names(tx) if "app" in keys else {}
    subjects = {sid: Subject(apps=[app_id, *([apps[app_id]] if app_id in apps else [])])
                for sid, app_id in rows}
    if "url" in keys and subjects:
        for sid, url in (await tx.execute(
                select(SessionUrl.session_id, Url.url).join(Url, Url.id == SessionUrl.url_id)
                .where(SessionUrl.session_id.in_(list(subjects))))).all():
            subjects[sid].urls.append(url)
    if "error" in keys and subjects:
        for sid, fingerprint, type_, message in (await tx.execute(
                select(ErrorEvent.session_id, ErrorGroup.fingerprint, ErrorGroup.type,
                       ErrorGroup.message).distinct()
                .select_from(ErrorEvent).join(ErrorGroup, ErrorGroup.id == ErrorEvent.group_id)
                .where(ErrorEvent.session_id.in_(list(subjects))))).all():
            subjects[sid].errors.extend(_error_values(fingerprint, type_, message))
    return subjects


async def error_subjects(tx: AsyncSession, fingerprints: list[str],
                         keys: Iterable[str] = KEYS) -> dict[tuple[str, str], Subject]:
    """Each error group (app id, fingerprint): its app, fingerprint, message and recent pages."""
    keys = set(keys)
    groups = (await tx.execute(select(ErrorGroup).where(
        ErrorGroup.fingerprint.in_(fingerprints)))).scalars().all()
    apps = await _app_names(tx) if "app" in keys else {}
    subjects = {}
    for group in groups:
        app = [group.app_id, *([apps[group.app_id]] if group.app_id in apps else [])]
        subjects[(group.app_id, group.fingerprint)] = Subject(
            apps=app, errors=_error_values(group.fingerprint, group.type, group.message))
    if "url" in keys and groups:
        for app_id, fingerprint, url in (await tx.execute(
                select(ErrorGroup.app_id, ErrorGroup.fingerprint, ErrorEvent.url).distinct()
                .select_from(ErrorEvent).join(ErrorGroup, ErrorGroup.id == ErrorEvent.group_id)
                .where(ErrorEvent.group_id.in_([group.id for group in groups]),
                       ErrorEvent.t >= ErrorGroup.last_seen - ERROR_URL_DAYS * DAY,
                       ErrorEvent.url != ""))).all():
            subjects[(app_id, fingerprint)].urls.append(url)
    return subjects


async def incident_subject(tx: AsyncSession, incident: Incident) -> Subject:
    """An incident's scope: its apps (ids and names) and service, its page URL globs."""
    app_ids = json.loads(incident.app_ids or "[]")
    apps = await _app_names(tx) if app_ids else {}
    values = [value for app_id in app_ids for value in (app_id, apps.get(app_id)) if value]
    if incident.service:
        values.append(incident.service)
    return Subject(apps=values, urls=json.loads(incident.url_patterns or "[]"))


async def free_subject(tx: AsyncSession, *, app: str = "", url: str = "", error: str = "",
                       tags: Iterable[str] = ()) -> Subject:
    """A subject given by hand; an app may be named by id or name (both are matched)."""
    apps = []
    if app:
        names = await _app_names(tx)
        apps = [app, *(name for app_id, name in names.items() if app_id == app),
                *(app_id for app_id, name in names.items() if name.lower() == app.lower())]
    return Subject(apps=list(dict.fromkeys(apps)), urls=[url] if url else [],
                   errors=[error] if error else [], tags=[tag for tag in tags if tag])


# --- owners: the one place they are computed ----------------------------------------------


async def owners_of_sessions(hub: Hub, session_ids: list[str]) -> dict[str, Owners]:
    """Owners of each session (those not found are left out); three queries at most."""
    rules = rules_of(hub)
    if not rules or not session_ids:
        return {session_id: Owners() for session_id in session_ids}
    async with hub.db.read() as tx:
        subjects = await session_subjects(tx, session_ids, keys_used(rules))
    return {sid: owners_of(rules, subject) for sid, subject in subjects.items()}


async def owners_of_session(hub: Hub, session_id: str) -> Owners:
    return (await owners_of_sessions(hub, [session_id])).get(session_id, Owners())


async def owners_of_error_groups(hub: Hub, fingerprints: list[str]
                                 ) -> dict[tuple[str, str], Owners]:
    """Owners of each error group, keyed by (app id, fingerprint); three queries at most."""
    rules = rules_of(hub)
    if not rules or not fingerprints:
        return {}
    async with hub.db.read() as tx:
        subjects = await error_subjects(tx, list(dict.fromkeys(fingerprints)),
                                        keys_used(rules))
    return {key: owners_of(rules, subject) for key, subject in subjects.items()}


async def owners_of_error(hub: Hub, fingerprint: str) -> Owners:
    """Owners of the error groups with this fingerprint (in every app)."""
    return merge((await owners_of_error_groups(hub, [fingerprint])).values())


async def owners_of_incident(hub: Hub, incident: Incident | str) -> Owners:
    """Owners of an incident (the row, or its id) by its scope: apps, service, URL globs."""
    rules = rules_of(hub)
    if not rules:
        return Owners()
    async with hub.db.read() as tx:
        row = await tx.get(Incident, incident) if isinstance(incident, str) else incident
        if row is None:
            return Owners()
        subject = await incident_subject(tx, row)
    return owners_of(rules, subject)


async def owners_for(hub: Hub, *, app: str = "", url: str = "", error: str = "",
                     tags: Iterable[str] = ()) -> Owners:
    """Owners of a subject described by hand (an alert about a page, an error text...)."""
    rules = rules_of(hub)
    if not rules:
        return Owners()
    async with hub.db.read() as tx:
        subject = await free_subject(tx, app=app, url=url, error=error, tags=tags)
    return owners_of(rules, subject)
