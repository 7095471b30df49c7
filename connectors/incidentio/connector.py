"""The incident.io connector: incidents from its signed webhooks (no API calls yet)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from connectors.incidentio import webhooks
from connectors.incidentio.settings import IncidentIoSettings
from replayhub.connector import Connector, VerifyWebhook, WebhookEvent


class IncidentIoConnector(Connector, VerifyWebhook):
    name: ClassVar[str] = "incidentio"
    title: ClassVar[str] = "incident.io"
    settings_type = IncidentIoSettings
    default_rate_limit_per_minute: ClassVar[int] = 1200

    settings: IncidentIoSettings

    async def check(self) -> str:
        return "webhooks only (the hub makes no incident.io API calls)"

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        webhooks.verify(self.settings.webhook_secret, headers, body, now)

    def parse_webhook(self, body: bytes) -> WebhookEvent | None:
        return webhooks.parse(body, self.settings.include_test_incidents)
