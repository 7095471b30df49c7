"""POST /webhooks/{connector}: verify, store once, answer at once, process in the background."""

from __future__ import annotations

import time
from typing import Any

import msgspec
from litestar import Controller, Request, Response, post
from litestar.background_tasks import BackgroundTask
from litestar.params import FromPath

from replayhub.connector import Connector, VerifyWebhook, WebhookRejected
from replayhub.hub import Hub
from replayhub.inbox.process import process_webhook
from replayhub.inbox.store import store_webhook
from replayhub.web.problems import problem

MAX_BODY_BYTES = 1024 * 1024


class WebhookAnswer(msgspec.Struct):
    status: str
    """accepted, duplicate (stored before: nothing is done again) or ignored."""


def webhook_connector(hub: Hub, name: str) -> VerifyWebhook:
    connector = hub.connectors.get(name)
    if not isinstance(connector, VerifyWebhook):
        raise problem(404, "Not found", f"no enabled connector {name!r} takes webhooks")
    return connector


class WebhookController(Controller):
    path = "/webhooks"
    tags = ["webhooks"]

    @post("/{connector:str}", name="webhooks:receive", operation_id="receiveWebhook",
          security=[], status_code=200, request_max_body_size=MAX_BODY_BYTES)
    async def receive(self, request: Request[Any, Any, Any],
                      connector: FromPath[str]) -> Response[WebhookAnswer]:
        """A signed vendor webhook: 401 bad signature or stale, 400 malformed, 404 unknown."""
        hub: Hub = request.app.state.hub
        target = webhook_connector(hub, connector)
        body = await request.body()
        try:
            target.verify_request(request.headers, request.query_params, body, time.time())
            event = target.parse_webhook(body)
        except WebhookRejected as rejected:
            raise problem(rejected.status, "Webhook refused", rejected.detail) from None
        if event is None:
            return Response(WebhookAnswer("ignored"))
        lease_ms = hub.settings.outbox.lease_seconds * 1000
        if not await store_webhook(hub.db, connector, event.event_key, body, lease_ms):
            return Response(WebhookAnswer("duplicate"))
        assert isinstance(target, Connector)
        return Response(WebhookAnswer("accepted"),
                        background=BackgroundTask(process_webhook, hub, target, event))
