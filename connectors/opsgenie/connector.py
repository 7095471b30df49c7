"""The Opsgenie connector: alerts from its outgoing webhooks, checked with a shared token."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import structlog

from connectors.opsgenie import webhooks
from connectors.opsgenie.settings import OpsgenieSettings
from replayhub.clock import now_ms
from replayhub.connector import Connector, VerifyWebhook, WebhookEvent

log = structlog.get_logger(__name__)


class OpsgenieConnector(Connector, VerifyWebhook):
    name: ClassVar[str] = "opsgenie"
    title: ClassVar[str] = "Opsgenie"
    settings_type = OpsgenieSettings

    settings: OpsgenieSettings
    warned_query_token = False
    """Whether the log already says once that the token came in the URL."""

    async def check(self) -> str:
        return "webhooks only (the hub makes no Opsgenie API calls)"

    def verify_request(self, headers: Mapping[str, str], query: Mapping[str, str], body: bytes,
                       now: float) -> None:
        in_url = webhooks.verify(self.settings.webhook_secret, headers, query)
        if in_url and not self.warned_query_token:
            self.warned_query_token = True
            log.warning("opsgenie.token_in_url", hint="send the token as the basic-auth "
                        "password or an X-ReplayHub-Token header: URLs reach access logs")
        webhooks.check_event_age(body, now, self.settings.max_event_age_hours)

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        self.verify_request(headers, {}, body, now)

    def parse_webhook(self, body: bytes) -> WebhookEvent | None:
        return webhooks.parse(body, now_ms())
