"""The Teams connector: alerts as Adaptive Cards (1.4) posted to a team's Workflows webhook.

Workflows answers 202 without the id of the message it posts, and a posted card cannot be
edited through it: `update_alert` says so (the outbox then skips the edit, never re-posts)."""

from __future__ import annotations

from typing import ClassVar

import httpx

from connectors.teams.cards import webhook_body
from connectors.teams.client import TeamsClient
from connectors.teams.settings import TeamsSettings
from replayhub.connector import ChatAlert, Connector, PostChatAlert


class TeamsConnector(Connector, PostChatAlert):
    name: ClassVar[str] = "teams"
    title: ClassVar[str] = "Microsoft Teams"
    settings_type = TeamsSettings
    default_rate_limit_per_minute: ClassVar[int] = 60
    """Teams throttles a webhook past a few messages a second; a minute's pace stays under."""

    settings: TeamsSettings

    def __init__(self, settings: TeamsSettings,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(settings)
        self.client = TeamsClient(settings, transport)

    async def check(self) -> str:
        return "Workflows webhooks (one per team, set as the team's teams_webhook)"

    async def post_alert(self, channel: str, alert: ChatAlert, marker: str) -> str:
        """`channel` is the team's Workflows URL (a secret); the id is the delivery marker,
        since Workflows does not return the message's."""
        await self.client.post(channel, webhook_body(alert))
        return marker

    async def update_alert(self, channel: str, message_id: str, alert: ChatAlert) -> bool:
        return False

    async def close(self) -> None:
        await self.client.close()
