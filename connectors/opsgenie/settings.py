"""The `[connectors.opsgenie]` settings table."""

from __future__ import annotations

from typing import ClassVar

from replayhub.connector import ConnectorSettings


class OpsgenieSettings(ConnectorSettings, kw_only=True, forbid_unknown_fields=True):
    """One Opsgenie account's outgoing webhook integration."""

    webhook_token: str = ""
    """A long random token of ours: Opsgenie signs nothing, so the webhook URL carries it as
    `?token=…`, or the integration sends it as the basic-auth password."""

    SECRETS: ClassVar[tuple[str, ...]] = ("webhook_token",)
    REQUIRED: ClassVar[tuple[str, ...]] = ("webhook_token",)
