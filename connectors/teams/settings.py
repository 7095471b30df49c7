"""The `[connectors.teams]` settings table."""

from __future__ import annotations

from replayhub.connector import ConnectorSettings


class TeamsSettings(ConnectorSettings, kw_only=True, forbid_unknown_fields=True):
    """Teams alerts. Each team's Workflows webhook URL is its `teams_webhook` ([[teams]] or
    /api/v1/teams): a secret, never logged; this table only turns the connector on."""

    timeout_seconds: float = 20.0
    """How long a webhook call may take before it is retried."""
