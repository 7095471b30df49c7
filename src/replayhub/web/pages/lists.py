"""GET / (sessions, with the API's filters and cursor paging) and GET /errors (error groups)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get
from litestar.params import FromQuery

from replayhub.clock import now_ms
from replayhub.hub import Hub
from replayhub.index.errors import DAY, error_groups
from replayhub.index.sessions import (
    BadFilter,
    SessionFilters,
    parse_time,
    search_sessions,
    summarize,
)
from replayhub.people import Owners, owner_labels_many, owners_of_error_groups
from replayhub.web.pages.common import PAGE_OPTIONS, page, person_of

PAGE_SIZE = 25
FILTERS = ("user_email", "user_id", "url", "error", "frustration", "since", "until")
FRUSTRATIONS = ("any", "rage_click", "dead_click", "error_click")


def read_filters(values: dict[str, str]) -> SessionFilters:
    return SessionFilters(
        user_email=values.get("user_email") or None, user_id=values.get("user_id") or None,
        url=values.get("url") or None, error=values.get("error") or None,
        frustration=values.get("frustration") or None,
        since=parse_time(values.get("since"), "since"),
        until=parse_time(values.get("until"), "until"))


def list_link(values: dict[str, str], cursor: str | None = None) -> str:
    """The sessions page with these filters (and cursor)."""
    query = {name: value for name, value in values.items() if value}
    if cursor:
        query["cursor"] = cursor
    return "/?" + urlencode(query)


class ListPages(Controller):
    tags = ["pages"]
    include_in_schema = False
    guards = PAGE_OPTIONS["guards"]
    exception_handlers = PAGE_OPTIONS["exception_handlers"]

    @get("/", name="pages:sessions", operation_id="sessionsPage")
    async def sessions(self, request: Request[Any, Any, Any],
                       cursor: FromQuery[str | None] = None,
                       limit: FromQuery[int] = PAGE_SIZE) -> Response[str]:
        """Sessions newest first, filtered like GET /api/v1/sessions, a page at a time."""
        hub: Hub = request.app.state.hub
        values = {name: request.query_params.get(name, "").strip() for name in FILTERS}
        rows, next_cursor, error = [], None, None
        try:
            async with hub.db.read() as tx:
                rows, next_cursor = await search_sessions(
                    tx, read_filters(values), max(1, min(limit, 200)), cursor)
        except BadFilter as bad:
            error = str(bad)
        items = [summarize(row, "") for row in rows]
        return page("sessions.html", status=400 if error else 200, person=person_of(request),
                    items=items, values=values, frustrations=FRUSTRATIONS, error=error,
                    next_url=next_cursor and list_link(values, next_cursor),
                    first_url=cursor and list_link(values))

    @get("/errors", name="pages:errors", operation_id="errorsPage")
    async def errors(self, request: Request[Any, Any, Any]) -> Response[str]:
        """Error groups of the last seven days with the sessions and users they hit."""
        hub: Hub = request.app.state.hub
        until = now_ms()
        async with hub.db.read() as tx:
            groups = await error_groups(tx, until - 7 * DAY, until, limit=100)
        links = {group.fingerprint: "/?" + urlencode({"error": group.fingerprint})
                 for group in groups}
        found = await owners_of_error_groups(hub, [group.fingerprint for group in groups])
        labels = await owner_labels_many(hub, [found.get((g.app_id, g.fingerprint), Owners())
                                               for g in groups])
        return page("errors.html", person=person_of(request), groups=groups, links=links,
                    owners=labels)
