"""The `[connectors.incidentio]` settings table."""

from __future__ import annotations

from typing import ClassVar

from replayhub.connector import ConnectorSettings


class IncidentIoSettings(ConnectorSettings, kw_only=True, forbid_unknown_fields=True):
    """One incident.io organisation."""

    webhook_secret: str = ""
    """The webhook endpoint's signing secret, `whsec_…` (Settings → Webhooks)."""
    include_test_incidents: bool = False
    """Record incidents in `test` and `tutorial` mode too."""

    SECRETS: ClassVar[tuple[str, ...]] = ("webhook_secret",)
    REQUIRED: ClassVar[tuple[str, ...]] = ("webhook_secret",)
