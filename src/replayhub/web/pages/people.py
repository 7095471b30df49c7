"""GET /people: the directory (people, teams) and the ownership rules, read-only."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get

from replayhub.hub import Hub
from replayhub.people import list_people, list_teams
from replayhub.web.pages.common import PAGE_OPTIONS, page, person_of


class PeoplePages(Controller):
    tags = ["pages"]
    include_in_schema = False
    guards = PAGE_OPTIONS["guards"]
    exception_handlers = PAGE_OPTIONS["exception_handlers"]

    @get("/people", name="pages:people", operation_id="peoplePage")
    async def people(self, request: Request[Any, Any, Any]) -> Response[str]:
        """Who is in the directory, the teams with where they are told things (a Teams
        webhook only as set or not), and the ownership rules in the order they are tried."""
        hub: Hub = request.app.state.hub
        teams = [{"name": t.name, "members": t.members, "slack_channel": t.slack_channel,
                  "email": t.email, "webhook": bool(t.teams_webhook), "source": t.source}
                 for t in await list_teams(hub)]
        return page("people.html", person=person_of(request), people=await list_people(hub),
                    teams=teams, rules=hub.settings.ownership)
