"""The `[connectors.pagerduty]` settings table."""

from __future__ import annotations

from typing import ClassVar

from replayhub.connector import ConnectorSettings


class PagerDutySettings(ConnectorSettings, kw_only=True, forbid_unknown_fields=True):
    """One PagerDuty account."""

    webhook_secret: str = ""
    """The signing secret of the v3 webhook subscription that calls POST /webhooks/pagerduty."""
    previous_webhook_secret: str = ""
    """While rotating: the old secret, still accepted until the subscription is re-created."""
    api_token: str = ""
    """A REST API key (Integrations → API Access Keys); only for `connectors check` for now."""

    SECRETS: ClassVar[tuple[str, ...]] = ("webhook_secret", "previous_webhook_secret",
                                          "api_token")
    REQUIRED: ClassVar[tuple[str, ...]] = ("webhook_secret",)

    @property
    def api_url(self) -> str:
        return (self.base_url or "https://api.pagerduty.com").rstrip("/")
