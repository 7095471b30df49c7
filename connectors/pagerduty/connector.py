"""The PagerDuty connector: incidents from webhooks v3 (signed, any of several secrets), and
notes on them (the link to a published post-mortem)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from html import unescape
from typing import ClassVar

import httpx

from connectors.pagerduty import webhooks
from connectors.pagerduty.client import PagerDutyClient
from connectors.pagerduty.settings import PagerDutySettings
from replayhub.connector import Connector, Note, PostNote, VerifyWebhook, WebhookEvent


def note_text(html: str) -> str:
    """A note's HTML as the plain text PagerDuty shows (links kept as their addresses)."""
    text = re.sub(r'<a\s[^>]*href="([^"]*)"[^>]*>(.*?)</a>', r"\2 (\1)", html, flags=re.S)
    text = re.sub(r"<br\s*/?>|</p>\s*|</li>\s*", "\n", text)
    return unescape(re.sub(r"<[^>]+>", "", text)).strip()


class PagerDutyConnector(Connector, PostNote, VerifyWebhook):
    name: ClassVar[str] = "pagerduty"
    title: ClassVar[str] = "PagerDuty"
    settings_type = PagerDutySettings
    default_rate_limit_per_minute: ClassVar[int] = 900
    """PagerDuty's REST API limit for one account key."""

    settings: PagerDutySettings

    def __init__(self, settings: PagerDutySettings,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(settings)
        self.client = PagerDutyClient(settings, transport)

    async def check(self) -> str:
        if not self.settings.api_token:
            return "webhooks only (no api_token set)"
        return f"API key with {len(await self.client.abilities())} abilities"

    async def post_note(self, ticket_id: str, note: Note) -> str:
        """A note on the incident `ticket_id` (PagerDuty notes are plain text)."""
        answer = await self.client.add_incident_note(ticket_id, note_text(note.html_body),
                                                     self.settings.from_email)
        return str(answer.get("id") or "")

    async def find_note(self, ticket_id: str, marker: str) -> str | None:
        for note in await self.client.incident_notes(ticket_id):
            if marker in str(note.get("content") or ""):
                return str(note.get("id") or "")
        return None

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        secrets = [self.settings.webhook_secret, self.settings.previous_webhook_secret]
        webhooks.verify(secrets, headers, body)
        webhooks.check_event_age(body, now, self.settings.max_event_age_hours)

    def parse_webhook(self, body: bytes) -> WebhookEvent | None:
        return webhooks.parse(body)

    async def close(self) -> None:
        await self.client.close()
