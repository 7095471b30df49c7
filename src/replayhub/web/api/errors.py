"""Error groups: how often, in how many sessions, for how many users."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get
from litestar.params import FromQuery, Parameter

from replayhub.clock import now_ms
from replayhub.hub import Hub
from replayhub.index.errors import DAY, ErrorGroupSummary, error_groups
from replayhub.index.sessions import BadFilter, iso, parse_time
from replayhub.people import Owners, owners_of_error_groups
from replayhub.web.auth import requires
from replayhub.web.problems import problem


class OwnedErrorGroup(ErrorGroupSummary):
    owners: Owners = msgspec.field(default_factory=Owners)
    """Who owns the group by the `[[ownership]]` rules (its app, message, pages)."""


class ErrorGroupPage(msgspec.Struct):
    since: str
    until: str
    items: list[OwnedErrorGroup]


class ErrorController(Controller):
    path = "/api/v1/errors"
    tags = ["errors"]
    guards = [requires("viewer")]

    @get("/", name="errors:list", operation_id="listErrorGroups")
    async def list_groups(
        self, request: Request[Any, Any, Any], since: FromQuery[str | None] = None,
        until: FromQuery[str | None] = None, app_id: FromQuery[str | None] = None,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 50,
    ) -> ErrorGroupPage:
        """Error groups with occurrences in [since, until) (default: the last 7 days)."""
        hub: Hub = request.app.state.hub
        try:
            end = parse_time(until, "until")
            end = now_ms() if end is None else end
            start = parse_time(since, "since")
            start = end - 7 * DAY if start is None else start
        except BadFilter as bad:
            raise problem(400, "Invalid filter", str(bad)) from None
        if start >= end:
            raise problem(400, "Invalid filter", "since must be before until")
        async with hub.db.read() as tx:
            items = await error_groups(tx, start, end, app_id=app_id, limit=limit,
                                       base_url=hub.settings.base_url)
        owners = await owners_of_error_groups(hub, [group.fingerprint for group in items])
        return ErrorGroupPage(iso(start), iso(end), [
            OwnedErrorGroup(**msgspec.structs.asdict(group),
                            owners=owners.get((group.app_id, group.fingerprint), Owners()))
            for group in items])
