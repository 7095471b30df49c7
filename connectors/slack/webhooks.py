"""Inbound Slack requests: the Events API and button clicks (interactivity).

Both are signed the same way (`X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:ts:body">` with
the app's signing secret, `X-Slack-Request-Timestamp` within 5 minutes). An event is verified,
stored once per `event_id` (Slack's retries, `X-Slack-Retry-Num`, are duplicates), answered at
once and processed after, as the webhook inbox does for every vendor.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import msgspec
from litestar import Controller, Request, Response, post
from litestar.background_tasks import BackgroundTask

from replayhub.connector import WebhookRejected, json_object
from replayhub.inbox.signatures import check_fresh, same

if TYPE_CHECKING:
    from connectors.slack.connector import SlackConnector

MAX_BODY_BYTES = 1024 * 1024
PLAIN_MESSAGE_SUBTYPES = ("", "thread_broadcast", "file_share", "me_message")


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    """`v0=` and the hex HMAC-SHA256 of `v0:<timestamp>:<body>` (tests sign with it too)."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: float) -> None:
    """Refuse (401) a request not signed with the signing secret, or signed over 5 min ago."""
    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if not timestamp or not signature:
        raise WebhookRejected(401, "X-Slack-Signature and X-Slack-Request-Timestamp are required")
    check_fresh(timestamp, now)
    if not secret or not same(slack_signature(secret, timestamp, body), signature):
        raise WebhookRejected(401, "the Slack signature does not match")


class SlackMessage(msgspec.Struct, kw_only=True):
    """A message posted in a channel the app is in (thread replies among them)."""

    event_key: str
    channel: str
    ts: str
    thread_ts: str = ""
    user: str = ""
    bot_id: str = ""
    subtype: str = ""
    text: str = ""
    metadata_type: str = ""
    """The message's metadata event_type (the hub tags its own posts)."""


class SlackMessageEdited(msgspec.Struct, kw_only=True):
    event_key: str
    channel: str
    ts: str
    """The edited message's ts."""
    text: str = ""
    user: str = ""
    bot_id: str = ""


class SlackMessageDeleted(msgspec.Struct, kw_only=True):
    event_key: str
    channel: str
    ts: str
    """The deleted message's ts."""


class SlackLinksShared(msgspec.Struct, kw_only=True):
    """Links to the app's unfurl domain were posted in a message."""

    event_key: str
    channel: str
    message_ts: str
    links: list[str]
    unfurl_id: str = ""
    source: str = ""


class SlackButton(msgspec.Struct, kw_only=True):
    """Someone clicked one of the hub's buttons (Mark resolved)."""

    event_key: str
    action_id: str
    value: str
    user_id: str
    user_name: str = ""
    response_url: str = ""
    """Where an ephemeral answer to the person who clicked goes (valid 30 minutes)."""


SlackEvent = (SlackMessage | SlackMessageEdited | SlackMessageDeleted | SlackLinksShared
              | SlackButton)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def parse_message(key: str, event: dict[str, Any]) -> SlackEvent | None:
    subtype = _text(event.get("subtype"))
    channel = _text(event.get("channel"))
    if subtype == "message_changed":
        message = event.get("message") if isinstance(event.get("message"), dict) else {}
        assert isinstance(message, dict)
        return SlackMessageEdited(event_key=key, channel=channel, ts=_text(message.get("ts")),
                                  text=_text(message.get("text")),
                                  user=_text(message.get("user")),
                                  bot_id=_text(message.get("bot_id")))
    if subtype == "message_deleted":
        return SlackMessageDeleted(event_key=key, channel=channel,
                                   ts=_text(event.get("deleted_ts")))
    if subtype not in PLAIN_MESSAGE_SUBTYPES and subtype != "bot_message":
        return None
    metadata = event.get("metadata") if isinstance(event.get("metadata"), dict) else {}
    assert isinstance(metadata, dict)
    return SlackMessage(event_key=key, channel=channel, ts=_text(event.get("ts")),
                        thread_ts=_text(event.get("thread_ts")), user=_text(event.get("user")),
                        bot_id=_text(event.get("bot_id")), subtype=subtype,
                        text=_text(event.get("text")),
                        metadata_type=_text(metadata.get("event_type")))


def parse_event(data: dict[str, Any]) -> SlackEvent | None:
    """An Events API `event_callback` as a typed event (None: one the hub does not use)."""
    if data.get("type") != "event_callback":
        return None
    key, event = data.get("event_id"), data.get("event")
    if not isinstance(key, str) or not key or not isinstance(event, dict):
        raise WebhookRejected(400, "an event_callback needs event_id and event")
    kind = event.get("type")
    if kind == "message":
        return parse_message(key, event)
    if kind == "link_shared":
        links = [link.get("url") for link in event.get("links") or [] if isinstance(link, dict)]
        return SlackLinksShared(event_key=key, channel=_text(event.get("channel")),
                                message_ts=_text(event.get("message_ts")),
                                links=[url for url in links if isinstance(url, str)],
                                unfurl_id=_text(event.get("unfurl_id")),
                                source=_text(event.get("source")))
    return None


def parse_interaction(body: bytes) -> SlackButton | None:
    """A form-encoded `payload` of a block_actions click (None: a link button, or else)."""
    try:
        raw = parse_qs(body.decode(), strict_parsing=True).get("payload", [""])[0]
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise WebhookRejected(400, "the body is not a form with a JSON payload") from None
    if not isinstance(data, dict) or data.get("type") != "block_actions":
        return None
    actions = [a for a in data.get("actions") or [] if isinstance(a, dict)
               and a.get("action_id") == "mark_resolved"]
    user = data.get("user") if isinstance(data.get("user"), dict) else {}
    assert isinstance(user, dict)
    if not actions or not _text(user.get("id")):
        return None
    action = actions[0]
    key = _text(data.get("trigger_id")) or _text(action.get("action_ts"))
    return SlackButton(event_key=f"action:{key}", action_id="mark_resolved",
                       value=_text(action.get("value")), user_id=_text(user.get("id")),
                       user_name=_text(user.get("name") or user.get("username")),
                       response_url=_text(data.get("response_url")))


def parse(body: bytes) -> SlackEvent | None:
    """Either kind of stored body: a button click (form) or an Events API delivery (JSON)."""
    if body.startswith(b"payload="):
        return parse_interaction(body)
    return parse_event(json_object(body))


class SlackAnswer(msgspec.Struct, omit_defaults=True):
    status: str = ""
    """accepted, duplicate (stored before: nothing is done again) or ignored."""
    challenge: str | None = None
    """Slack's url_verification challenge, echoed."""


def _refused(rejected: WebhookRejected) -> Exception:
    from replayhub.web.problems import problem

    return problem(rejected.status, "Webhook refused", rejected.detail)


async def _accept(request: Request[Any, Any, Any], event: SlackEvent, body: bytes) -> Response[Any]:
    from replayhub.inbox.process import process_webhook
    from replayhub.inbox.store import store_webhook

    hub = request.app.state.hub
    connector = slack_connector(hub)
    lease_ms = hub.settings.outbox.lease_seconds * 1000
    if not await store_webhook(hub.db, connector.name, event.event_key, body, lease_ms):
        return Response(SlackAnswer("duplicate"))
    return Response(SlackAnswer("accepted"),
                    background=BackgroundTask(process_webhook, hub, connector, event))


def slack_connector(hub: Any) -> SlackConnector:
    from connectors.slack.connector import SlackConnector
    from replayhub.web.problems import problem

    connector = hub.connectors.get("slack")
    if not isinstance(connector, SlackConnector):
        raise problem(404, "Not found", "the Slack connector is not enabled")
    return connector


class SlackWebhookController(Controller):
    """POST /webhooks/slack (Events API) and /webhooks/slack/interactivity (buttons)."""

    path = "/webhooks/slack"
    tags = ["webhooks"]

    @post("/", name="webhooks:slack", operation_id="receiveSlackEvent", security=[],
          status_code=200, request_max_body_size=MAX_BODY_BYTES)
    async def events(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """An Events API delivery: 401 bad signature or stale, 400 malformed."""
        connector = slack_connector(request.app.state.hub)
        body = await request.body()
        try:
            connector.verify_webhook(request.headers, body, time.time())
            data = json_object(body)
            if data.get("type") == "url_verification":
                return Response(SlackAnswer(challenge=str(data.get("challenge", ""))))
            event = parse_event(data)
        except WebhookRejected as rejected:
            raise _refused(rejected) from None
        if event is None:
            return Response(SlackAnswer("ignored"))
        return await _accept(request, event, body)

    @post("/interactivity", name="webhooks:slack-interactivity",
          operation_id="receiveSlackInteraction", security=[], status_code=200,
          request_max_body_size=MAX_BODY_BYTES)
    async def interactivity(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """A button click (form-encoded `payload`), signed like events."""
        connector = slack_connector(request.app.state.hub)
        body = await request.body()
        try:
            connector.verify_webhook(request.headers, body, time.time())
            event = parse_interaction(body)
        except WebhookRejected as rejected:
            raise _refused(rejected) from None
        if event is None:
            return Response(SlackAnswer("ignored"))
        return await _accept(request, event, body)
