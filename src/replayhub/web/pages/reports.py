"""Report pages: the list, each run as it was sent (signed-in), and the unsubscribe link's
page and one-click POST (RFC 8058; no sign-in: the link is signed)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath

from replayhub import reports
from replayhub.hub import Hub
from replayhub.signing import BadSignature, Expired
from replayhub.templating import render
from replayhub.web.pages.common import HEADERS, PAGE_OPTIONS, person_of
from replayhub.web.problems import problem

RECENT_RUNS = 5


def html(template: str, status: int = 200, **context: Any) -> Response[str]:
    """A template from templates/reports/ with the UI's security headers."""
    return Response(render(f"reports/{template}", **context), status_code=status,
                    media_type="text/html; charset=utf-8", headers=HEADERS)


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


class ReportPages(Controller):
    tags = ["pages"]
    include_in_schema = False

    @get("/reports", name="pages:reports", operation_id="reportsPage", **PAGE_OPTIONS)
    async def index(self, request: Request[Any, Any, Any]) -> Response[str]:
        """Every report: its schedule, next run and recent runs (each a link to its page)."""
        hub: Hub = request.app.state.hub
        items = []
        for report in await reports.list_reports(hub):
            schedule = await reports.schedule_of(hub, report.id)
            runs = await reports.report_runs(hub, report.id, RECENT_RUNS)
            items.append({
                "report": report, "paused": bool(schedule and schedule.paused),
                "next_run": _when(schedule.next_run_at) if schedule
                and schedule.next_run_at < 2**62 else "none",
                "runs": [{"id": r.id, "status": r.status, "when": _when(r.fire_time)}
                         for r in runs]})
        return html("list.html", person=person_of(request), active="reports", reports=items)

    @get("/reports/{report_id:str}/runs/{run_id:str}", name="pages:report_run",
         operation_id="reportRunPage", **PAGE_OPTIONS)
    async def run(self, request: Request[Any, Any, Any], report_id: FromPath[str],
                  run_id: FromPath[str]) -> Response[str]:
        """One run of a report as it was sent: figures, tables and the chart (SVG)."""
        hub: Hub = request.app.state.hub
        try:
            report, row, content = await reports.stored_run(hub, report_id, run_id)
        except reports.ReportError as error:
            raise problem(error.status, "Report run not found", str(error)) from None
        return html("run.html", person=person_of(request), active="reports", c=content,
                    svg=row.chart_svg, run_id=run_id, report=report)

    @get("/unsubscribe/{token:str}", name="pages:unsubscribe", operation_id="unsubscribePage",
         security=[])
    async def confirm(self, request: Request[Any, Any, Any], token: FromPath[str]) -> Response[str]:
        """What the link in a report mail opens: a button that unsubscribes (a GET never
        does, so link scanners cannot unsubscribe anyone)."""
        hub: Hub = request.app.state.hub
        try:
            report_id, address = reports.read_unsubscribe(hub, token)
            report = await reports.get_report(hub, report_id)
        except (BadSignature, Expired, reports.ReportError) as error:
            status = 404 if isinstance(error, reports.ReportError) else 400
            return html("unsubscribe.html", status=status, person=None, error=_why(error),
                        token="")
        return html("unsubscribe.html", person=None, report_name=report.name, address=address,
                    done=False, error="", token=token)

    @post("/unsubscribe/{token:str}", name="pages:unsubscribe_post",
          operation_id="unsubscribe", security=[], status_code=200)
    async def unsubscribe(self, request: Request[Any, Any, Any],
                          token: FromPath[str]) -> Response[str]:
        """One-click unsubscribe (RFC 8058 `List-Unsubscribe=One-Click`, or the page's
        button): the signed address leaves the report's recipients."""
        hub: Hub = request.app.state.hub
        try:
            report_id, address = reports.read_unsubscribe(hub, token)
        except (BadSignature, Expired) as error:
            return html("unsubscribe.html", status=400, person=None, error=_why(error),
                        token="")
        report = await reports.unsubscribe(hub, report_id, address)
        if report is None:
            return html("unsubscribe.html", status=404, person=None, token="",
                        error="This report no longer exists: nothing more will be sent.")
        return html("unsubscribe.html", person=None, report_name=report.name, address=address,
                    done=True, error="", token="")


def _why(error: Exception) -> str:
    if isinstance(error, Expired):
        return "This unsubscribe link has expired: use the link in a more recent report."
    if isinstance(error, reports.ReportError):
        return "This report no longer exists: nothing more will be sent."
    return "This unsubscribe link is not valid (it may have been cut): copy the whole link."
