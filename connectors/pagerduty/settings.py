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
    """A REST API key (Integrations → API Access Keys): `connectors check` and the notes that
    link an incident to its published post-mortem."""
    from_email: str = ""
    """The e-mail of a PagerDuty user the notes are written as (REST API `From` header);
    notes are posted only when both `api_token` and this are set."""
    max_event_age_hours: float = 50
    """A signed event whose `occurred_at` is older is refused (401): PagerDuty signs no
    timestamp, and retries a failed delivery for up to 48 hours."""

    SECRETS: ClassVar[tuple[str, ...]] = ("webhook_secret", "previous_webhook_secret",
                                          "api_token")
    REQUIRED: ClassVar[tuple[str, ...]] = ("webhook_secret",)

    @property
    def api_url(self) -> str:
        return (self.base_url or "https://api.pagerduty.com").rstrip("/")
