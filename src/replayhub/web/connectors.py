"""The route handlers of the connector framework, and the dispatcher the app runs."""

from __future__ import annotations

import asyncio
from typing import Any

from replayhub.hub import Hub
from replayhub.inbox.process import retry_webhooks_forever
from replayhub.web.api.comments import CommentController
from replayhub.web.api.deliveries import DeliveryController
from replayhub.web.api.links import LinkController
from replayhub.web.api.webhook_deliveries import WebhookDeliveryController
from replayhub.web.pages.deliveries import DeliveryPages
from replayhub.web.webhooks.inbound import WebhookController

CONNECTOR_HANDLERS = [WebhookController, DeliveryController, WebhookDeliveryController,
                      LinkController, CommentController, DeliveryPages]


def connector_routes(hub: Hub) -> list[Any]:
    """Routes the enabled connectors serve themselves (Zendesk's sidebar app...)."""
    return [handler for connector in hub.connectors.values()
            for handler in connector.route_handlers()]


async def dispatch_forever(hub: Hub) -> None:
    """The outbox dispatcher and the webhook retries of this process (unless
    `outbox.dispatcher` is off)."""
    if hub.settings.outbox.dispatcher:
        await asyncio.gather(hub.dispatcher.run_forever(), retry_webhooks_forever(hub))
