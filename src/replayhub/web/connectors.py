"""The route handlers of the connector framework, and the dispatcher the app runs."""

from __future__ import annotations

from replayhub.hub import Hub
from replayhub.web.api.comments import CommentController
from replayhub.web.api.deliveries import DeliveryController
from replayhub.web.api.links import LinkController
from replayhub.web.pages.deliveries import DeliveryPages
from replayhub.web.webhooks.inbound import WebhookController

CONNECTOR_HANDLERS = [WebhookController, DeliveryController, LinkController, CommentController,
                      DeliveryPages]


async def dispatch_forever(hub: Hub) -> None:
    """The outbox dispatcher of this process (unless `outbox.dispatcher` is off)."""
    if hub.settings.outbox.dispatcher:
        await hub.dispatcher.run_forever()
