"""GET /deliveries (the outbox: what was sent, what failed) and its retry button."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from replayhub.clock import now_ms
from replayhub.hub import Hub
from replayhub.outbox.store import STATUSES, list_deliveries, retry_failed
from replayhub.security import role_allows
from replayhub.web.api.deliveries import delivery_item
from replayhub.web.pages.common import PAGE_OPTIONS, page, person_of
from replayhub.web.problems import problem


class DeliveryPages(Controller):
    tags = ["pages"]
    include_in_schema = False
    guards = PAGE_OPTIONS["guards"]
    exception_handlers = PAGE_OPTIONS["exception_handlers"]

    @get("/deliveries", name="pages:deliveries", operation_id="deliveriesPage")
    async def deliveries(self, request: Request[Any, Any, Any],
                         status: FromQuery[str | None] = None) -> Response[str]:
        """Outgoing notes and messages newest first, failures with their error."""
        hub: Hub = request.app.state.hub
        status = status if status in STATUSES else None
        rows = await list_deliveries(hub.db, status, 200)
        person = person_of(request)
        return page("deliveries.html", person=person, items=[delivery_item(r) for r in rows],
                    shown=status, statuses=STATUSES,
                    can_retry=role_allows(person.role, "agent"))

    @post("/deliveries/{delivery_id:str}/retry", name="pages:delivery_retry",
          operation_id="retryDeliveryPage", status_code=303)
    async def retry(self, request: Request[Any, Any, Any],
                    delivery_id: FromPath[str]) -> Response[Any]:
        hub: Hub = request.app.state.hub
        if not role_allows(person_of(request).role, "agent"):
            raise problem(403, "Forbidden", "retrying a delivery needs the agent role")
        if await retry_failed(hub.db, delivery_id, now_ms()):
            hub.dispatcher.notify()
        return Redirect("/deliveries?status=failed", status_code=303)
