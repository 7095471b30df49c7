"""The Slack connector: alerts with mentions and buttons, threads, files, unfurls, events."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from connectors.slack import blocks, webhooks
from connectors.slack.client import SlackClient
from connectors.slack.settings import SlackSettings
from replayhub.connector import (
    ChatAlert,
    Connector,
    PostChatAlert,
    VendorError,
    VerifyWebhook,
    WebhookEvent,
)
from replayhub.outbox.chat import (
    CHAT_MARKER,
    ChatThreads,
    FindChatMember,
    LinkPreview,
    NamedChannels,
    ThreadComment,
    UnfurlLinks,
    split_message_id,
)

EVENT_TYPE = "replayhub_delivery"
"""The metadata event_type of every message the hub posts (found again after a timeout)."""
FIND_PAGES = 3
"""Pages of 200 messages looked through for a marker before posting again."""
CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]+$")
"""Slack's conversation ids (names are lower case)."""
LIST_PAGES = 50
"""Pages of 200 channels looked through for a channel configured by name."""


def metadata_for(marker: str, comment_id: str = "") -> dict[str, Any]:
    """Message metadata naming the delivery (and the hub comment) a message carries."""
    payload = {"delivery_id": marker.removeprefix(CHAT_MARKER)}
    if comment_id:
        payload["comment_id"] = comment_id
    return {"event_type": EVENT_TYPE, "event_payload": payload}


def carries(message: dict[str, Any], marker: str) -> bool:
    metadata = message.get("metadata") or {}
    payload = metadata.get("event_payload") or {}
    return (metadata.get("event_type") == EVENT_TYPE
            and payload.get("delivery_id") == marker.removeprefix(CHAT_MARKER))


class SlackConnector(Connector, PostChatAlert, ChatThreads, FindChatMember, UnfurlLinks,
                     NamedChannels, VerifyWebhook):
    name: ClassVar[str] = "slack"
    title: ClassVar[str] = "Slack"
    settings_type = SlackSettings
    default_rate_limit_per_minute: ClassVar[int] = 600
    """Requests a minute to the workspace. Slack limits each method on its own; messages are
    paced by channel as well (channel_rate_limit_per_minute)."""

    settings: SlackSettings

    def __init__(self, settings: SlackSettings,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(settings)
        self.client = SlackClient(settings, transport)
        self.names: dict[str, str] = {}
        """Display names of Slack members met in threads (read once per process)."""
        self._identity: dict[str, Any] | None = None
        self._identity_lock = asyncio.Lock()
        self.channel_ids: dict[str, str] = {}
        """Channel names (without #) to ids, read once from conversations.list."""
        self._channels_lock = asyncio.Lock()

    @property
    def channel_rate_limit_per_minute(self) -> int:
        return self.settings.channel_rate_limit_per_minute

    async def identity(self) -> dict[str, Any]:
        """Who the bot is (auth.test), asked once."""
        async with self._identity_lock:
            if self._identity is None:
                self._identity = await self.client.auth_test()
            return self._identity

    async def bot_user_id(self) -> str:
        return str((await self.identity()).get("user_id") or "")

    async def check(self) -> str:
        me = await self.client.auth_test()
        return f"signed in as {me.get('user', '?')} in {me.get('team', '?')}"

    # channels --------------------------------------------------------------------------
    def known_channel_id(self, channel: str) -> str | None:
        if CHANNEL_ID.match(channel):
            return channel
        return self.channel_ids.get(channel.lstrip("#").lower())

    async def channel_id(self, channel: str) -> str:
        """A channel configured by name (`#payments`) as its id, from conversations.list
        (every page read once per process); history, pacing and message ids need the id."""
        known = self.known_channel_id(channel)
        if known:
            return known
        name = channel.lstrip("#").lower()
        async with self._channels_lock:
            if name not in self.channel_ids:
                await self._read_channels(name)
        if name not in self.channel_ids:
            raise VendorError(f"slack: no channel #{name[:80]} the app can see (invite the app, "
                              "or configure the channel id)", retryable=False)
        return self.channel_ids[name]

    async def _read_channels(self, wanted: str) -> None:
        cursor = None
        for _ in range(LIST_PAGES):
            answer = await self.client.conversations(cursor)
            for channel in answer.get("channels") or []:
                if channel.get("name") and channel.get("id"):
                    self.channel_ids[str(channel["name"]).lower()] = str(channel["id"])
            cursor = (answer.get("response_metadata") or {}).get("next_cursor")
            if wanted in self.channel_ids or not cursor:
                return

    # alerts ----------------------------------------------------------------------------
    async def post_alert(self, channel: str, alert: ChatAlert, marker: str) -> str:
        text, layout = blocks.alert_message(alert)
        answer = await self.client.post_message(channel, text, layout, metadata_for(marker))
        return f"{answer['channel']}:{answer['ts']}"

    async def update_alert(self, channel: str, message_id: str, alert: ChatAlert) -> bool:
        text, layout = blocks.alert_message(alert)
        channel_id, ts = split_message_id(message_id)
        await self.client.update_message(channel_id, ts, text, layout)
        return True

    async def find_alert(self, channel: str, marker: str) -> str | None:
        channel = await self.channel_id(channel)
        cursor = None
        for _ in range(FIND_PAGES):
            answer = await self.client.history(channel, cursor)
            for message in answer.get("messages") or []:
                if carries(message, marker):
                    return f"{channel}:{message['ts']}"
            cursor = (answer.get("response_metadata") or {}).get("next_cursor")
            if not answer.get("has_more") or not cursor:
                return None
        return None

    # threads ---------------------------------------------------------------------------
    async def post_thread_alert(self, message_id: str, alert: ChatAlert, marker: str) -> str:
        channel, ts = split_message_id(message_id)
        text, layout = blocks.alert_message(alert)
        answer = await self.client.post_message(channel, text, layout, metadata_for(marker),
                                                thread_ts=ts)
        return f"{answer['channel']}:{answer['ts']}"

    async def post_thread_comment(self, message_id: str, comment: ThreadComment,
                                  marker: str) -> str:
        channel, ts = split_message_id(message_id)
        text, layout = blocks.comment_message(comment.author, comment.body, comment.replay_url)
        answer = await self.client.post_message(
            channel, text, layout, metadata_for(marker, comment.comment_id), thread_ts=ts)
        return f"{answer['channel']}:{answer['ts']}"

    async def find_in_thread(self, message_id: str, marker: str) -> str | None:
        channel, ts = split_message_id(message_id)
        cursor = None
        for _ in range(FIND_PAGES):
            answer = await self.client.replies(channel, ts, cursor)
            for message in answer.get("messages") or []:
                if carries(message, marker):
                    return f"{channel}:{message['ts']}"
            cursor = (answer.get("response_metadata") or {}).get("next_cursor")
            if not answer.get("has_more") or not cursor:
                return None
        return None

    async def upload_file(self, filename: str, data: bytes) -> str:
        return await self.client.upload_file(filename, data)

    async def share_file_in_thread(self, message_id: str, file_id: str, title: str) -> None:
        channel, ts = split_message_id(message_id)
        await self.client.complete_upload(file_id, title, channel, ts)

    async def file_in_thread(self, message_id: str, file_id: str) -> bool:
        channel, ts = split_message_id(message_id)
        info = await self.client.file_info(file_id)
        shares = info.get("shares") or {}
        for scope in ("public", "private"):
            for share in (shares.get(scope) or {}).get(channel) or []:
                if share.get("thread_ts") == ts or share.get("ts") == ts:
                    return True
        return channel in (info.get("channels") or []) + (info.get("groups") or [])

    # people and links ------------------------------------------------------------------
    async def find_member(self, email: str) -> str | None:
        return await self.client.lookup_by_email(email)

    async def upload_private_file(self, filename: str, data: bytes) -> str:
        file_id = await self.client.upload_file(filename, data)
        await self.client.complete_upload(file_id, "What the user saw")
        return file_id

    async def unfurl_link(self, channel: str, ts: str, preview: LinkPreview,
                          file_id: str | None, *, unfurl_id: str = "",
                          source: str = "") -> None:
        image: dict[str, Any] | None = None
        if preview.image_url and blocks.is_public_url(preview.image_url):
            image = {"image_url": preview.image_url}
        elif file_id:
            image = {"slack_file": {"id": file_id}}
        owners = blocks.joined([blocks.mrkdwn(team, 100) + " (team)" for team in preview.teams]
                               + [blocks.mention(person) for person in preview.owners],
                               blocks.OWNERS_LIMIT)
        layout = blocks.unfurl_blocks(title=preview.title, summary=preview.summary,
                                      owners=owners, url=preview.url, image=image)
        await self.client.unfurl(channel, ts, {preview.url: {"blocks": layout}},
                                 unfurl_id=unfurl_id, source=source)

    # inbound ---------------------------------------------------------------------------
    def verify_webhook(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        webhooks.verify(self.settings.signing_secret, headers, body, now)

    def parse_webhook(self, body: bytes) -> WebhookEvent | None:
        """A stored Slack body as its event (the inbox's retries read it again)."""
        return webhooks.parse(body)  # type: ignore[return-value]

    async def handle_event(self, hub: Any, event: Any) -> None:
        """Process a stored Slack event (the inbox calls this for connector-specific events)."""
        from connectors.slack.threads import handle_event

        await handle_event(hub, self, event)

    def route_handlers(self) -> list[Any]:
        return [webhooks.SlackWebhookController]

    async def close(self) -> None:
        await self.client.close()

