"""Incidents: recorded from on-call tools' webhooks or by hand, mapped to apps and pages.

Each incident keeps its timeline (triggered, acknowledged, resolved). Its service is matched to
the `[[incident_services]]` tables, which say the apps and page URLs it concerns; the impact on
recorded sessions is measured by `replayhub.index.impact`.
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from replayhub.clock import now_ms
from replayhub.config import IncidentServiceMapping
from replayhub.connector import IncidentUpdate
from replayhub.db.models import App, Incident, IncidentEvent
from replayhub.db.upsert import insert_ignore
from replayhub.index.sessions import iso
from replayhub.security import new_id

if TYPE_CHECKING:
    from replayhub.hub import Hub

TRIGGERED, ACKNOWLEDGED, RESOLVED = "triggered", "acknowledged", "resolved"
STATUSES = (TRIGGERED, ACKNOWLEDGED, RESOLVED)
MANUAL = "manual"


class Scope(msgspec.Struct):
    """What an incident concerns: app ids and page URL globs (empty: all of them)."""

    app_ids: list[str] = []
    url_patterns: list[str] = []


class IncidentSummary(msgspec.Struct):
    id: str
    title: str
    source: str
    external_id: str
    status: str
    started_at: str
    resolved_at: str | None


class TimelineEntry(msgspec.Struct):
    kind: str
    """triggered, acknowledged or resolved."""
    at: str


class IncidentDetail(IncidentSummary):
    service: str
    url: str
    app_ids: list[str]
    url_patterns: list[str]
    created_at: str
    updated_at: str
    timeline: list[TimelineEntry]
    impact_url: str


def matches(pattern: str, value: str) -> bool:
    """A case-insensitive glob match (`*`, `?`, `[...]`)."""
    return fnmatchcase(value.lower(), pattern.lower())


def mappings_for(services: list[str],
                 mappings: list[IncidentServiceMapping]) -> list[IncidentServiceMapping]:
    """The `[[incident_services]]` tables whose `service` glob matches a name or id given."""
    return [mapping for mapping in mappings
            if any(matches(mapping.service, service) for service in services if service)]


async def scope_for(tx: AsyncSession, services: list[str],
                    mappings: list[IncidentServiceMapping]) -> Scope:
    """The apps (ids) and URL globs of every mapping the services match; none: everything."""
    found = mappings_for(services, mappings)
    app_globs = [pattern for mapping in found for pattern in mapping.apps]
    urls = sorted({pattern for mapping in found for pattern in mapping.urls})
    return Scope(await resolve_apps(tx, app_globs), urls)


async def resolve_apps(tx: AsyncSession, patterns: list[str]) -> list[str]:
    """App ids whose id or name matches one of the globs."""
    if not patterns:
        return []
    apps = (await tx.execute(select(App.id, App.name))).all()
    return sorted({app_id for app_id, name in apps
                   if any(matches(p, app_id) or matches(p, name) for p in patterns)})


async def record_incident_update(hub: Hub, source: str, update_: IncidentUpdate) -> str:
    """Create or update the incident and add the change to its timeline (once per event key).

    Its status is the one of its latest timeline entry, so a late acknowledgement never
    reopens a resolved incident, while a reopened one (latest entry triggered) is open again
    with no resolved_at. An update repeating the status the incident is in (incident.io sends
    one for every edit) adds no timeline entry. An update naming services maps the incident
    to `[[incident_services]]` again. Returns the incident's id.
    """
    now = now_ms()
    started = update_.started_at or update_.occurred_at
    async with hub.db.read() as tx:
        scope = await scope_for(tx, update_.services, hub.settings.incident_services)
    async with hub.db.write() as tx:
        await insert_ignore(
            tx, Incident, id=new_id("inc"), source=source, external_id=update_.external_id,
            title=update_.title, status=update_.status, service=", ".join(update_.services[:1]),
            url=update_.url, started_at=started, resolved_at=None,
            app_ids=json.dumps(scope.app_ids), url_patterns=json.dumps(scope.url_patterns),
            created_at=now, updated_at=now)
        incident = (await tx.execute(select(Incident).where(
            Incident.source == source, Incident.external_id == update_.external_id))).scalar_one()
        latest = await _latest_event(tx, incident.id)
        if latest is None or latest.kind != update_.status:
            added = await insert_ignore(tx, IncidentEvent, incident_id=incident.id,
                                        kind=update_.status, at=update_.occurred_at,
                                        event_key=update_.event_key)
            if not added:
                return incident.id
            latest = await _latest_event(tx, incident.id)
        assert latest is not None
        values = _changed_values(incident, update_, latest, scope)
        values.update(updated_at=now, started_at=min(incident.started_at, started))
        await tx.execute(update(Incident).where(Incident.id == incident.id).values(**values))
        return incident.id


async def _latest_event(tx: AsyncSession, incident_id: str) -> IncidentEvent | None:
    return (await tx.execute(
        select(IncidentEvent).where(IncidentEvent.incident_id == incident_id)
        .order_by(IncidentEvent.at.desc(), IncidentEvent.id.desc()).limit(1))).scalar_one_or_none()


def _changed_values(incident: Incident, update_: IncidentUpdate, latest: IncidentEvent,
                    scope: Scope) -> dict[str, Any]:
    """Status and resolved_at from the latest timeline entry; title, URL, service and scope
    from the update when it carries them."""
    resolved_at = None
    if latest.kind == RESOLVED:
        resolved_at = update_.resolved_at if update_.status == RESOLVED else None
        resolved_at = resolved_at or incident.resolved_at or latest.at
    values: dict[str, Any] = {"status": latest.kind, "resolved_at": resolved_at}
    if update_.title:
        values["title"] = update_.title
    if update_.url:
        values["url"] = update_.url
    if update_.services:
        values.update(service=", ".join(update_.services[:1]),
                      app_ids=json.dumps(scope.app_ids),
                      url_patterns=json.dumps(scope.url_patterns))
    return values


class UnknownApps(ValueError):
    """An incident entered by hand names apps the hub does not have."""

    def __init__(self, app_ids: list[str]) -> None:
        super().__init__(f"unknown app_ids: {', '.join(app_ids)}")
        self.app_ids = app_ids


async def create_incident(hub: Hub, *, title: str, started_at: int, resolved_at: int | None,
                          service: str | None, app_ids: list[str] | None,
                          url_patterns: list[str] | None) -> str:
    """An incident entered by hand; its own apps/URLs win over the service mappings.

    UnknownApps (a ValueError) when an app id given is not one of the hub's apps: stored,
    it would silently scope the incident to no session at all."""
    now = now_ms()
    incident_id = new_id("inc")
    async with hub.db.read() as tx:
        scope = await scope_for(tx, [service] if service else [], hub.settings.incident_services)
        if app_ids:
            known = set((await tx.execute(select(App.id).where(App.id.in_(set(app_ids)))))
                        .scalars())
            unknown = sorted(set(app_ids) - known)
            if unknown:
                raise UnknownApps(unknown)
    if app_ids:
        scope.app_ids = sorted(set(app_ids))
    if url_patterns:
        scope.url_patterns = sorted(set(url_patterns))
    status = RESOLVED if resolved_at is not None else TRIGGERED
    async with hub.db.write() as tx:
        tx.add(Incident(id=incident_id, source=MANUAL, external_id=incident_id, title=title,
                        status=status, service=service or "", started_at=started_at,
                        resolved_at=resolved_at, app_ids=json.dumps(scope.app_ids),
                        url_patterns=json.dumps(scope.url_patterns), created_at=now,
                        updated_at=now))
        await tx.flush()
        tx.add(IncidentEvent(incident_id=incident_id, kind=TRIGGERED, at=started_at,
                             event_key="manual:triggered"))
        if resolved_at is not None:
            tx.add(IncidentEvent(incident_id=incident_id, kind=RESOLVED, at=resolved_at,
                                 event_key="manual:resolved"))
    return incident_id


def summary(incident: Incident) -> IncidentSummary:
    return IncidentSummary(
        id=incident.id, title=incident.title, source=incident.source,
        external_id=incident.external_id, status=incident.status,
        started_at=iso(incident.started_at),
        resolved_at=iso(incident.resolved_at) if incident.resolved_at is not None else None)


def scope_of(incident: Incident) -> Scope:
    return Scope(json.loads(incident.app_ids), json.loads(incident.url_patterns))


async def list_incidents(hub: Hub, limit: int = 100) -> list[IncidentSummary]:
    """Newest first."""
    async with hub.db.read() as tx:
        rows = (await tx.execute(select(Incident).order_by(
            Incident.started_at.desc(), Incident.id.desc()).limit(limit))).scalars()
        return [summary(row) for row in rows]


async def get_incident(hub: Hub, incident_id: str) -> Incident | None:
    async with hub.db.read() as tx:
        return await tx.get(Incident, incident_id)


async def incident_detail(hub: Hub, incident: Incident) -> IncidentDetail:
    async with hub.db.read() as tx:
        events = (await tx.execute(
            select(IncidentEvent).where(IncidentEvent.incident_id == incident.id)
            .order_by(IncidentEvent.at, IncidentEvent.id))).scalars()
        timeline = [TimelineEntry(event.kind, iso(event.at)) for event in events]
    scope = scope_of(incident)
    return IncidentDetail(
        **msgspec.structs.asdict(summary(incident)), service=incident.service, url=incident.url,
        app_ids=scope.app_ids, url_patterns=scope.url_patterns,
        created_at=iso(incident.created_at), updated_at=iso(incident.updated_at),
        timeline=timeline,
        impact_url=f"{hub.settings.base_url}/api/v1/incidents/{incident.id}/impact")
