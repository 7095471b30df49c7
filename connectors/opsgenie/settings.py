"""The `[connectors.opsgenie]` settings table."""

from __future__ import annotations

from typing import ClassVar

import structlog

from replayhub.config import ConfigError
from replayhub.connector import ConnectorSettings

log = structlog.get_logger(__name__)


class OpsgenieSettings(ConnectorSettings, kw_only=True, forbid_unknown_fields=True):
    """One Opsgenie account's outgoing webhook integration."""

    webhook_secret: str = ""
    """A long random token of ours: Opsgenie signs nothing, so its webhook integration sends it
    as the basic-auth password or in an `X-ReplayHub-Token` custom header (or, discouraged
    because URLs end up in proxy logs, as `?token=…` in the URL)."""
    webhook_token: str = ""
    """Deprecated name of `webhook_secret`, still read."""
    max_event_age_hours: float = 24
    """An alert action whose `updatedAt` (else `createdAt`) is older is refused (401)."""

    SECRETS: ClassVar[tuple[str, ...]] = ("webhook_secret", "webhook_token")
    REQUIRED: ClassVar[tuple[str, ...]] = ("webhook_secret",)

    def __post_init__(self) -> None:
        if self.webhook_token:
            if self.webhook_secret:
                raise ConfigError("connectors.opsgenie: set webhook_secret only "
                                  "(webhook_token is its deprecated name)")
            log.warning("config.deprecated", key="connectors.opsgenie.webhook_token",
                        use="connectors.opsgenie.webhook_secret")
            self.webhook_secret, self.webhook_token = self.webhook_token, ""
