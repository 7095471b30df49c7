"""The `[connectors.slack]` settings table."""

from __future__ import annotations

from typing import ClassVar

from replayhub.connector import ConnectorSettings

SLACK_API = "https://slack.com/api/"


class SlackSettings(ConnectorSettings, kw_only=True, forbid_unknown_fields=True):
    """One Slack workspace, reached through one Slack app's bot token."""

    bot_token: str = ""
    """The app's Bot User OAuth Token (xoxb-…): OAuth & Permissions."""
    signing_secret: str = ""
    """The app's Signing Secret (Basic Information): verifies events and button clicks."""
    unfurl: bool = True
    """Unfurl replay and share links pasted in Slack (the link_shared event)."""
    channel_rate_limit_per_minute: int = 60
    """Messages a minute to one channel (Slack allows about one a second per channel)."""

    SECRETS: ClassVar[tuple[str, ...]] = ("bot_token", "signing_secret")
    REQUIRED: ClassVar[tuple[str, ...]] = ("bot_token", "signing_secret")

    @property
    def api_url(self) -> str:
        """The Web API's address, always ending in a slash (method names are appended)."""
        return (self.base_url or SLACK_API).rstrip("/") + "/"
