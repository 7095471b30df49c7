"""Slack threads ↔ replay comments: what an event changes, and the rules against echoes.

A person's reply in the thread of a message the hub posted about a replay becomes a comment
on that replay; an edit changes it, a deletion removes it. Never imported: the bot's own
messages (bot_id, the bot's member id, the hub's metadata) and a message whose ts the hub
already knows (one it posted, or imported before), so nothing goes round in circles.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

import structlog

from connectors.slack.webhooks import (
    SlackButton,
    SlackEvent,
    SlackLinksShared,
    SlackMessage,
    SlackMessageDeleted,
    SlackMessageEdited,
)
from replayhub.connector import VendorError
from replayhub.outbox.chat import (
    delete_chat_reply,
    edit_chat_reply,
    import_chat_reply,
    thread_root,
)

if TYPE_CHECKING:
    from connectors.slack.connector import SlackConnector
    from replayhub.hub import Hub

log = structlog.get_logger(__name__)
HUB_METADATA_PREFIX = "replayhub_"
LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]+))?>")


def is_echo(bot_id: str, user: str, subtype: str, metadata_type: str, bot_user: str) -> bool:
    """A message the app itself (or another bot) wrote: never imported as a comment."""
    return bool(bot_id or subtype == "bot_message"
                or (bot_user and user == bot_user)
                or metadata_type.startswith(HUB_METADATA_PREFIX))


def plain_text(text: str) -> str:
    """Slack's message text as people wrote it: links unwrapped, entities decoded."""
    unwrapped = LINK.sub(lambda m: m.group(2) or m.group(1), text)
    return html.unescape(unwrapped)


def ts_ms(ts: str) -> int:
    try:
        return int(float(ts) * 1000)
    except ValueError:
        return 0


async def author_name(hub: Hub, connector: SlackConnector, user: str) -> str:
    """The person behind a Slack member id: the directory's name for their e-mail, else
    Slack's name for them, else the id."""
    from replayhub import people

    if not user:
        return "Slack user"
    if user in connector.names:
        return connector.names[user]
    await hub.dispatcher.pace(connector)
    try:
        profile = await connector.client.user_info(user)
    except VendorError as error:
        if error.retryable:
            raise
        log.warning("slack.user_unknown", user=user, error=str(error))
        return f"Slack user {user}"
    email = (profile.get("profile") or {}).get("email") or ""
    person = await people.find_person(hub, email) if email else None
    name = ((person.name if person else "") or (profile.get("profile") or {}).get("real_name")
            or profile.get("real_name") or profile.get("name") or f"Slack user {user}")
    connector.names[user] = str(name)
    return str(name)


async def on_message(hub: Hub, connector: SlackConnector, event: SlackMessage) -> None:
    if not event.thread_ts or event.thread_ts == event.ts:
        return  # not a reply in a thread
    if await thread_root(hub.db, connector.name, event.channel, event.thread_ts) is None:
        return  # a thread the hub did not start about a replay
    bot_user = await connector.bot_user_id()
    if is_echo(event.bot_id, event.user, event.subtype, event.metadata_type, bot_user):
        return
    author = await author_name(hub, connector, event.user)
    comment = await import_chat_reply(
        hub, connector.name, channel=event.channel, ts=event.ts, thread_ts=event.thread_ts,
        author=author, body=plain_text(event.text), created_at=ts_ms(event.ts))
    if comment:
        log.info("slack.reply_imported", channel=event.channel, ts=event.ts, comment=comment)


async def on_edit(hub: Hub, connector: SlackConnector, event: SlackMessageEdited) -> None:
    if event.bot_id:
        return
    await edit_chat_reply(hub, connector.name, event.channel, event.ts, plain_text(event.text))


async def on_delete(hub: Hub, connector: SlackConnector, event: SlackMessageDeleted) -> None:
    await delete_chat_reply(hub, connector.name, event.channel, event.ts)


UNKNOWN_ERROR_TEXT = ("ReplayHub no longer knows this error (it may have been removed), so "
                      "it could not be marked resolved.")


async def on_button(hub: Hub, connector: SlackConnector, event: SlackButton) -> None:
    """Mark resolved: the alerts module resolves the error group and updates the messages.
    An error the hub no longer knows ends the click (retrying cannot help) and the person
    who clicked is told so, in a message only they see."""
    from replayhub import alerts  # type: ignore[attr-defined,unused-ignore]

    if not event.value:
        return
    by = await author_name(hub, connector, event.user_id)
    try:
        await alerts.resolve_error(hub, event.value, by)
    except alerts.UnknownError:
        log.warning("slack.resolve_unknown_error", fingerprint=event.value[:80])
        await tell_clicker(hub, connector, event, UNKNOWN_ERROR_TEXT)


async def tell_clicker(hub: Hub, connector: SlackConnector, event: SlackButton,
                       text: str) -> None:
    """An ephemeral answer through the click's response_url, sent right away rather than
    through the outbox: the URL is a capability valid 30 minutes (a durable delivery row
    would keep it, and show it at /api/v1/deliveries, long after it is useless), and the
    answer is a courtesy: if it fails, it is logged and the click still counts as handled."""
    if not event.response_url:
        return
    await hub.dispatcher.pace(connector)
    try:
        await connector.client.respond(event.response_url, text)
    except VendorError as error:
        log.warning("slack.ephemeral_not_sent", error=str(error))


async def handle_event(hub: Hub, connector: SlackConnector, event: SlackEvent) -> None:
    """What a stored Slack event does (run after the answer, and again on a retry)."""
    from connectors.slack.unfurl import unfurl_links

    if isinstance(event, SlackMessage):
        await on_message(hub, connector, event)
    elif isinstance(event, SlackMessageEdited):
        await on_edit(hub, connector, event)
    elif isinstance(event, SlackMessageDeleted):
        await on_delete(hub, connector, event)
    elif isinstance(event, SlackLinksShared):
        await unfurl_links(hub, connector, event)
    elif isinstance(event, SlackButton):
        await on_button(hub, connector, event)
