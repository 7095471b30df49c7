"""Scheduled reports: this period against the previous one, by e-mail and in Slack.

A report covers the sessions of its filters (or of a playlist) over its period: sessions,
users, sessions with errors and the frustration rate with their change; new and regressed
error groups ranked by affected users; frustration hotspots; a playlist's new sessions; the
most telling replays with snapshots; a chart of errors and affected users per local day
(or hour). The scheduler (replayhub.schedules, kind "report") runs it; each run is stored
(its page in the hub) and each of its deliveries is keyed by (report, run, recipient) in the
outbox, so a restart, a retry or a second process never sends the same report twice.

Sessions older than `retention_days` are deleted: when the previous period reaches past that,
the report says there is no comparison instead of showing changes against missing data.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from datetime import time as dt_time
from itertools import pairwise
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import css_inline
import msgspec
import structlog
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    case,
    delete,
    distinct,
    func,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from replayhub import people, playlists
from replayhub.charts import errors_chart
from replayhub.clock import now_ms
from replayhub.connector import VendorError
from replayhub.db.models import (
    ErrorEvent,
    ErrorGroup,
    ErrorResolution,
    Frustration,
    PlaylistItem,
    ReplaySession,
    Report,
    ReportRun,
    Schedule,
    ScheduleRun,
)
from replayhub.incidents import Scope
from replayhub.index.errors import DAY, HOUR
from replayhub.index.impact import SESSION_SPAN, frustration_filters
from replayhub.index.sessions import SessionFilters, iso, session_query
from replayhub.mail import ADDRESS, enqueue_mail
from replayhub.outbox.store import enqueue, new_delivery_id
from replayhub.schedules import (
    KINDS,
    Kind,
    RuleError,
    Skipped,
    period_ms,
    save_schedule,
    validate_rule,
    zone_of,
)
from replayhub.signing import sign, unsign
from replayhub.templating import render

if TYPE_CHECKING:
    from replayhub.hub import Hub
    from replayhub.outbox.actions import Attempt

log = structlog.get_logger(__name__)
KIND = "report"
KINDS[KIND] = Kind("replayhub.reports:run_report", "replayhub.reports:report_paused")
REPORT_CHAT = "report_chat"
"""The outbox action posting a report to a chat channel with its chart uploaded."""
UNSUBSCRIBE = "report-unsubscribe"
DURATION = re.compile(r"^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")
DELIVER_KINDS = ("email", "slack", "team")
MAX_NEW_SESSIONS = 10
INLINER = css_inline.CSSInliner(load_remote_stylesheets=False)


class ReportError(ValueError):
    """A request the report cannot take; `status` is the HTTP answer, the message the fix."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# --- checking what a report is made of --------------------------------------------------------


def parse_period(period: str) -> int:
    """An ISO 8601 duration in weeks, days, hours, minutes, seconds → ms (0: empty)."""
    if not period:
        return 0
    match = DURATION.match(period.strip().upper())
    if not match or not any(match.groups()):
        raise ReportError(422, f"period: {period!r} is not an ISO 8601 duration in weeks, days "
                               "or hours (such as P7D, P1W or PT12H; months vary: use P30D)")
    weeks, days, hours, minutes, seconds = (int(value or 0) for value in match.groups())
    total = timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    if total < timedelta(hours=1) or total > timedelta(days=366):
        raise ReportError(422, f"period: {period!r} must be between PT1H and P366D")
    return int(total.total_seconds() * 1000)


def check_filters(raw: dict[str, Any] | None) -> SessionFilters:
    """The session filters of GET /api/v1/sessions, without since/until (the period's)."""
    if not raw:
        return SessionFilters()
    timed = sorted({"since", "until"} & set(raw))
    if timed:
        raise ReportError(422, f"filters: {timed[0]!r} is set by the report's period; "
                               "leave it out")
    try:
        return playlists.parse_filters(raw)
    except playlists.PlaylistError as error:
        raise ReportError(422, f"filters: {error}") from None


async def check_playlist(hub: Hub, playlist_id: str | None) -> str | None:
    if playlist_id is None:
        return None
    try:
        await playlists.get_playlist(hub, playlist_id)
    except playlists.PlaylistError:
        raise ReportError(422, f"playlist_id: no playlist {playlist_id!r} (list them at "
                               "GET /api/v1/playlists; built-in playlists cannot be "
                               "reported on)") from None
    return playlist_id


async def check_deliver(hub: Hub, deliver: list[Any]) -> list[dict[str, str]]:
    """Each entry is {"email": address}, {"slack": channel} or {"team": name}."""
    if not deliver:
        raise ReportError(422, 'deliver: name at least one recipient ({"email": ...}, '
                               '{"slack": channel} or {"team": name})')
    checked = []
    for index, entry in enumerate(deliver):
        where = f"deliver[{index}]"
        if not isinstance(entry, dict) or len(entry) != 1 or next(iter(entry)) not in \
                DELIVER_KINDS or not isinstance(next(iter(entry.values())), str):
            raise ReportError(422, f'{where}: use one of {{"email": address}}, '
                                   '{"slack": channel} or {"team": name}')
        kind, value = next(iter(entry.items()))
        checked.append({kind: await _check_entry(hub, where, kind, value.strip())})
    return list({msgspec.json.encode(e): e for e in checked}.values())


async def _check_entry(hub: Hub, where: str, kind: str, value: str) -> str:
    if kind == "email":
        if not ADDRESS.match(value):
            raise ReportError(422, f"{where}: {value!r} is not an e-mail address")
        return value.lower()
    if kind == "slack":
        if not value:
            raise ReportError(422, f"{where}: name a Slack channel (its id, such as C0123ABCD)")
        if "slack" not in hub.connectors:
            raise ReportError(422, f"{where}: Slack is not set up: enable [connectors.slack] "
                                   "in the configuration first")
        return value
    found = await people.team(hub, value)
    if found is None:
        raise ReportError(422, f"{where}: no team {value!r} (see GET /api/v1/teams)")
    if not found.email and not found.slack_channel:
        raise ReportError(422, f"{where}: team {found.name!r} has neither an email nor a "
                               "slack_channel to send the report to")
    return found.name


# --- reports and their schedules ---------------------------------------------------------------


def deliver_of(report: Report) -> list[dict[str, str]]:
    return msgspec.json.decode(report.deliver, type=list[dict[str, str]])


def filters_of(report: Report) -> SessionFilters:
    return msgspec.json.decode(report.filters, type=SessionFilters)


@dataclass
class ReportSpec:
    """What the API sends to create or change a report (None: unchanged)."""

    name: str | None = None
    schedule: str | None = None
    timezone: str | None = None
    period: str | None = None
    filters: dict[str, Any] | None = None
    playlist_id: str | None = None
    deliver: list[Any] | None = None
    skip_empty: bool | None = None
    owner: str | None = None


async def _checked_values(hub: Hub, spec: ReportSpec, current: Report | None) -> dict[str, Any]:
    """The columns to write; ReportError (422) naming the fix for anything unusable."""
    values: dict[str, Any] = {}
    if spec.name is not None:
        if not spec.name.strip():
            raise ReportError(422, "name: a report needs a name")
        values["name"] = spec.name.strip()[:200]
    rule = spec.schedule if spec.schedule is not None else (current.schedule if current else "")
    timezone = spec.timezone or (current.timezone if current else "UTC")
    if spec.schedule is not None or spec.timezone is not None:
        try:
            validate_rule(rule.strip(), timezone)
        except RuleError as error:
            raise ReportError(422, f"schedule: {error}") from None
        values["schedule"], values["timezone"] = rule.strip(), timezone
    if spec.period is not None:
        parse_period(spec.period)
        values["period"] = spec.period.strip().upper()
    if spec.filters is not None and spec.playlist_id is not None:
        raise ReportError(422, "a report covers either filters or a playlist_id, not both")
    if spec.filters is not None:
        values["filters"] = msgspec.json.encode(check_filters(spec.filters)).decode()
        values["playlist_id"] = None
    if spec.playlist_id is not None:
        values["playlist_id"] = await check_playlist(hub, spec.playlist_id)
        values["filters"] = msgspec.json.encode(SessionFilters()).decode()
    if spec.deliver is not None:
        values["deliver"] = msgspec.json.encode(await check_deliver(hub, spec.deliver)).decode()
    if spec.skip_empty is not None:
        values["skip_empty"] = spec.skip_empty
    if spec.owner is not None:
        values["owner"] = spec.owner.strip()[:320]
    return values


async def create_report(hub: Hub, spec: ReportSpec) -> Report:
    """Check everything, then store the report and its schedule (nothing on a refusal)."""
    if not spec.schedule:
        raise ReportError(422, "schedule: an RRULE such as FREQ=WEEKLY;BYDAY=MO;BYHOUR=9 or a "
                               "cron line such as 0 9 * * 1")
    if spec.name is None:
        raise ReportError(422, "name: a report needs a name")
    if spec.deliver is None:
        spec.deliver = []
    values = await _checked_values(hub, spec, None)
    now = now_ms()
    values.setdefault("skip_empty", hub.settings.reports.skip_empty)
    values.setdefault("owner", "")
    report = Report(id=f"rpt_{secrets.token_hex(8)}", created_at=now, updated_at=now,
                    **values)
    async with hub.db.write() as tx:
        tx.add(report)
    await save_schedule(hub, kind=KIND, target_id=report.id, rule=report.schedule,
                        timezone=report.timezone)
    return await get_report(hub, report.id)


async def get_report(hub: Hub, report_id: str) -> Report:
    async with hub.db.read() as tx:
        report = await tx.get(Report, report_id)
    if report is None:
        raise ReportError(404, f"no report {report_id!r}")
    return report


async def list_reports(hub: Hub) -> list[Report]:
    async with hub.db.read() as tx:
        return list((await tx.execute(select(Report).order_by(Report.name, Report.id)))
                    .scalars())


async def schedule_of(hub: Hub, report_id: str) -> Schedule | None:
    async with hub.db.read() as tx:
        return (await tx.execute(select(Schedule).where(
            Schedule.kind == KIND, Schedule.target_id == report_id))).scalar_one_or_none()


async def update_report(hub: Hub, report_id: str, spec: ReportSpec,
                        paused: bool | None = None) -> Report:
    """Change what is given; a new schedule or timezone starts from now (and resumes it)."""
    current = await get_report(hub, report_id)
    values = await _checked_values(hub, spec, current)
    values["updated_at"] = now_ms()
    async with hub.db.write() as tx:
        await tx.execute(update(Report).where(Report.id == report_id).values(**values))
    if "schedule" in values:
        await save_schedule(hub, kind=KIND, target_id=report_id, rule=values["schedule"],
                            timezone=values["timezone"])
    if paused is not None:
        async with hub.db.write() as tx:
            await tx.execute(update(Schedule).where(
                Schedule.kind == KIND, Schedule.target_id == report_id).values(
                paused=paused, failures=0))
    return await get_report(hub, report_id)


async def delete_report(hub: Hub, report_id: str) -> None:
    await get_report(hub, report_id)
    schedule = await schedule_of(hub, report_id)
    async with hub.db.write() as tx:
        await tx.execute(delete(ReportRun).where(ReportRun.report_id == report_id))
        if schedule is not None:
            await tx.execute(delete(ScheduleRun).where(ScheduleRun.schedule_id == schedule.id))
            await tx.execute(delete(Schedule).where(Schedule.id == schedule.id))
        await tx.execute(delete(Report).where(Report.id == report_id))
    await hub.blobs.delete_prefix(chart_folder(report_id))


def chart_folder(report_id: str) -> str:
    """The blob folder of a report's chart PNGs (one per run posted to chat)."""
    return f"reports/{report_id}/"


# --- what a report says ------------------------------------------------------------------------


class Figure(msgspec.Struct):
    name: str
    value: float
    previous: float | None
    """None: no comparison (the previous period is past retention)."""
    change: float | None
    """Percent change from the previous period; None when it was 0 (or not compared)."""
    unit: str = ""


class ErrorLine(msgspec.Struct):
    fingerprint: str
    type: str
    message: str
    status: str
    """new or regressed."""
    count: int
    sessions: int
    users: int
    replay_url: str
    sessions_url: str


class Hotspot(msgspec.Struct):
    url: str
    selector: str
    count: int
    sessions: int


class SessionLine(msgspec.Struct):
    session_id: str
    user: str
    started_at: str
    replay_url: str


class TellingReplay(msgspec.Struct):
    session_id: str
    user: str
    started_at: str
    why: str
    t: int
    replay_url: str
    cid: str = ""
    """The inline image's id in the e-mail (empty: no snapshot)."""


class Day(msgspec.Struct):
    label: str
    errors: int
    users: int


class PlaylistPart(msgspec.Struct):
    id: str
    name: str
    new_count: int
    sessions: list[SessionLine]
    url: str


class ReportContent(msgspec.Struct):
    report_id: str
    name: str
    since: str
    until: str
    period_label: str
    timezone: str
    figures: list[Figure]
    errors: list[ErrorLine]
    pages: list[Hotspot]
    elements: list[Hotspot]
    replays: list[TellingReplay]
    days: list[Day]
    bucket: str
    """day or hour: what each point of the chart counts."""
    playlist: PlaylistPart | None
    total_errors: int
    empty: bool
    hub_url: str
    sessions_url: str
    comparison: str = ""
    """Empty: compared with the previous period; else why not (retention)."""


@dataclass
class Window:
    since: int
    until: int
    previous: int
    """The previous period's start (it ends at `since`)."""


def window_of(report: Report, schedule: Schedule | None, fire_time: int) -> Window:
    """The period ending at the run's fire time, and the one before it."""
    length = report_length(report, schedule, fire_time)
    return Window(fire_time - length, fire_time, fire_time - 2 * length)


@dataclass
class Coverage:
    """Which sessions a report covers: a WHERE clause on sessions (None: all of them)."""

    clause: ColumnElement[bool] | None
    app_id: str | None
    app_only: bool
    """Only an app filter: errors are read by group, not through their sessions."""
    link_filters: dict[str, str]
    playlist: Any = None


async def coverage_of(hub: Hub, report: Report) -> Coverage:
    if report.playlist_id:
        playlist = await playlists.get_playlist(hub, report.playlist_id)
        if playlist.kind == playlists.SEARCH:
            return _filter_coverage(playlists.filters_of(playlist), playlist)
        members = select(PlaylistItem.session_id).where(
            PlaylistItem.playlist_id == playlist.id)
        return Coverage(ReplaySession.id.in_(members), None, False, {}, playlist)
    return _filter_coverage(filters_of(report))


def _filter_coverage(filters: SessionFilters, playlist: Any = None) -> Coverage:
    untimed = msgspec.structs.replace(filters, since=None, until=None)
    clause = session_query(untimed).whereclause
    links = {key: str(value) for key, value in msgspec.structs.asdict(untimed).items()
             if value is not None}
    app_only = set(links) <= {"app_id"}
    return Coverage(clause, filters.app_id, app_only, links, playlist)


def _where(coverage: Coverage) -> list[ColumnElement[bool]]:
    return [coverage.clause] if coverage.clause is not None else []


def _error_scope(coverage: Coverage, since: int, until: int) -> list[ColumnElement[bool]]:
    clauses = [ErrorEvent.t >= since, ErrorEvent.t < until]
    if coverage.app_only:
        if coverage.app_id:
            clauses.append(ErrorEvent.group_id.in_(
                select(ErrorGroup.id).where(ErrorGroup.app_id == coverage.app_id)))
        return clauses
    sessions = select(ReplaySession.id).where(
        *_where(coverage), ReplaySession.started_at >= since - SESSION_SPAN,
        ReplaySession.started_at < until)
    return [*clauses, ErrorEvent.session_id.in_(sessions)]


def user_key_column() -> ColumnElement[str]:
    return func.coalesce(ReplaySession.user_id, ReplaySession.user_email, ReplaySession.id)


def _frustrated() -> ColumnElement[bool]:
    return or_(ReplaySession.rage_click_count > 0, ReplaySession.dead_click_count > 0,
               ReplaySession.error_click_count > 0)


async def _session_figures(tx: AsyncSession, coverage: Coverage, since: int,
                           until: int) -> tuple[int, int, int, int]:
    """(sessions, users, sessions with errors, sessions with frustration) started in range."""
    row = (await tx.execute(
        select(func.count(), func.count(distinct(user_key_column())),
               func.coalesce(func.sum(case((ReplaySession.error_count > 0, 1), else_=0)), 0),
               func.coalesce(func.sum(case((_frustrated(), 1), else_=0)), 0))
        .where(*_where(coverage), ReplaySession.started_at >= since,
               ReplaySession.started_at < until))).one()
    return int(row[0]), int(row[1]), int(row[2]), int(row[3])


def _change(value: float, previous: float) -> float | None:
    return round((value - previous) * 100 / previous, 1) if previous else None


def _figures(now: tuple[int, int, int, int],
             before: tuple[int, int, int, int] | None) -> list[Figure]:
    """The period's figures and their change (none without a previous period)."""
    def rate(figures: tuple[int, int, int, int]) -> float:
        return figures[3] * 100 / figures[0] if figures[0] else 0.0

    names = ("Sessions", "Users", "Sessions with errors")
    if before is None:
        return [*(Figure(name, now[i], None, None) for i, name in enumerate(names)),
                Figure("Frustration rate", round(rate(now), 1), None, None, "%")]
    return [*(Figure(name, now[i], before[i], _change(now[i], before[i]))
              for i, name in enumerate(names)),
            Figure("Frustration rate", round(rate(now), 1), round(rate(before), 1),
                   _change(rate(now), rate(before)), "%")]


def comparison_note(retention_days: int, window: Window, now: int | None = None) -> str:
    """Empty when the previous period's sessions are still stored; else what the reader is
    told instead of the changes. Retention deletes what ended before now - retention_days."""
    if retention_days <= 0:
        return ""
    cutoff = max(now_ms() if now is None else now, window.until) - retention_days * DAY
    if window.previous >= cutoff:
        return ""
    note = (f"no comparison: older sessions are deleted after {retention_days} days "
            "(retention_days)")
    if window.since < cutoff:
        note += f"; this period counts only its last {retention_days} days"
    return note


def retention_warnings(retention_days: int, length: int) -> list[str]:
    """What a report of this period length will miss under `retention_days`."""
    if retention_days <= 0 or 2 * length < retention_days * DAY:
        return []
    days = length / DAY
    shown = f"{days:g}" if days == int(days) else f"{days:.1f}"
    warnings = [f"no comparison with the previous period: sessions are deleted after "
                f"{retention_days} days (retention_days) and this report needs "
                f"twice {shown} days; use a period under {retention_days / 2:g} days or "
                "raise retention_days"]
    if length > retention_days * DAY:
        warnings.append(f"the period ({shown} days) is longer than retention_days "
                        f"({retention_days}): only its last {retention_days} days are "
                        "counted")
    return warnings


def report_length(report: Report, schedule: Schedule | None, at: int | None = None) -> int:
    """The report's period in ms: its own, else the time between two occurrences."""
    length = parse_period(report.period)
    if length:
        return length
    anchor = schedule.anchor_at if schedule else 0
    return period_ms(report.schedule, report.timezone, at or now_ms(), anchor)


async def report_warnings(hub: Hub, report: Report) -> list[str]:
    """Shown with the report in the API: what retention takes from it."""
    schedule = await schedule_of(hub, report.id)
    return retention_warnings(hub.settings.retention_days, report_length(report, schedule))


class Links:
    """Links into the hub for one report window."""

    def __init__(self, base_url: str, coverage: Coverage, window: Window) -> None:
        self.base_url = base_url
        self.common = {**coverage.link_filters, "since": iso(window.since),
                       "until": iso(window.until)}

    def sessions(self, **filters: str) -> str:
        return f"{self.base_url}/?{urlencode({**self.common, **filters})}"

    def replay(self, session_id: str, t: int) -> str:
        return f"{self.base_url}/replays/{session_id}?t={max(t, 0)}"


async def _error_lines(tx: AsyncSession, coverage: Coverage, window: Window, links: Links,
                       limit: int, compared: bool = True) -> tuple[list[ErrorLine], int]:
    """New and regressed error groups of the period, most affected users first; and the
    period's error count. A group is new when first seen in the period, regressed when it
    occurred again after being resolved, or after a whole period without it (anywhere; only
    when `compared`: a previous period past retention has lost its events)."""
    rows = (await tx.execute(
        select(ErrorEvent.group_id, func.count(), func.count(distinct(ErrorEvent.session_id)),
               func.count(distinct(ErrorEvent.user_key)))
        .where(*_error_scope(coverage, window.since, window.until))
        .group_by(ErrorEvent.group_id))).all()
    total = sum(int(row[1]) for row in rows)
    if not rows:
        return [], 0
    ids = [row[0] for row in rows]
    groups = {g.id: g for g in (await tx.execute(
        select(ErrorGroup).where(ErrorGroup.id.in_(ids)))).scalars()}
    before = set((await tx.execute(
        select(ErrorEvent.group_id).distinct()
        .where(ErrorEvent.group_id.in_(ids), ErrorEvent.t >= window.previous,
               ErrorEvent.t < window.since))).scalars()) if compared else set(ids)
    reopened = set((await tx.execute(
        select(ErrorResolution.group_id).where(
            ErrorResolution.group_id.in_(ids), ErrorResolution.regressed_at >= window.since,
            ErrorResolution.regressed_at < window.until))).scalars())
    lines = []
    for group_id, count, sessions, users in sorted(rows, key=lambda r: (-r[3], -r[1], r[0])):
        group = groups[group_id]
        if group.first_seen >= window.since:
            status = "new"
        elif group_id in reopened or (group_id not in before
                                      and group.first_seen < window.previous):
            status = "regressed"
        else:
            continue
        lines.append(ErrorLine(group.fingerprint, group.type, group.message, status, count,
                               sessions, users, "", links.sessions(error=group.fingerprint)))
        if len(lines) >= limit:
            break
    by_fingerprint = {g.fingerprint: g.id for g in groups.values()}
    for line in lines:
        line.replay_url = await _first_replay(tx, coverage, window, links,
                                              by_fingerprint[line.fingerprint])
    return lines, total


async def _first_replay(tx: AsyncSession, coverage: Coverage, window: Window, links: Links,
                        group_id: int | None) -> str:
    """The player at the group's first occurrence of the period."""
    first = (await tx.execute(
        select(ErrorEvent.session_id, ErrorEvent.t, ReplaySession.started_at)
        .join(ReplaySession, ReplaySession.id == ErrorEvent.session_id)
        .where(ErrorEvent.group_id == group_id,
               *_error_scope(coverage, window.since, window.until))
        .order_by(ErrorEvent.t).limit(1))).first()
    return links.replay(first[0], first[1] - first[2]) if first else ""


async def _hotspots(tx: AsyncSession, coverage: Coverage, window: Window,
                    limit: int) -> tuple[list[Hotspot], list[Hotspot]]:
    """Pages and elements with the most frustration signals in the period."""
    base = (select().select_from(ReplaySession)
            .join(Frustration, Frustration.session_id == ReplaySession.id)
            .where(*frustration_filters(Scope(), window.since, window.until), *_where(coverage)))
    count, sessions = func.count(), func.count(distinct(Frustration.session_id))
    pages = (await tx.execute(
        base.add_columns(Frustration.url, count, sessions).group_by(Frustration.url)
        .order_by(count.desc(), Frustration.url).limit(limit))).all()
    elements = (await tx.execute(
        base.add_columns(Frustration.selector, Frustration.url, count, sessions)
        .group_by(Frustration.selector, Frustration.url)
        .order_by(count.desc(), Frustration.selector, Frustration.url).limit(limit)))
    return ([Hotspot(url, "", n, s) for url, n, s in pages],
            [Hotspot(url, selector, n, s) for selector, url, n, s in elements])


def _label(session: Any) -> str:
    return session.user_email or session.user_id or "anonymous"


async def _telling_replays(tx: AsyncSession, coverage: Coverage, window: Window, links: Links,
                           limit: int) -> list[TellingReplay]:
    """The sessions with the most errors and frustration, one per user first; each at its
    first error (else its first frustration signal)."""
    score = (ReplaySession.error_count + ReplaySession.rage_click_count
             + ReplaySession.dead_click_count + 2 * ReplaySession.error_click_count)
    rows = (await tx.execute(
        select(ReplaySession.id, ReplaySession.user_id, ReplaySession.user_email,
               ReplaySession.started_at, ReplaySession.error_count,
               ReplaySession.rage_click_count + ReplaySession.dead_click_count
               + ReplaySession.error_click_count, user_key_column())
        .where(*_where(coverage), ReplaySession.started_at >= window.since,
               ReplaySession.started_at < window.until,
               or_(ReplaySession.error_count > 0, _frustrated()))
        .order_by(score.desc(), ReplaySession.started_at.desc(), ReplaySession.id)
        .limit(limit * 10))).all()
    seen: set[str] = set()
    first, later = [], []
    for row in rows:
        (later if row[6] in seen else first).append(row)
        seen.add(row[6])
    replays = []
    for row in (first + later)[:limit]:
        moment = (await tx.execute(select(func.min(ErrorEvent.t)).where(
            ErrorEvent.session_id == row[0]))).scalar()
        if moment is None:
            moment = (await tx.execute(select(func.min(Frustration.t)).where(
                Frustration.session_id == row[0]))).scalar()
        t = max(int(moment) - row[3], 0) if moment is not None else 0
        why = ", ".join(part for part in (
            f"{row[4]} error{'s' * (row[4] != 1)}" if row[4] else "",
            f"{row[5]} frustration signal{'s' * (row[5] != 1)}" if row[5] else "") if part)
        replays.append(TellingReplay(row[0], row[2] or row[1] or "anonymous", iso(row[3]), why,
                                     t, links.replay(row[0], t)))
    return replays


@dataclass
class Buckets:
    """The chart's buckets: local days (or hours, for periods up to two days)."""

    edges: list[int]
    """Start of each bucket, then the end of the last (ms)."""
    name: str
    """day or hour."""
    zone: tzinfo


def _local_midnight(day: date, zone: tzinfo) -> int:
    return int(datetime.combine(day, dt_time(), zone).timestamp() * 1000)


def buckets_of(window: Window, timezone: str) -> Buckets:
    """Bucket edges at the local midnights (or local hours) of the report's timezone: a day
    across a DST change lasts 23 or 25 hours, and hours start at :00 in a +05:30 zone too."""
    zone = zone_of(timezone)
    local = datetime.fromtimestamp(window.since / 1000, zone)
    if window.until - window.since <= 2 * DAY:
        first = int(local.replace(minute=0, second=0, microsecond=0).timestamp() * 1000)
        count = max(1, -(-(window.until - first) // HOUR))
        return Buckets([first + index * HOUR for index in range(count + 1)], "hour", zone)
    day, edges = local.date(), [_local_midnight(local.date(), zone)]
    while edges[-1] < window.until or len(edges) < 2:
        day += timedelta(days=1)
        edges.append(_local_midnight(day, zone))
    return Buckets(edges, "day", zone)


def _offset_ms(zone: tzinfo, at: int) -> int:
    offset = datetime.fromtimestamp(at / 1000, zone).utcoffset()
    return int(offset.total_seconds() * 1000) if offset else 0


def _offset_changes(zone: tzinfo, edges: list[int]) -> list[tuple[int, int]]:
    """(from when, UTC offset) over the edges, each change found to the second."""
    changes = [(edges[0], _offset_ms(zone, edges[0]))]
    for low, high in pairwise(edges):
        if _offset_ms(zone, high) == changes[-1][1]:
            continue
        low_s, high_s = low // 1000, high // 1000  # offset(low) is the old one, high's new
        while high_s - low_s > 1:
            middle = (low_s + high_s) // 2
            if _offset_ms(zone, middle * 1000) == changes[-1][1]:
                low_s = middle
            else:
                high_s = middle
        changes.append((high_s * 1000, _offset_ms(zone, high_s * 1000)))
    return changes


def number(value: int) -> ColumnElement[int]:
    """An integer written into the SQL (not a parameter: GROUP BY repeats the expression)."""
    return literal_column(str(int(value)), BigInteger)


def _bucket_index(buckets: Buckets) -> ColumnElement[int]:
    """Each error's bucket, in SQL: hours by elapsed time; days by local time (the UTC
    offset of the moment added, so each day runs from one local midnight to the next)."""
    first = buckets.edges[0]
    if buckets.name == "hour":
        return (ErrorEvent.t - first) // HOUR
    changes = _offset_changes(buckets.zone, buckets.edges)
    offset: Any = number(changes[-1][1])
    if len(changes) > 1:
        offset = case(*((ErrorEvent.t < number(start), number(value))
                        for (_, value), (start, _) in pairwise(changes)),
                      else_=offset)
    local_first = first + changes[0][1]
    return (ErrorEvent.t + offset - number(local_first)) // DAY


async def _days(tx: AsyncSession, coverage: Coverage, window: Window,
                timezone: str) -> tuple[list[Day], str]:
    """Errors and distinct affected users per local day (or hour, for short periods)."""
    buckets = buckets_of(window, timezone)
    bucket = _bucket_index(buckets)
    rows = (await tx.execute(
        select(bucket, func.count(), func.count(distinct(ErrorEvent.user_key)))
        .where(*_error_scope(coverage, window.since, window.until)).group_by(bucket))).all()
    counts = {int(index): (int(errors), int(users)) for index, errors, users in rows}
    form = "%H:%M" if buckets.name == "hour" else "%a %d %b"
    days = []
    for index, start in enumerate(buckets.edges[:-1]):
        label = datetime.fromtimestamp(start / 1000, buckets.zone).strftime(form)
        errors, users = counts.get(index, (0, 0))
        days.append(Day(label, errors, users))
    return days, buckets.name


async def _playlist_part(tx: AsyncSession, hub: Hub, coverage: Coverage, window: Window,
                         links: Links) -> PlaylistPart | None:
    """The playlist's new sessions: added to a collection, or started (a saved search), in
    the period."""
    playlist = coverage.playlist
    if playlist is None:
        return None
    if playlist.kind == playlists.COLLECTION:
        query = (select(ReplaySession).join(PlaylistItem,
                                            PlaylistItem.session_id == ReplaySession.id)
                 .where(PlaylistItem.playlist_id == playlist.id,
                        PlaylistItem.added_at >= window.since,
                        PlaylistItem.added_at < window.until)
                 .order_by(PlaylistItem.added_at.desc()))
    else:
        query = (select(ReplaySession).where(
            *_where(coverage), ReplaySession.started_at >= window.since,
            ReplaySession.started_at < window.until)
            .order_by(ReplaySession.started_at.desc()))
    total = (await tx.execute(select(func.count()).select_from(
        query.order_by(None).subquery()))).scalar_one()
    sessions = (await tx.execute(query.limit(MAX_NEW_SESSIONS))).scalars().all()
    return PlaylistPart(playlist.id, playlist.name, int(total), [
        SessionLine(s.id, _label(s), iso(s.started_at), links.replay(s.id, 0))
        for s in sessions], f"{hub.settings.base_url}/playlists/{playlist.id}")


def period_label(window: Window, timezone: str) -> str:
    zone = zone_of(timezone)
    since = datetime.fromtimestamp(window.since / 1000, zone)
    until = datetime.fromtimestamp(window.until / 1000, zone)
    form = "%d %b %Y %H:%M" if window.until - window.since < 2 * DAY else "%d %b %Y"
    return f"{since.strftime(form)} to {until.strftime(form)} ({timezone})"


async def report_content(hub: Hub, report: Report, window: Window) -> ReportContent:
    """Every figure, table and link of the report over `window` (reads only)."""
    settings = hub.settings.reports
    coverage = await coverage_of(hub, report)
    links = Links(hub.settings.base_url, coverage, window)
    note = comparison_note(hub.settings.retention_days, window)
    async with hub.db.read() as tx:
        now = await _session_figures(tx, coverage, window.since, window.until)
        before = (None if note else
                  await _session_figures(tx, coverage, window.previous, window.since))
        errors, total_errors = await _error_lines(tx, coverage, window, links,
                                                  settings.max_error_groups, not note)
        pages, elements = await _hotspots(tx, coverage, window, 5)
        replays = await _telling_replays(tx, coverage, window, links, settings.max_replays)
        days, bucket = await _days(tx, coverage, window, report.timezone)
        playlist = await _playlist_part(tx, hub, coverage, window, links)
    empty = now[0] == 0 and total_errors == 0 and not (playlist and playlist.new_count)
    return ReportContent(
        report.id, report.name, iso(window.since), iso(window.until),
        period_label(window, report.timezone), report.timezone, _figures(now, before), errors,
        pages, elements, replays, days, bucket, playlist, total_errors, empty,
        f"{hub.settings.base_url}/reports/{report.id}", links.sessions(), note)


# --- rendering ---------------------------------------------------------------------------------


class Rendered(msgspec.Struct):
    subject: str
    text: str
    html: str
    """CSS inlined; images by cid."""
    images: list[tuple[str, bytes]]


def subject_of(content: ReportContent) -> str:
    sessions, _, with_errors, _ = content.figures
    return (f"{content.name}: {int(sessions.value):,} sessions, {int(with_errors.value):,} "
            f"with errors ({content.period_label})")


def render_email(content: ReportContent, chart_png: bytes, snapshots: dict[str, bytes],
                 run_url: str, unsubscribe_url: str) -> Rendered:
    """The mail: plain text, and HTML with its CSS inlined and its pictures as cid parts."""
    context = {"c": content, "run_url": run_url, "unsubscribe_url": unsubscribe_url,
               "chart_cid": "chart", "snapshots": snapshots}
    html = INLINER.inline(render("reports/email.html", **context))
    text = render("reports/email.txt", **context)
    images = [("chart", chart_png), *((cid, png) for cid, png in snapshots.items())]
    return Rendered(subject_of(content), text, html, images)


async def draw_chart(content: ReportContent) -> tuple[bytes, str]:
    """PNG and SVG of errors and affected users per day (or hour), drawn in a thread."""
    labels = [day.label for day in content.days]
    return await asyncio.to_thread(errors_chart, labels, [d.errors for d in content.days],
                                   [d.users for d in content.days], content.bucket)


async def take_snapshots(hub: Hub, content: ReportContent) -> dict[str, bytes]:
    """A PNG of each telling replay's moment (rendered one at a time; missing ones skipped)."""
    if not hub.settings.reports.snapshots:
        return {}
    from replayhub.ticket_notes import note_snapshot

    found = {}
    for index, replay in enumerate(content.replays, 1):
        png = await note_snapshot(hub, replay.session_id, replay.t)
        if png is not None:
            replay.cid = f"replay-{index}"
            found[replay.cid] = png
    return found


# --- running a report --------------------------------------------------------------------------


def unsubscribe_token(hub: Hub, report_id: str, address: str, now: float | None = None) -> str:
    days = hub.settings.reports.unsubscribe_days
    expires = int(now if now is not None else time.time()) + days * 86_400
    return sign(hub.secret_key, UNSUBSCRIBE, {"r": report_id, "a": address, "exp": expires})


class Recipients(msgspec.Struct):
    emails: list[str]
    channels: list[str]


async def recipients_of(hub: Hub, report: Report) -> Recipients:
    """E-mail addresses and Slack channels, teams expanded, unsubscribed addresses left out."""
    emails: list[str] = []
    channels: list[str] = []
    for entry in deliver_of(report):
        if "email" in entry:
            emails.append(entry["email"].lower())
        elif "slack" in entry:
            channels.append(entry["slack"])
        elif "team" in entry:
            team = await people.team(hub, entry["team"])
            if team is None:
                log.warning("reports.team_gone", report=report.id, team=entry["team"])
                continue
            emails += [team.email.lower()] if team.email else []
            channels += [team.slack_channel] if team.slack_channel else []
    gone = set(msgspec.json.decode(report.unsubscribed, type=list[str]))
    return Recipients([e for e in dict.fromkeys(emails) if e not in gone],
                      list(dict.fromkeys(channels)))


async def store_run(hub: Hub, report: Report, run_id: str, window: Window,
                    content: ReportContent, svg: str) -> None:
    from replayhub.db.upsert import insert_ignore

    async with hub.db.write() as tx:
        await insert_ignore(tx, ReportRun, run_id=run_id, report_id=report.id,
                            since=window.since, until=window.until,
                            content=msgspec.json.encode(content).decode(), chart_svg=svg,
                            created_at=now_ms())


async def run_report(hub: Hub, schedule: Schedule, run: ScheduleRun) -> list[str]:
    """One run: the content over the period ending at the fire time, stored as the run's
    page, then one mail per address and one chat post per channel; the delivery ids."""
    report = await get_report(hub, schedule.target_id)
    window = window_of(report, schedule, run.fire_time)
    content = await report_content(hub, report, window)
    if content.empty and report.skip_empty:
        raise Skipped(f"no sessions or errors between {content.since} and {content.until}")
    png, svg = await draw_chart(content)
    snapshots = await take_snapshots(hub, content)
    await store_run(hub, report, run.id, window, content, svg)
    targets = await recipients_of(hub, report)
    if not targets.emails and not targets.channels:
        raise RuntimeError("the report has no recipient left (all unsubscribed?): add one "
                           "with PATCH /api/v1/reports/" + report.id)
    run_url = f"{hub.settings.base_url}/reports/{report.id}/runs/{run.id}"
    delivered = []
    for address in targets.emails:
        delivered.append(await send_email(hub, report, run.id, content, png, snapshots,
                                          run_url, address))
    for channel in targets.channels:
        delivered.append(await post_to_chat(hub, report, run.id, content, png, run_url,
                                            channel))
    log.info("reports.sent", report=report.id, run=run.id, deliveries=len(delivered))
    return delivered


def delivery_key(report_id: str, run_id: str, target: str) -> str:
    """One delivery per (report, run, recipient): sending a run twice finds the first."""
    return f"report:{report_id}:{run_id}:{target}"[:280]


async def send_email(hub: Hub, report: Report, run_id: str, content: ReportContent, png: bytes,
                     snapshots: dict[str, bytes], run_url: str, address: str) -> str:
    token = unsubscribe_token(hub, report.id, address)
    unsubscribe_url = f"{hub.settings.base_url}/unsubscribe/{token}"
    rendered = render_email(content, png, snapshots, run_url, unsubscribe_url)
    headers = {"List-Unsubscribe": f"<{unsubscribe_url}>",
               "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
               "X-ReplayHub-Report": report.id}
    return await enqueue_mail(hub, key=delivery_key(report.id, run_id, address), to=[address],
                              subject=rendered.subject, text=rendered.text, html=rendered.html,
                              inline_images=rendered.images, headers=headers)


async def post_to_chat(hub: Hub, report: Report, run_id: str, content: ReportContent,
                       png: bytes, run_url: str, channel: str) -> str:
    """A report_chat delivery: the message, then the chart uploaded into the channel."""
    connector = hub.connectors.get("slack")
    if connector is None:
        raise RuntimeError(f"Slack is not set up: enable [connectors.slack] to post to "
                           f"{channel}")
    blob = f"{chart_folder(report.id)}{run_id}.png"
    await hub.blobs.put(blob, png)
    payload = {"channel": channel, "report_id": report.id, "run_id": run_id,
               "run_url": run_url, "content": msgspec.to_builtins(content),
               "chart": {"blob": blob, "filename": f"{report.id}-{run_id}.png"}}
    found, created = await enqueue(
        hub.db, delivery_id=new_delivery_id(), connector=connector.name,
        account=connector.account, action=REPORT_CHAT, payload=payload,
        key=delivery_key(report.id, run_id, f"slack:{channel}"), now_ms=now_ms())
    if created:
        hub.dispatcher.notify()
    return found


async def send_now(hub: Hub, report_id: str) -> ScheduleRun:
    """An extra run now (POST /api/v1/reports/{id}/run), listed with the scheduled ones but
    outside the schedule's failure count: a failing send-now never pauses the report, and a
    working one does not clear the failures of its scheduled runs."""
    await get_report(hub, report_id)
    schedule = await schedule_of(hub, report_id)
    if schedule is None:
        raise ReportError(409, "the report has no schedule: PATCH its schedule first")
    started = now_ms()
    run = ScheduleRun(id=f"run_{secrets.token_hex(8)}", schedule_id=schedule.id,
                      fire_time=started, status="running", started_at=started)
    async with hub.db.write() as tx:
        tx.add(run)
    try:
        delivered = await run_report(hub, schedule, run)
        run.status, run.delivered = "succeeded", msgspec.json.encode(delivered).decode()
    except Skipped as reason:
        run.status, run.delivered = "skipped", msgspec.json.encode([str(reason)]).decode()
    except Exception as error:
        log.exception("reports.send_now_failed", report=report_id)
        run.status, run.error = "failed", f"{type(error).__name__}: {error}"[:2000]
    run.finished_at = now_ms()
    async with hub.db.write() as tx:
        await tx.execute(update(ScheduleRun).where(ScheduleRun.id == run.id).values(
            status=run.status, finished_at=run.finished_at, error=run.error,
            delivered=run.delivered))
    return run


async def report_runs(hub: Hub, report_id: str, limit: int = 50) -> list[ScheduleRun]:
    from replayhub.schedules import list_runs

    await get_report(hub, report_id)
    schedule = await schedule_of(hub, report_id)
    return await list_runs(hub, schedule.id, limit) if schedule else []


async def stored_run(hub: Hub, report_id: str, run_id: str) -> tuple[Report, ReportRun,
                                                                      ReportContent]:
    report = await get_report(hub, report_id)
    async with hub.db.read() as tx:
        row = await tx.get(ReportRun, run_id)
    if row is None or row.report_id != report_id:
        raise ReportError(404, f"no run {run_id!r} of report {report_id!r} with content "
                               "(skipped and failed runs have none)")
    return report, row, msgspec.json.decode(row.content, type=ReportContent)


# --- pausing and unsubscribing -----------------------------------------------------------------


async def owner_address(hub: Hub, report: Report) -> str | None:
    """The owner's e-mail: the owner itself, or the directory's person of that name."""
    if ADDRESS.match(report.owner):
        return report.owner
    person = await people.find_person(hub, report.owner) if report.owner else None
    return person.email if person else None


async def report_paused(hub: Hub, schedule: Schedule) -> None:
    """The scheduler paused the report after repeated failures: tell its owner by e-mail
    (else its e-mail recipients), once per pause."""
    try:
        report = await get_report(hub, schedule.target_id)
    except ReportError:
        return
    owner = await owner_address(hub, report)
    to = [owner] if owner else (await recipients_of(hub, report)).emails
    if not to:
        log.warning("reports.paused_nobody_told", report=report.id)
        return
    async with hub.db.read() as tx:
        last = (await tx.execute(select(ScheduleRun).where(
            ScheduleRun.schedule_id == schedule.id)
            .order_by(ScheduleRun.started_at.desc()).limit(1))).scalar_one_or_none()
    context = {"report": report, "failures": schedule.failures,
               "error": last.error if last else "",
               "report_url": f"{hub.settings.base_url}/reports/{report.id}",
               "api_url": f"{hub.settings.base_url}/api/v1/reports/{report.id}"}
    await enqueue_mail(hub, key=f"report-paused:{report.id}:{schedule.last_run_at}", to=to,
                       subject=f"Report paused: {report.name}",
                       text=render("reports/paused.txt", **context),
                       html=INLINER.inline(render("reports/paused.html", **context)))


def read_unsubscribe(hub: Hub, token: str) -> tuple[str, str]:
    """(report id, address) of a signed link; signing.BadSignature or Expired otherwise."""
    payload = unsign(hub.secret_key, UNSUBSCRIBE, token)
    return str(payload["r"]), str(payload["a"])


async def unsubscribe(hub: Hub, report_id: str, address: str) -> Report | None:
    """Take the address off the report (a team's address is remembered as unsubscribed);
    None when the report is gone."""
    address = address.lower()
    async with hub.db.write() as tx:
        report = await tx.get(Report, report_id)
        if report is None:
            return None
        kept = [e for e in deliver_of(report) if e.get("email", "").lower() != address]
        gone = msgspec.json.decode(report.unsubscribed, type=list[str])
        if address not in gone and await _team_address(hub, kept, address):
            gone.append(address)
        report.deliver = msgspec.json.encode(kept).decode()
        report.unsubscribed = msgspec.json.encode(gone).decode()
        report.updated_at = now_ms()
    log.info("reports.unsubscribed", report=report_id)
    return report


async def _team_address(hub: Hub, entries: list[dict[str, str]], address: str) -> bool:
    for entry in entries:
        if "team" in entry:
            team = await people.team(hub, entry["team"])
            if team is not None and team.email.lower() == address:
                return True
    return False


# --- the chat action ---------------------------------------------------------------------------


async def report_chat(attempt: Attempt) -> str:
    """Post the report (a message carrying the delivery's marker, so a retry after a lost
    answer finds it instead of posting twice), then upload the chart into the channel."""
    from connectors.slack.connector import SlackConnector

    connector, payload, progress = attempt.connector, attempt.payload, attempt.progress
    if not isinstance(connector, SlackConnector):
        raise VendorError(f"{connector.name} cannot post reports", retryable=False)
    message_id = await _post_report_once(attempt, connector)
    channel = message_id.partition(":")[0]
    if progress.get("chart") != "shared":
        if not progress.get("file_id"):
            png = await _chart_png(attempt)
            await attempt.pace()
            progress["file_id"] = await connector.upload_file(payload["chart"]["filename"], png)
            await attempt.save()
        await _share_chart_once(attempt, connector, channel)
    return message_id


async def _chart_png(attempt: Attempt) -> bytes:
    from replayhub.blobs import BlobNotFound

    blobs = attempt.hub.blobs if attempt.hub is not None else None
    if blobs is None:
        raise VendorError("the report's chart needs the hub's blob store", retryable=False)
    try:
        return await blobs.get(attempt.payload["chart"]["blob"])  # type: ignore[no-any-return]
    except BlobNotFound:
        raise VendorError("the report's chart is gone from the blob store",
                          retryable=False) from None


async def _post_report_once(attempt: Attempt, connector: Any) -> str:
    from connectors.slack.blocks import render_json
    from connectors.slack.connector import metadata_for

    progress, payload = attempt.progress, attempt.payload
    if progress.get("message_id"):
        return str(progress["message_id"])
    channel = str(payload["channel"])
    marker = f"replayhub-delivery:{attempt.delivery_id}"
    if progress.get("post_attempted"):
        await attempt.pace()
        found = await connector.find_alert(channel, marker)
        if found:
            progress["message_id"] = found
            await attempt.save()
            return str(found)
    message = render_json("reports/slack.json.j2", c=payload["content"],
                          run_url=payload["run_url"])
    progress["post_attempted"] = True
    await attempt.save()
    await attempt.pace()
    try:
        answer = await connector.client.post_message(channel, message["text"],
                                                     message["blocks"], metadata_for(marker))
    except VendorError as error:
        if not error.uncertain:
            progress["post_attempted"] = False
            await attempt.save()
        raise
    progress["message_id"] = f"{answer['channel']}:{answer['ts']}"
    await attempt.save()
    return str(progress["message_id"])


async def _share_chart_once(attempt: Attempt, connector: Any, channel: str) -> None:
    progress = attempt.progress
    file_id = str(progress["file_id"])
    if progress.get("share_attempted"):
        await attempt.pace()
        info = await connector.client.file_info(file_id)
        if channel in (info.get("channels") or []) + (info.get("groups") or []):
            progress["chart"] = "shared"
            await attempt.save()
            return
    progress["share_attempted"] = True
    await attempt.save()
    await attempt.pace()
    title = f"{attempt.payload['content']['name']}: errors and affected users"
    try:
        await connector.client.complete_upload(file_id, title[:200], channel)
    except VendorError as error:
        if not error.uncertain:
            progress["share_attempted"] = False
            await attempt.save()
        raise
    progress["chart"] = "shared"
    await attempt.save()
