"""The `[connectors.incidents]` settings table."""

from __future__ import annotations

from typing import ClassVar

from replayhub.connector import ConnectorSettings


class IncidentWebhookSettings(ConnectorSettings, kw_only=True, forbid_unknown_fields=True):
    """The generic incident webhook."""

    signing_secret: str = ""
    """Shared with the sender: it signs `X-ReplayHub-Signature: t=<unix>,v1=<hex HMAC-SHA256 of
    "t.body">`."""

    SECRETS: ClassVar[tuple[str, ...]] = ("signing_secret",)
    REQUIRED: ClassVar[tuple[str, ...]] = ("signing_secret",)
