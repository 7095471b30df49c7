"""The PagerDuty connector: incidents from webhooks v3 (signed, any of several secrets)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import httpx

from connectors.pagerduty import webhooks
from connectors.pagerduty.client import PagerDutyClient
from connectors.pagerduty.settings import PagerDutySettings
from replayhub.connector import Connector, VerifyWebhook, WebhookEvent


class PagerDutyConnector(Connector, VerifyWebhook):
    name: ClassVar[str] = "pagerduty"
    title: ClassVar[str] = "PagerDuty"
    settings_type = PagerDutySettings
    default_rate_limit_per_minute: ClassVar[int] = 900
    """PagerDuty's REST API limit for one account key."""

    settings: PagerDutySettings

    def __init__(self, settings: PagerDutySettings,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(settings)
        self.client = PagerDutyClient(settings, transport)

    async def check(self) -> str:
        if not self.settings.api_token:
            return "webhooks only (no api_token set)"
        return f"API key with {len(await self.client.abilities())} abilities"

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        secrets = [self.settings.webhook_secret, self.settings.previous_webhook_secret]
        webhooks.verify(secrets, headers, body)

    def parse_webhook(self, body: bytes) -> WebhookEvent | None:
        return webhooks.parse(body)

    async def close(self) -> None:
        await self.client.close()
