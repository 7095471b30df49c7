"""The outbox seen from outside: deliveries by status, and a retry for a failed one."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromPath, Parameter

from replayhub.clock import now_ms
from replayhub.db.models import Delivery
from replayhub.hub import Hub
from replayhub.index.sessions import iso
from replayhub.outbox.store import get_delivery, list_deliveries, retry_failed
from replayhub.web.auth import requires
from replayhub.web.problems import problem

Status = Annotated[Literal["pending", "sending", "sent", "failed"] | None,
                   Parameter(description="Only deliveries in this state.")]
Limit = Annotated[int, Parameter(ge=1, le=500, description="Most deliveries (1-500).")]


class DeliveryItem(msgspec.Struct):
    id: str
    connector: str
    account: str
    action: str
    status: str
    attempts: int
    target: str | None
    """The ticket (or channel, page...) the delivery goes to."""
    session_id: str | None
    external_id: str | None
    last_error: str | None
    next_attempt_at: str
    created_at: str
    updated_at: str
    sent_at: str | None


class DeliveryPage(msgspec.Struct):
    items: list[DeliveryItem]


def delivery_item(row: Delivery) -> DeliveryItem:
    target = json.loads(row.payload).get("ticket_id")
    return DeliveryItem(
        row.id, row.connector, row.account, row.action, row.status, row.attempts,
        str(target) if target is not None else None, row.session_id, row.external_id,
        row.last_error, iso(row.next_attempt_at), iso(row.created_at), iso(row.updated_at),
        iso(row.sent_at) if row.sent_at else None)


class DeliveryController(Controller):
    path = "/api/v1/deliveries"
    tags = ["deliveries"]

    @get("/", name="deliveries:list", operation_id="listDeliveries",
         guards=[requires("viewer")])
    async def list_all(self, request: Request[Any, Any, Any], status: Status = None,
                       limit: Limit = 100) -> DeliveryPage:
        """Outgoing actions newest first; `status=failed` shows what needs a look."""
        hub: Hub = request.app.state.hub
        rows = await list_deliveries(hub.db, status, limit)
        return DeliveryPage([delivery_item(row) for row in rows])

    @post("/{delivery_id:str}/retry", name="deliveries:retry", operation_id="retryDelivery",
          status_code=202, guards=[requires("agent")])
    async def retry(self, request: Request[Any, Any, Any],
                    delivery_id: FromPath[str]) -> DeliveryItem:
        """Send a failed delivery again, with a fresh budget of attempts."""
        hub: Hub = request.app.state.hub
        if not await retry_failed(hub.db, delivery_id, now_ms()):
            row = await get_delivery(hub.db, delivery_id)
            if row is None:
                raise problem(404, "Delivery not found", f"no delivery {delivery_id!r}")
            raise problem(409, "Not failed",
                          f"delivery {delivery_id} is {row.status}; only failed ones are retried")
        hub.dispatcher.notify()
        row = await get_delivery(hub.db, delivery_id)
        assert row is not None
        return delivery_item(row)
