"""The Opsgenie connector: alerts from its outgoing webhooks, checked with a shared token."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import ClassVar

from connectors.opsgenie import webhooks
from connectors.opsgenie.settings import OpsgenieSettings
from replayhub.connector import Connector, VerifyWebhook, WebhookEvent


class OpsgenieConnector(Connector, VerifyWebhook):
    name: ClassVar[str] = "opsgenie"
    title: ClassVar[str] = "Opsgenie"
    settings_type = OpsgenieSettings

    settings: OpsgenieSettings

    async def check(self) -> str:
        return "webhooks only (the hub makes no Opsgenie API calls)"

    def verify_request(self, headers: Mapping[str, str], query: Mapping[str, str], body: bytes,
                       now: float) -> None:
        webhooks.verify(self.settings.webhook_token, headers, query)

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        webhooks.verify(self.settings.webhook_token, headers, {})

    def parse_webhook(self, body: bytes) -> WebhookEvent | None:
        return webhooks.parse(body, int(time.time() * 1000))
