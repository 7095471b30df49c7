"""What the hub does with a verified webhook event, after it has answered the vendor.

A failed processing (the vendor down while the hub looks up the requester...) is tried again
with the outbox's backoff, up to `outbox.max_attempts` attempts, then parked as failed:
GET /api/v1/webhook-deliveries?status=failed lists it, POST .../{id}/retry runs it again.
Processing is idempotent (a ticket's note has one outbox key), so a retry never doubles it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import structlog

from replayhub.comments import import_ticket_comments
from replayhub.connector import (
    CommentAdded,
    Connector,
    IncidentUpdate,
    TicketCreated,
    VendorError,
    VerifyWebhook,
    WebhookEvent,
    WebhookRejected,
)
from replayhub.inbox.store import (
    FAILED,
    PROCESSED,
    RETRYING,
    claim_due_webhooks,
    mark_webhook,
    now_ms,
)
from replayhub.outbox.dispatcher import backoff_seconds
from replayhub.ticket_notes import replays_for_new_ticket

if TYPE_CHECKING:
    from replayhub.hub import Hub

log = structlog.get_logger(__name__)


async def handle_event(hub: Hub, connector: Connector, event: WebhookEvent) -> None:
    if isinstance(event, TicketCreated):
        await replays_for_new_ticket(hub, connector, event)
    elif isinstance(event, CommentAdded):
        await import_ticket_comments(hub, connector, event.ticket_id)
    elif isinstance(event, IncidentUpdate):
        from replayhub.incidents import record_incident_update

        await record_incident_update(hub, connector.name, event)
    elif hasattr(connector, "handle_event"):  # a connector's own events (Slack threads...)
        await connector.handle_event(hub, event)


async def process_webhook(hub: Hub, connector: Connector, event: WebhookEvent,
                          attempts: int = 1) -> bool:
    """Run the event and record the outcome on its stored row; True when it was processed."""
    try:
        await handle_event(hub, connector, event)
    except Exception as error:
        await _after_failure(hub, connector, event, error, attempts)
        return False
    await mark_webhook(hub.db, connector.name, event.event_key, PROCESSED)
    return True


async def _after_failure(hub: Hub, connector: Connector, event: WebhookEvent,
                         error: Exception, attempts: int) -> None:
    message = f"{type(error).__name__}: {error}"[:2000]
    settings = hub.settings.outbox
    retryable = error.retryable if isinstance(error, VendorError) else True
    if not retryable or attempts >= settings.max_attempts:
        log.warning("inbox.process_failed", connector=connector.name, key=event.event_key,
                    attempts=attempts, error=message)
        await mark_webhook(hub.db, connector.name, event.event_key, FAILED, message)
        return
    retry_after = error.retry_after if isinstance(error, VendorError) else None
    wait = retry_after if retry_after is not None else backoff_seconds(attempts, settings)
    log.info("inbox.process_retry", connector=connector.name, key=event.event_key,
             attempts=attempts, wait_seconds=wait, error=message)
    await mark_webhook(hub.db, connector.name, event.event_key, RETRYING, message,
                       now_ms() + int(wait * 1000))


async def process_due_webhooks(hub: Hub, now: int | None = None, limit: int = 50) -> int:
    """Attempt the stored webhooks whose retry is due; the number attempted."""
    settings = hub.settings.outbox
    rows = await claim_due_webhooks(hub.db, now_ms() if now is None else now,
                                    settings.lease_seconds * 1000, limit)
    for row in rows:
        connector = hub.connectors.get(row.connector)
        if not isinstance(connector, VerifyWebhook):
            await mark_webhook(hub.db, row.connector, row.event_key, FAILED,
                               f"connector {row.connector!r} is not enabled")
            continue
        try:
            event = connector.parse_webhook(row.body.encode())
        except WebhookRejected as rejected:
            await mark_webhook(hub.db, row.connector, row.event_key, FAILED, rejected.detail)
            continue
        assert isinstance(connector, Connector)
        if event is None:
            await mark_webhook(hub.db, row.connector, row.event_key, PROCESSED)
            continue
        await process_webhook(hub, connector, event, row.attempts)
    return len(rows)


async def retry_webhooks_forever(hub: Hub) -> None:
    """Background loop of the serving process: take up webhooks whose retry is due."""
    while True:
        try:
            await process_due_webhooks(hub)
        except Exception:
            log.exception("inbox.retry_loop_failed")
        await asyncio.sleep(hub.settings.outbox.poll_seconds)
