"""The Zendesk connector: what it is, and the capabilities it implements over its client."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from connectors.zendesk import webhooks
from connectors.zendesk.client import ZendeskClient
from connectors.zendesk.settings import ZendeskSettings
from replayhub.connector import (
    Connector,
    FindUser,
    ListComments,
    Note,
    NotePolicy,
    Person,
    PostNote,
    SetTicketField,
    TagTicket,
    UploadImage,
    VendorComment,
    VerifyWebhook,
    WebhookEvent,
)
from replayhub.vendor_http import epoch_ms


def note_id_from(answer: dict[str, Any]) -> str:
    """The new comment's id from an Update Ticket answer (its audit's Comment event)."""
    audit = answer.get("audit") or {}
    for event in audit.get("events") or []:
        if event.get("type") == "Comment" and event.get("id") is not None:
            return str(event["id"])
    return f"audit:{audit.get('id', '')}"


class ZendeskConnector(Connector, PostNote, UploadImage, ListComments, FindUser, TagTicket,
                       SetTicketField, VerifyWebhook):
    name: ClassVar[str] = "zendesk"
    title: ClassVar[str] = "Zendesk Support"
    settings_type = ZendeskSettings
    default_rate_limit_per_minute: ClassVar[int] = 400
    """Zendesk Support's limit for the Team plan; raise it for bigger plans."""

    settings: ZendeskSettings

    def __init__(self, settings: ZendeskSettings,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(settings)
        self.client = ZendeskClient(settings, transport)

    @property
    def account(self) -> str:
        return self.settings.subdomain

    def note_policy(self) -> NotePolicy:
        s = self.settings
        return NotePolicy(lookback_hours=s.lookback_hours, max_sessions=s.max_sessions,
                          no_sessions_note=s.no_sessions_note, tag=s.tag,
                          custom_field_id=s.custom_field_id,
                          template="notes/zendesk_note.html")

    async def check(self) -> str:
        user = await self.client.me()
        return f"signed in as {user.get('name', '?')} ({user.get('role', '?')})"

    async def post_note(self, ticket_id: str, note: Note) -> str:
        comment: dict[str, Any] = {"html_body": note.html_body, "public": False}
        if note.uploads:
            comment["uploads"] = note.uploads
        return note_id_from(await self.client.update_ticket(ticket_id, {"comment": comment}))

    async def find_note(self, ticket_id: str, marker: str) -> str | None:
        comments, _ = await self.client.comments(ticket_id)
        for comment in comments:
            if any(marker in (comment.get(key) or "")
                   for key in ("html_body", "body", "plain_body")):
                return str(comment["id"])
        return None

    async def upload_image(self, filename: str, data: bytes) -> str:
        return await self.client.upload(filename, data, "image/png")

    async def list_comments(self, ticket_id: str) -> list[VendorComment]:
        comments, names = await self.client.comments(ticket_id)
        found = [VendorComment(
            external_id=str(c["id"]), created_at=epoch_ms(c.get("created_at")),
            author=names.get(c.get("author_id", -1)) or f"Zendesk user {c.get('author_id')}",
            body=c.get("plain_body") or c.get("body") or "", html_body=c.get("html_body") or "",
            public=bool(c.get("public", True))) for c in comments if "id" in c]
        return sorted(found, key=lambda c: (c.created_at, c.external_id))

    async def find_user(self, user_id: str) -> Person | None:
        user = await self.client.user(user_id)
        if user is None:
            return None
        return Person(external_id=str(user.get("id", user_id)), name=user.get("name") or "",
                      email=user.get("email"), user_id=user.get("external_id"))

    async def tag_ticket(self, ticket_id: str, tags: list[str]) -> None:
        await self.client.add_tags(ticket_id, tags)

    async def set_ticket_field(self, ticket_id: str, field_id: int, value: str) -> None:
        await self.client.update_ticket(
            ticket_id, {"custom_fields": [{"id": field_id, "value": value}]})

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        webhooks.verify(self.settings.webhook_secret, headers, body, now)

    def parse_webhook(self, body: bytes) -> WebhookEvent | None:
        return webhooks.parse(body)

    def route_handlers(self) -> list[Any]:
        from connectors.zendesk.sidebar import ZendeskSidebarController

        return [ZendeskSidebarController]

    async def close(self) -> None:
        await self.client.close()
