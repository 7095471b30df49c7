"""The `[connectors.incidents]` settings table."""

from __future__ import annotations

from typing import ClassVar

import structlog

from replayhub.config import ConfigError
from replayhub.connector import ConnectorSettings

log = structlog.get_logger(__name__)


class IncidentWebhookSettings(ConnectorSettings, kw_only=True, forbid_unknown_fields=True):
    """The generic incident webhook."""

    webhook_secret: str = ""
    """Shared with the sender: it signs `X-ReplayHub-Signature: t=<unix>,v1=<hex HMAC-SHA256 of
    "t.body">`."""
    signing_secret: str = ""
    """Deprecated name of `webhook_secret`, still read."""

    SECRETS: ClassVar[tuple[str, ...]] = ("webhook_secret", "signing_secret")
    REQUIRED: ClassVar[tuple[str, ...]] = ("webhook_secret",)

    def __post_init__(self) -> None:
        if self.signing_secret:
            if self.webhook_secret:
                raise ConfigError("connectors.incidents: set webhook_secret only "
                                  "(signing_secret is its deprecated name)")
            log.warning("config.deprecated", key="connectors.incidents.signing_secret",
                        use="connectors.incidents.webhook_secret")
            self.webhook_secret, self.signing_secret = self.signing_secret, ""
