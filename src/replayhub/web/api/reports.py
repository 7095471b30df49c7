"""Scheduled reports (/api/v1/reports): create, change, delete, send now, list runs."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.params import FromPath, JSONBody

from replayhub import reports
from replayhub.db.models import Report, ScheduleRun
from replayhub.hub import Hub
from replayhub.index.sessions import iso
from replayhub.web.api.playlists import caller
from replayhub.web.auth import requires
from replayhub.web.problems import refusal_handler


class ReportRequest(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    schedule: str
    """An RRULE (FREQ=WEEKLY;BYDAY=MO;BYHOUR=9) or a cron line (0 9 * * 1)."""
    deliver: list[Any]
    """{"email": address}, {"slack": channel} or {"team": name} entries."""
    timezone: str = "UTC"
    """The IANA timezone the schedule is read in (Europe/Paris)."""
    period: str = ""
    """ISO 8601 duration (P7D); empty: the time between two occurrences."""
    filters: dict[str, Any] | None = None
    """The filters of GET /api/v1/sessions (no since/until); none: every session."""
    playlist_id: str | None = None
    skip_empty: bool | None = None
    """Send nothing for a period without sessions or errors ([reports] skip_empty)."""
    owner: str | None = None
    """Who is told when the report is paused (default: the caller)."""


class ReportChange(msgspec.Struct, forbid_unknown_fields=True):
    name: str | None = None
    schedule: str | None = None
    timezone: str | None = None
    period: str | None = None
    filters: dict[str, Any] | None = None
    playlist_id: str | None = None
    deliver: list[Any] | None = None
    skip_empty: bool | None = None
    owner: str | None = None
    paused: bool | None = None
    """false resumes a report the scheduler paused after repeated failures."""


class ReportOut(msgspec.Struct):
    id: str
    name: str
    owner: str
    schedule: str
    timezone: str
    period: str
    filters: dict[str, Any] | None
    playlist_id: str | None
    deliver: list[dict[str, str]]
    skip_empty: bool
    paused: bool
    next_run_at: str | None
    created_at: str
    runs_url: str
    page_url: str
    warnings: list[str]
    """What the report will miss, such as its comparison when twice its period is past
    retention_days (the report is kept: change its period or retention_days)."""


class ReportList(msgspec.Struct):
    items: list[ReportOut]


class RunOut(msgspec.Struct):
    id: str
    fire_time: str
    status: str
    """running, succeeded, skipped or failed."""
    started_at: str
    finished_at: str | None
    error: str
    delivered: list[str]
    """The deliveries it made (see /api/v1/deliveries), or why it was skipped."""
    page_url: str | None


class RunList(msgspec.Struct):
    items: list[RunOut]


REPORT_REFUSED = refusal_handler({404: "Report not found", 409: "Conflict"}, "Invalid report")


async def out(hub: Hub, report: Report) -> ReportOut:
    schedule = await reports.schedule_of(hub, report.id)
    filters = {key: value for key, value in msgspec.structs.asdict(reports.filters_of(report))
               .items() if value is not None}
    base = hub.settings.base_url
    return ReportOut(
        report.id, report.name, report.owner, report.schedule, report.timezone, report.period,
        filters if not report.playlist_id else None, report.playlist_id,
        reports.deliver_of(report), report.skip_empty, bool(schedule and schedule.paused),
        iso(schedule.next_run_at) if schedule and not schedule.paused
        and schedule.next_run_at < 2**62 else None,
        iso(report.created_at), f"{base}/api/v1/reports/{report.id}/runs",
        f"{base}/reports", await reports.report_warnings(hub, report))


def run_out(hub: Hub, report_id: str, run: ScheduleRun) -> RunOut:
    page = (f"{hub.settings.base_url}/reports/{report_id}/runs/{run.id}"
            if run.status == "succeeded" else None)
    return RunOut(run.id, iso(run.fire_time), run.status, iso(run.started_at),
                  iso(run.finished_at) if run.finished_at else None, run.error,
                  msgspec.json.decode(run.delivered or "[]", type=list[str]), page)


def spec_of(data: ReportRequest | ReportChange) -> reports.ReportSpec:
    return reports.ReportSpec(
        name=data.name, schedule=data.schedule, timezone=data.timezone, period=data.period,
        filters=data.filters, playlist_id=data.playlist_id, deliver=data.deliver,
        skip_empty=data.skip_empty, owner=data.owner)


class ReportController(Controller):
    path = "/api/v1/reports"
    tags = ["reports"]
    exception_handlers = {reports.ReportError: REPORT_REFUSED}

    @post("/", name="reports:create", operation_id="createReport", status_code=201,
          guards=[requires("agent", cookie=True)])
    async def create(self, request: Request[Any, Any, Any],
                     data: JSONBody[ReportRequest]) -> ReportOut:
        """A report and its schedule; 422 names what to fix (schedule, period, filters,
        playlist, deliver entries) and nothing is stored."""
        hub: Hub = request.app.state.hub
        spec = spec_of(data)
        spec.owner = data.owner or await caller(request)
        report = await reports.create_report(hub, spec)
        return await out(hub, report)

    @get("/", name="reports:list", operation_id="listReports",
         guards=[requires("viewer", cookie=True)])
    async def list_all(self, request: Request[Any, Any, Any]) -> ReportList:
        hub: Hub = request.app.state.hub
        return ReportList([await out(hub, r) for r in await reports.list_reports(hub)])

    @get("/{report_id:str}", name="reports:get", operation_id="getReport",
         guards=[requires("viewer", cookie=True)])
    async def get_one(self, request: Request[Any, Any, Any], report_id: FromPath[str]) -> ReportOut:
        hub: Hub = request.app.state.hub
        return await out(hub, await reports.get_report(hub, report_id))

    @patch("/{report_id:str}", name="reports:update", operation_id="updateReport",
           guards=[requires("agent", cookie=True)])
    async def change(self, request: Request[Any, Any, Any], report_id: FromPath[str],
                     data: JSONBody[ReportChange]) -> ReportOut:
        """Change what is given; a new schedule starts from now; `paused: false` resumes."""
        hub: Hub = request.app.state.hub
        report = await reports.update_report(hub, report_id, spec_of(data), data.paused)
        return await out(hub, report)

    @delete("/{report_id:str}", name="reports:delete", operation_id="deleteReport",
            guards=[requires("agent", cookie=True)])
    async def remove(self, request: Request[Any, Any, Any], report_id: FromPath[str]) -> None:
        hub: Hub = request.app.state.hub
        await reports.delete_report(hub, report_id)

    @post("/{report_id:str}/run", name="reports:run", operation_id="runReport",
          status_code=201, guards=[requires("agent", cookie=True)])
    async def run(self, request: Request[Any, Any, Any], report_id: FromPath[str]) -> RunOut:
        """Send the report now, over the period ending now (listed with the scheduled runs;
        its failure never counts toward pausing the report)."""
        hub: Hub = request.app.state.hub
        run = await reports.send_now(hub, report_id)
        return run_out(hub, report_id, run)

    @get("/{report_id:str}/runs", name="reports:runs", operation_id="listReportRuns",
         guards=[requires("viewer", cookie=True)])
    async def runs(self, request: Request[Any, Any, Any], report_id: FromPath[str]) -> RunList:
        """The report's runs, newest first."""
        hub: Hub = request.app.state.hub
        found = await reports.report_runs(hub, report_id)
        return RunList([run_out(hub, report_id, run) for run in found])
