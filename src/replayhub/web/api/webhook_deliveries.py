"""The webhook inbox seen from outside: inbound deliveries by status, and a hand retry."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.params import Parameter

from replayhub.db.models import WebhookDelivery
from replayhub.hub import Hub
from replayhub.inbox.process import process_due_webhooks
from replayhub.inbox.store import get_webhook, list_webhooks, now_ms, retry_failed_webhook
from replayhub.index.sessions import iso
from replayhub.web.auth import requires
from replayhub.web.problems import problem

Status = Annotated[Literal["received", "retrying", "processed", "failed"] | None,
                   Parameter(description="Only webhooks in this state.")]
Limit = Annotated[int, Parameter(ge=1, le=500, description="Most webhooks (1-500).")]


class WebhookItem(msgspec.Struct):
    id: int
    direction: str
    """Always `inbound` (the outbox's deliveries are the outbound ones)."""
    connector: str
    event_key: str
    status: str
    """received, retrying, processed or failed."""
    attempts: int
    error: str | None
    received_at: str
    processed_at: str | None
    next_attempt_at: str | None
    """When a retrying webhook is tried again."""


class WebhookPage(msgspec.Struct):
    items: list[WebhookItem]


def webhook_item(row: WebhookDelivery) -> WebhookItem:
    waiting = row.status == "retrying" and row.next_attempt_at is not None
    return WebhookItem(
        row.id or 0, "inbound", row.connector, row.event_key, row.status, row.attempts,
        row.error, iso(row.received_at), iso(row.processed_at) if row.processed_at else None,
        iso(row.next_attempt_at) if waiting and row.next_attempt_at else None)


class WebhookDeliveryController(Controller):
    path = "/api/v1/webhook-deliveries"
    tags = ["deliveries"]

    @get("/", name="webhook_deliveries:list", operation_id="listWebhookDeliveries",
         guards=[requires("viewer")])
    async def list_all(self, request: Request[Any, Any, Any], status: Status = None,
                       limit: Limit = 100) -> WebhookPage:
        """Inbound vendor webhooks newest first; `status=failed` shows what needs a look."""
        hub: Hub = request.app.state.hub
        return WebhookPage([webhook_item(row) for row in
                            await list_webhooks(hub.db, status, limit)])

    @post("/{webhook_id:int}/retry", name="webhook_deliveries:retry",
          operation_id="retryWebhookDelivery", status_code=202, guards=[requires("agent")])
    async def retry(self, request: Request[Any, Any, Any],
                    webhook_id: Annotated[int, Parameter(ge=1, le=2**63 - 1)]
                    ) -> Response[WebhookItem]:
        """Process a failed webhook again, with a fresh budget of attempts."""
        hub: Hub = request.app.state.hub
        if not await retry_failed_webhook(hub.db, webhook_id, now_ms()):
            row = await get_webhook(hub.db, webhook_id)
            if row is None:
                raise problem(404, "Webhook not found", f"no webhook {webhook_id}")
            raise problem(409, "Not failed",
                          f"webhook {webhook_id} is {row.status}; only failed ones are retried")
        row = await get_webhook(hub.db, webhook_id)
        assert row is not None
        return Response(webhook_item(row), status_code=202,
                        background=BackgroundTask(process_due_webhooks, hub))
