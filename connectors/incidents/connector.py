"""The generic incident webhook connector: any tool that can sign a small JSON body."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from connectors.incidents import webhooks
from connectors.incidents.settings import IncidentWebhookSettings
from replayhub.connector import Connector, VerifyWebhook, WebhookEvent


class IncidentWebhookConnector(Connector, VerifyWebhook):
    name: ClassVar[str] = "incidents"
    title: ClassVar[str] = "Incident webhook (generic)"
    settings_type = IncidentWebhookSettings

    settings: IncidentWebhookSettings

    async def check(self) -> str:
        return "webhooks only"

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        webhooks.verify(self.settings.webhook_secret, headers, body, now)

    def parse_webhook(self, body: bytes) -> WebhookEvent | None:
        return webhooks.parse(body)
