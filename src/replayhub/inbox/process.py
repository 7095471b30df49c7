"""What the hub does with a verified webhook event, after it has answered the vendor."""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from replayhub.comments import import_ticket_comments
from replayhub.connector import CommentAdded, Connector, TicketCreated, WebhookEvent
from replayhub.inbox.store import FAILED, PROCESSED, mark_webhook
from replayhub.ticket_notes import replays_for_new_ticket

if TYPE_CHECKING:
    from replayhub.hub import Hub

log = structlog.get_logger(__name__)


async def handle_event(hub: Hub, connector: Connector, event: WebhookEvent) -> None:
    if isinstance(event, TicketCreated):
        await replays_for_new_ticket(hub, connector, event)
    elif isinstance(event, CommentAdded):
        await import_ticket_comments(hub, connector, event.ticket_id)


async def process_webhook(hub: Hub, connector: Connector, event: WebhookEvent) -> None:
    """Run the event and record the outcome on its stored row."""
    try:
        await handle_event(hub, connector, event)
    except Exception as error:
        log.exception("inbox.process_failed", connector=connector.name, key=event.event_key)
        await mark_webhook(hub.db, connector.name, event.event_key, FAILED,
                           f"{type(error).__name__}: {error}"[:2000])
        return
    await mark_webhook(hub.db, connector.name, event.event_key, PROCESSED)
