"""An in-memory Slack behind respx: channels, threads, files, members, injected faults.

Every request is checked against Slack's specs before it is answered (tests/contract/
slack_specs.py) and every answer too, so a request Slack would refuse fails the test.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import respx

from tests.contract import slack_specs

BASE_URL = "https://slack.test/api/"
UPLOAD_HOST = "https://files.slack.test"
BOT_USER, BOT_ID, TEAM = "U0BOT00001", "B0BOT00001", "T0ACME0001"
HOOKS_URL = "https://hooks.slack.test/actions/"
"""Where click response_urls point (hooks.slack.com in production)."""
Fault = Callable[[httpx.Request], httpx.Response | None]


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    user: str = BOT_USER
    bot_id: str = BOT_ID
    thread_ts: str | None = None
    blocks: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] | None = None
    files: list[str] = field(default_factory=list)


class FakeSlack:
    """Slack's state and Web API; `fail(method, *faults)` makes the next calls meet faults."""

    def __init__(self) -> None:
        self.channels: dict[str, list[Message]] = {}
        self.names: dict[str, str] = {}
        """Channel names to ids (chat.postMessage takes either; reads take ids only)."""
        self.page_size = 200
        """The most items a listing answers per page (Slack may answer fewer than limit)."""
        self.responses: list[dict[str, Any]] = []
        """What arrived at response_urls (ephemeral answers to clicks)."""
        self.members: dict[str, dict[str, Any]] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self.unfurls: list[dict[str, Any]] = []
        self.faults: dict[str, list[Fault]] = {}
        self.calls: list[str] = []
        self.clock = itertools.count(1)
        self.ids = itertools.count(1)

    # state -------------------------------------------------------------------------
    def add_channel(self, channel: str, name: str | None = None) -> None:
        self.channels.setdefault(channel, [])
        self.names[name or f"channel-{channel.lower()}"] = channel

    def channel_of(self, given: str) -> str | None:
        """What chat.postMessage does with its channel: an id, a name or #name → the id."""
        if given in self.channels:
            return given
        return self.names.get(given.lstrip("#"))

    def add_member(self, user: str, name: str, email: str) -> None:
        self.members[user] = {"id": user, "team_id": TEAM, "name": name.lower(),
                              "real_name": name, "is_bot": False, "is_app_user": False,
                              "updated": 1800000000, "deleted": False,
                              "profile": {"real_name": name, "display_name": name,
                                          "email": email}}

    def next_ts(self) -> str:
        return f"1800000000.{next(self.clock):06d}"

    def roots(self, channel: str) -> list[Message]:
        return [m for m in self.channels.get(channel, []) if m.thread_ts is None]

    def thread(self, channel: str, ts: str) -> list[Message]:
        return [m for m in self.channels.get(channel, []) if m.thread_ts == ts]

    def find(self, channel: str, ts: str) -> Message | None:
        return next((m for m in self.channels.get(channel, []) if m.ts == ts), None)

    def post_as(self, user: str, channel: str, text: str, thread_ts: str) -> Message:
        """Someone writes in a thread (what the events then report)."""
        message = Message(channel, self.next_ts(), text, user=user, bot_id="",
                          thread_ts=thread_ts)
        self.channels[channel].append(message)
        return message

    def fail(self, method: str, *faults: Fault) -> None:
        self.faults.setdefault(method, []).extend(faults)

    # respx -------------------------------------------------------------------------
    def router(self) -> respx.MockRouter:
        router = respx.mock(assert_all_called=False)
        router.route(url__startswith=BASE_URL).mock(side_effect=self.handle)
        router.route(url__startswith=UPLOAD_HOST).mock(side_effect=self.upload)
        router.route(url__startswith=HOOKS_URL).mock(side_effect=self.respond)
        return router

    def handle(self, request: httpx.Request) -> httpx.Response:
        method = slack_specs.check_request(request)
        self.calls.append(method)
        queued = self.faults.get(method)
        if queued:
            answer = queued.pop(0)(request)
            if answer is not None:
                if answer.status_code == 200:
                    slack_specs.check_response(method, request.method, answer.json())
                return answer
        return self.answer(method, request)

    def answer(self, method: str, request: httpx.Request) -> httpx.Response:
        args = arguments(request)
        body = getattr(self, "op_" + method.replace(".", "_"))(args)
        slack_specs.check_response(method, request.method, body)
        return httpx.Response(200, json=body)

    # methods -----------------------------------------------------------------------
    def op_auth_test(self, args: dict[str, str]) -> dict[str, Any]:
        return {"ok": True, "url": "https://acme.slack.test/", "team": "Acme",
                "user": "replayhub", "team_id": TEAM, "user_id": BOT_USER, "bot_id": BOT_ID}

    def respond(self, request: httpx.Request) -> httpx.Response:
        """A response_url: JSON with text (and response_type), never the bot token."""
        assert "authorization" not in request.headers, "the bot token went to a response_url"
        body = slack_specs.check_response_url_body(request)
        self.calls.append("response_url")
        self.responses.append(body)
        return httpx.Response(200, text="ok")

    def op_chat_postMessage(self, args: dict[str, str]) -> dict[str, Any]:
        channel = self.channel_of(args["channel"])
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        thread_ts = args.get("thread_ts")
        if thread_ts and self.find(channel, thread_ts) is None:
            return {"ok": False, "error": "channel_not_found"}
        message = Message(channel, self.next_ts(), args.get("text", ""), thread_ts=thread_ts,
                          blocks=json.loads(args.get("blocks", "[]")),
                          metadata=json.loads(args["metadata"]) if "metadata" in args else None)
        self.channels[channel].append(message)
        return {"ok": True, "channel": channel, "ts": message.ts,
                "message": {"type": "message", "text": message.text, "ts": message.ts,
                            "user": BOT_USER, "bot_id": BOT_ID}}

    def op_chat_update(self, args: dict[str, str]) -> dict[str, Any]:
        if args["channel"] not in self.channels:  # chat.update takes an id, never a name
            return {"ok": False, "error": "channel_not_found"}
        message = self.find(args["channel"], args["ts"])
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        message.text, message.blocks = args.get("text", ""), json.loads(args.get("blocks", "[]"))
        return {"ok": True, "channel": message.channel, "ts": message.ts, "text": message.text,
                "message": {"text": message.text}}

    def _listed(self, message: Message, with_metadata: bool) -> dict[str, Any]:
        listed: dict[str, Any] = {"type": "message", "text": message.text, "ts": message.ts,
                                  "user": message.user}
        if message.bot_id:
            listed["bot_id"] = message.bot_id
        if with_metadata and message.metadata:
            listed["metadata"] = message.metadata
        return listed

    def _page(self, items: list[Any], args: dict[str, str]) -> tuple[list[Any], str]:
        """One page by cursor and limit (the cursor is opaque to callers); the next cursor."""
        start = int(args["cursor"].removeprefix("next:")) if args.get("cursor") else 0
        size = min(int(args.get("limit") or 100), self.page_size)
        end = start + size
        return items[start:end], (f"next:{end}" if end < len(items) else "")

    def op_conversations_history(self, args: dict[str, str]) -> dict[str, Any]:
        if args["channel"] not in self.channels:  # ids only: a name is channel_not_found
            return {"ok": False, "error": "channel_not_found"}
        metadata = args.get("include_all_metadata") == "true"
        messages = [self._listed(m, metadata) for m in reversed(self.roots(args["channel"]))]
        page, cursor = self._page(messages, args)
        answer: dict[str, Any] = {"ok": True, "messages": page, "has_more": bool(cursor),
                                  "pin_count": 0, "channel_actions_ts": [],
                                  "channel_actions_count": 0}
        if cursor:
            answer["response_metadata"] = {"next_cursor": cursor}
        return answer

    def op_conversations_list(self, args: dict[str, str]) -> dict[str, Any]:
        listed = [{"id": channel, "name": name, "name_normalized": name, "created": 1700000000,
                   "creator": "U0ADMIN001", "is_archived": False, "is_channel": True,
                   "is_general": False, "is_mpim": False, "is_group": False,
                   "is_org_shared": False, "is_im": False, "is_shared": False,
                   "is_private": False, "is_member": True,
                   "topic": {"value": "", "creator": "", "last_set": 0},
                   "purpose": {"value": "", "creator": "", "last_set": 0}}
                  for name, channel in sorted(self.names.items())]
        page, cursor = self._page(listed, args)
        return {"ok": True, "channels": page, "response_metadata": {"next_cursor": cursor}}

    def op_conversations_replies(self, args: dict[str, str]) -> dict[str, Any]:
        root = self.find(args["channel"], args["ts"])
        if root is None:
            return {"ok": False, "error": "thread_not_found"}
        metadata = args.get("include_all_metadata") == "true"
        replies = self.thread(root.channel, root.ts)
        first = {**self._listed(root, metadata), "thread_ts": root.ts,
                 "reply_count": len(replies), "subscribed": False}
        rest = [{**self._listed(m, metadata), "thread_ts": root.ts,
                 "parent_user_id": root.user} for m in replies]
        return {"ok": True, "messages": [first, *rest], "has_more": False}

    def op_users_lookupByEmail(self, args: dict[str, str]) -> dict[str, Any]:
        for member in self.members.values():
            if member["profile"]["email"] == args["email"]:
                return {"ok": True, "user": member}
        return {"ok": False, "error": "users_not_found"}

    def op_users_info(self, args: dict[str, str]) -> dict[str, Any]:
        member = self.members.get(args["user"])
        if member is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": member}

    def op_files_getUploadURLExternal(self, args: dict[str, str]) -> dict[str, Any]:
        file_id = f"F0FILE{next(self.ids):04d}"
        self.files[file_id] = {"name": args["filename"], "length": int(args["length"]),
                               "data": None, "shares": [], "completed": False}
        return {"ok": True, "upload_url": f"{UPLOAD_HOST}/upload/v1/{file_id}",
                "file_id": file_id}

    def upload(self, request: httpx.Request) -> httpx.Response:
        assert "authorization" not in request.headers, "the bot token went to the upload URL"
        file_id = request.url.path.rsplit("/", 1)[-1]
        self.calls.append("upload")
        self.files[file_id]["data"] = request.content
        return httpx.Response(200, text=f"OK - {len(request.content)}")

    def op_files_completeUploadExternal(self, args: dict[str, str]) -> dict[str, Any]:
        done = []
        for entry in json.loads(args["files"]):
            stored = self.files.get(entry["id"])
            if stored is None or stored["data"] is None:
                return {"ok": False, "error": "file_not_found"}
            stored["completed"] = True
            channel = args.get("channel_id")
            if channel:
                message = Message(channel, self.next_ts(), "", thread_ts=args.get("thread_ts"),
                                  files=[entry["id"]])
                self.channels[channel].append(message)
                stored["shares"].append({"ts": message.ts,
                                         "thread_ts": args.get("thread_ts") or message.ts,
                                         "channel": channel})
            done.append({"id": entry["id"], "title": entry.get("title", "")})
        return {"ok": True, "files": done}

    def op_files_info(self, args: dict[str, str]) -> dict[str, Any]:
        stored = self.files.get(args["file"])
        if stored is None:
            return {"ok": False, "error": "file_not_found"}
        public: dict[str, list[dict[str, Any]]] = {}
        for share in stored["shares"]:
            public.setdefault(share["channel"], []).append(
                {"ts": share["ts"], "thread_ts": share["thread_ts"]})
        return {"ok": True, "file": {"id": args["file"], "name": stored["name"],
                                     "shares": {"public": public},
                                     "channels": sorted(public)}}

    def op_chat_unfurl(self, args: dict[str, str]) -> dict[str, Any]:
        self.unfurls.append({"channel": args.get("channel"), "ts": args.get("ts"),
                             "unfurl_id": args.get("unfurl_id"), "source": args.get("source"),
                             "unfurls": json.loads(args["unfurls"])})
        return {"ok": True}

    # what arrived --------------------------------------------------------------------
    def hub_messages(self, channel: str) -> list[Message]:
        """Messages carrying the hub's metadata (alerts, replies, comments)."""
        return [m for m in self.channels.get(channel, []) if m.metadata]

    def thread_files(self, channel: str, ts: str) -> list[str]:
        return [f for m in self.thread(channel, ts) for f in m.files]


def arguments(request: httpx.Request) -> dict[str, str]:
    if request.method == "GET":
        return dict(parse_qsl(request.url.query.decode()))
    return dict(parse_qsl(request.content.decode(), keep_blank_values=True))


def slack_error(error: str) -> Fault:
    """A fault: `ok: false` with this error, nothing done."""
    return lambda _request: httpx.Response(200, json={"ok": False, "error": error})


def rate_limited(seconds: int) -> Fault:
    return lambda _request: httpx.Response(429, headers={"Retry-After": str(seconds)},
                                           json={"ok": False, "error": "ratelimited"})


def server_error(status: int = 503) -> Fault:
    return lambda _request: httpx.Response(status, text="upstream connect error")


def timeout_after_sending(fake: FakeSlack) -> Fault:
    """A fault: Slack does the work, but the answer never arrives."""
    def fault(request: httpx.Request) -> httpx.Response | None:
        method = request.url.path.rsplit("/", 1)[-1]
        fake.answer(method, request)
        raise httpx.ReadTimeout("timed out after sending", request=request)
    return fault
