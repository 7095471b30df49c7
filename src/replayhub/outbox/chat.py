"""Chat messages through the outbox, and which replay each chat thread is about.

Actions: `chat_alert` (post an alert, update it in place, or reply in its thread; then upload
the snapshot into the thread), `chat_comment` (a comment written in the hub, posted in each
thread about its replay) and `chat_unfurl` (a pasted replay link, previewed). Each is generic
over chat connectors (PostChatAlert, with the optional capabilities below); each post carries
a marker the connector can find again, so a retry after an uncertain failure never posts
twice. Posted and imported messages are recorded in `chat_messages`: thread replies become
comments on the replay, and the hub never imports its own messages back.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec
import structlog
from sqlalchemy import delete, select, update

from replayhub.clock import now_ms
from replayhub.connector import ChatAlert, ChatPerson, PostChatAlert, SnapshotRef, VendorError
from replayhub.db.models import ChatMessage, Comment, ReplaySession
from replayhub.db.upsert import insert_ignore
from replayhub.outbox.store import enqueue, new_delivery_id

if TYPE_CHECKING:
    from replayhub.connector import Connector
    from replayhub.hub import Hub
    from replayhub.outbox.actions import Attempt

log = structlog.get_logger(__name__)
CHAT_ALERT, CHAT_COMMENT, CHAT_UNFURL = "chat_alert", "chat_comment", "chat_unfurl"
THREAD_STARTERS = ("alert", "share")
"""Kinds of recorded messages whose threads are about a replay."""
CHAT_MARKER = "replayhub-delivery:"


def chat_marker(delivery_id: str) -> str:
    """What a chat message carries (Slack: its metadata) so the hub can find it again."""
    return f"{CHAT_MARKER}{delivery_id}"


def split_message_id(message_id: str) -> tuple[str, str]:
    """`<channel>:<ts>` → (channel, ts)."""
    channel, _, ts = message_id.partition(":")
    return channel, ts


class ThreadComment(msgspec.Struct, kw_only=True):
    """A comment written in the hub, as a thread reply says it."""

    comment_id: str
    author: str
    body: str
    replay_url: str


class LinkPreview(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What an unfurled replay link shows."""

    url: str
    title: str
    summary: str
    owners: list[ChatPerson] = []
    teams: list[str] = []
    snapshot: SnapshotRef | None = None
    image_url: str = ""
    """A public URL of the picture (else the connector uploads the snapshot)."""


class ChatThreads(ABC):
    """A chat connector whose messages have threads (Slack); message ids are `channel:ts`."""

    @abstractmethod
    async def post_thread_alert(self, message_id: str, alert: ChatAlert, marker: str) -> str:
        """Reply in the thread of `message_id` with the alert; the reply's id."""

    @abstractmethod
    async def post_thread_comment(self, message_id: str, comment: ThreadComment,
                                  marker: str) -> str:
        """Reply in the thread with a hub comment; the reply's id."""

    @abstractmethod
    async def find_in_thread(self, message_id: str, marker: str) -> str | None:
        """The id of a reply in the thread carrying `marker`, if one was already posted."""

    @abstractmethod
    async def upload_file(self, filename: str, data: bytes) -> str:
        """Upload a file, shared nowhere yet; its id (repeating it only leaves a stray file)."""

    @abstractmethod
    async def share_file_in_thread(self, message_id: str, file_id: str, title: str) -> None:
        """Share an uploaded file into the thread of `message_id`."""

    @abstractmethod
    async def file_in_thread(self, message_id: str, file_id: str) -> bool:
        """Whether the file is already shared in that thread (after an uncertain failure)."""


class FindChatMember(ABC):
    """A chat connector that finds a person's member id by e-mail (fills ChatPerson.slack;
    the hub caches the answer through people.py, a miss included)."""

    @abstractmethod
    async def find_member(self, email: str) -> str | None:
        """The member id, or None when the workspace has nobody with this e-mail."""


class NamedChannels(ABC):
    """A chat connector whose channels may be configured by name (`#payments`) while its
    API wants ids for reading history and names messages by id: resolved once, cached."""

    @abstractmethod
    def known_channel_id(self, channel: str) -> str | None:
        """The id without asking the vendor (an id already, or resolved before); else None."""

    @abstractmethod
    async def channel_id(self, channel: str) -> str:
        """The channel's id (asking the vendor once for a name)."""


class UnfurlLinks(ABC):
    """A chat connector that previews links to the hub pasted in a message."""

    @abstractmethod
    async def unfurl_link(self, channel: str, ts: str, preview: LinkPreview,
                          file_id: str | None, *, unfurl_id: str = "",
                          source: str = "") -> None:
        """Show the preview under the message (with the uploaded picture `file_id`); a link
        typed in the message composer is named by `unfurl_id` and `source` instead."""

    @abstractmethod
    async def upload_private_file(self, filename: str, data: bytes) -> str:
        """Upload a picture for previews, shared in no channel; its id."""


# recorded messages ---------------------------------------------------------------------------
async def record_message(db: Any, connector: str, message_id: str, kind: str, *,
                         thread_ts: str | None = None, session_id: str | None = None,
                         alert_key: str | None = None, delivery_id: str | None = None,
                         comment_id: str | None = None) -> None:
    """Remember a message the hub posted (once: a retry records nothing new)."""
    channel, ts = split_message_id(message_id)
    async with db.write() as tx:
        await insert_ignore(tx, ChatMessage, connector=connector, channel=channel, ts=ts,
                            thread_ts=thread_ts, kind=kind, session_id=session_id or None,
                            alert_key=alert_key, delivery_id=delivery_id, comment_id=comment_id,
                            created_at=now_ms())


async def known_message(db: Any, connector: str, channel: str, ts: str) -> ChatMessage | None:
    async with db.read() as tx:
        return (await tx.execute(select(ChatMessage).where(
            ChatMessage.connector == connector, ChatMessage.channel == channel,
            ChatMessage.ts == ts))).scalar_one_or_none()


async def thread_root(db: Any, connector: str, channel: str,
                      thread_ts: str) -> ChatMessage | None:
    """The hub's message starting this thread, when it is about a replay."""
    row = await known_message(db, connector, channel, thread_ts)
    if row is None or row.kind not in THREAD_STARTERS or not row.session_id:
        return None
    return row


async def threads_of_session(db: Any, session_id: str) -> list[ChatMessage]:
    """The chat threads about this replay (the hub's alerts and shares of it)."""
    async with db.read() as tx:
        return list((await tx.execute(select(ChatMessage).where(
            ChatMessage.session_id == session_id, ChatMessage.kind.in_(THREAD_STARTERS),
            ChatMessage.thread_ts.is_(None), ChatMessage.deleted_at.is_(None))
            .order_by(ChatMessage.id))).scalars())


async def import_chat_reply(hub: Hub, connector: str, *, channel: str, ts: str, thread_ts: str,
                            author: str, body: str, created_at: int) -> str | None:
    """A person's reply in a thread about a replay becomes a comment on it (once); the
    comment's id, or None when the thread is not the hub's or the reply is known."""
    root = await thread_root(hub.db, connector, channel, thread_ts)
    if root is None or await known_message(hub.db, connector, channel, ts) is not None:
        return None
    comment_id = f"cmt_{secrets.token_hex(8)}"
    async with hub.db.write() as tx:
        if not await insert_ignore(tx, ChatMessage, connector=connector, channel=channel, ts=ts,
                                   thread_ts=thread_ts, kind="chat_comment",
                                   session_id=root.session_id, comment_id=comment_id,
                                   created_at=now_ms()):
            return None
        await insert_ignore(tx, Comment, id=comment_id, session_id=root.session_id,
                            source=connector, connector=connector,
                            external_id=f"{channel}:{ts}", target_id=f"{channel}:{thread_ts}",
                            author=author[:200], body=body, created_at=created_at)
    return comment_id


async def _imported(db: Any, connector: str, channel: str, ts: str) -> ChatMessage | None:
    row = await known_message(db, connector, channel, ts)
    if row is None or row.kind != "chat_comment" or not row.comment_id or row.deleted_at:
        return None
    return row


async def edit_chat_reply(hub: Hub, connector: str, channel: str, ts: str, body: str) -> bool:
    """An imported reply was edited at the vendor: its comment says the new text."""
    row = await _imported(hub.db, connector, channel, ts)
    if row is None:
        return False
    async with hub.db.write() as tx:
        await tx.execute(update(Comment).where(Comment.id == row.comment_id).values(body=body))
    return True


async def delete_chat_reply(hub: Hub, connector: str, channel: str, ts: str) -> bool:
    """An imported reply was deleted at the vendor: its comment goes (the ts stays known)."""
    row = await _imported(hub.db, connector, channel, ts)
    if row is None:
        return False
    async with hub.db.write() as tx:
        await tx.execute(delete(Comment).where(Comment.id == row.comment_id))
        await tx.execute(update(ChatMessage).where(ChatMessage.id == row.id)
                         .values(deleted_at=now_ms()))
    return True


# enqueuing -----------------------------------------------------------------------------------
async def _enqueue(hub: Hub, connector: Connector, action: str, payload: dict[str, Any],
                   key: str, session_id: str | None) -> str:
    found, created = await enqueue(
        hub.db, delivery_id=new_delivery_id(), connector=connector.name,
        account=connector.account, action=action, payload=payload, key=key,
        now_ms=now_ms(), session_id=session_id)
    if created:
        hub.dispatcher.notify()
    return found


async def enqueue_chat_comments(hub: Hub, comment: Comment) -> list[str]:
    """Post a comment written in the hub in every chat thread about its replay."""
    delivered = []
    for row in await threads_of_session(hub.db, comment.session_id):
        connector = hub.connectors.get(row.connector)
        if not isinstance(connector, ChatThreads):
            continue
        root = f"{row.channel}:{row.ts}"
        payload = {"message_id": root, "session_id": comment.session_id,
                   "comment": msgspec.to_builtins(ThreadComment(
                       comment_id=comment.id, author=comment.author, body=comment.body,
                       replay_url=f"{hub.settings.base_url}/replays/{comment.session_id}"))}
        delivered.append(await _enqueue(hub, connector, CHAT_COMMENT, payload,
                                        f"chat-comment:{comment.id}:{row.connector}:{root}",
                                        comment.session_id))
    return delivered


def session_title(session: ReplaySession) -> str:
    who = session.user_name or session.user_email or session.user_id or "an anonymous user"
    return f"Replay of {who}"


SHARE_BUCKET_SECONDS = 600
"""Without a client request id, the same share within ten minutes is one message."""


def share_key(connector: str, channel: str, session_id: str, t: int, emails: list[str],
              request_id: str | None, now: float | None = None) -> str:
    """The share's idempotency key: a double click posts once, while another send (other
    people tagged, another request, a later time) posts again."""
    people_part = hashlib.sha256("\n".join(sorted({e.lower() for e in emails})).encode())
    when = request_id or f"t{int((time.time() if now is None else now) // SHARE_BUCKET_SECONDS)}"
    return (f"link:{connector}:{channel}:{session_id}:{t}:{people_part.hexdigest()[:16]}:"
            f"{when}")[:300]


async def share_to_chat(hub: Hub, connector: Connector, session: ReplaySession, channel: str,
                        t: int | None, emails: list[str], by: str,
                        request_id: str | None = None) -> str:
    """Someone sends one moment of a replay to a chat channel, tagging people; the delivery
    (`request_id`: the client's id of this send, so a repeated request posts once)."""
    from replayhub import people
    from replayhub.ticket_notes import note_items

    [item] = await note_items(hub, [session], moment=t)
    mentions = await people.chat_people(hub, emails) if emails else []
    what = "; ".join(item.errors[:1] + ([item.frustration] if item.frustration else []))
    alert = ChatAlert(
        key=f"share:{session.id}:{item.t}", kind="share", title=session_title(session),
        summary=f"{by} shared this replay" + (f": {what}" if what else "."),
        page_url=item.page, sessions=1, users=1, mentions=mentions, replay_url=item.url,
        hub_url=f"{hub.settings.base_url}/replays/{session.id}?t={item.t}",
        session_id=session.id, snapshot=SnapshotRef(session.id, item.t),
        facts={"Started": f"{item.started_at[:16].replace('T', ' ')} UTC",
               "Duration": item.duration})
    payload = {"channel": channel, "alert": msgspec.to_builtins(alert), "message_id": None,
               "thread_of": None}
    return await _enqueue(hub, connector, CHAT_ALERT, payload,
                          share_key(connector.name, channel, session.id, item.t, emails,
                                    request_id), session.id)


async def enqueue_unfurl(hub: Hub, connector: Connector, channel: str, ts: str,
                         preview: LinkPreview, event_key: str, *, unfurl_id: str = "",
                         source: str = "") -> str:
    """Preview a pasted link (once per vendor event and URL); a link typed in the composer
    is named by `unfurl_id` and `source`."""
    payload: dict[str, Any] = {"channel": channel, "ts": ts,
                               "preview": msgspec.to_builtins(preview)}
    if unfurl_id:
        payload.update(unfurl_id=unfurl_id, source=source)
    return await _enqueue(hub, connector, CHAT_UNFURL, payload,
                          f"unfurl:{connector.name}:{event_key}:{preview.url}"[:300],
                          preview.snapshot.session_id if preview.snapshot else None)


# the actions ---------------------------------------------------------------------------------
def _channel_pace(attempt: Attempt, key: str) -> Callable[[], Awaitable[None]]:
    """Pace by channel (then account) when the connector has a per-channel limit."""
    per_minute = int(getattr(attempt.connector, "channel_rate_limit_per_minute", 0) or 0)
    pace_key = attempt.pace_key
    if not per_minute or pace_key is None:
        return attempt.pace

    async def pace() -> None:
        await pace_key(key, per_minute)

    return pace


async def _post_once(attempt: Attempt, key: str, pace: Callable[[], Awaitable[None]],
                     post: Callable[[str], Awaitable[str]],
                     find: Callable[[str], Awaitable[str | None]],
                     findable: bool = True) -> str:
    """Post, unless an earlier try may have: then look for its marker first. A connector
    that cannot look (`findable` False: Teams) never posts a second time: the delivery ends
    as sent under its marker, logged as possibly lost, since a duplicate card is worse."""
    progress = attempt.progress
    if progress.get("message_id"):
        return str(progress["message_id"])
    marker = chat_marker(attempt.delivery_id)
    if progress.get("post_attempted") and not findable:
        log.warning("chat.may_not_have_arrived", delivery=attempt.delivery_id,
                    connector=attempt.connector.name,
                    detail="an earlier try failed after sending and the vendor cannot be "
                           "asked whether it arrived: not posted again")
        progress["message_id"] = marker
        await attempt.save()
        return marker
    if progress.get("post_attempted"):
        await attempt.pace()
        found = await find(marker)
        if found:
            progress["message_id"] = found
            await attempt.save()
            return found
    progress["post_attempted"] = True
    await attempt.save()
    await pace()
    try:
        message_id = await post(marker)
    except VendorError as error:
        error.pace_key = key
        if not error.uncertain:  # the vendor answered: nothing was posted
            progress["post_attempted"] = False
            await attempt.save()
        raise
    progress["message_id"] = message_id
    await attempt.save()
    return message_id


async def _channel_address(attempt: Attempt, channel: str) -> str:
    """A Teams team's channel is its Workflows URL (a secret: never in a payload or a log)."""
    if not channel.startswith("team:"):
        return channel
    from replayhub import people

    name = channel.split(":", 1)[1]
    team = await people.team(attempt.hub, name) if attempt.hub is not None else None
    if team is None or not team.teams_webhook:
        raise VendorError(f"team {name!r} has no teams_webhook", retryable=False)
    return str(team.teams_webhook)


async def _member_id(attempt: Attempt, connector: FindChatMember, email: str) -> str:
    """The member id of an e-mail through people's cache ("" : nobody); looked up once."""
    from replayhub import people

    cached = await people.cached_slack_id(attempt.hub, email)
    if cached is not None:
        return cached
    await attempt.pace()
    try:
        found = await connector.find_member(email) or ""
    except VendorError as error:
        # A lookup never fails the alert: the person is named in plain text. A refusal that
        # will not change (missing_scope...) is remembered as a miss; a passing one is not.
        log.warning("chat.member_lookup_failed", error=str(error), retryable=error.retryable)
        if not error.retryable:
            await people.remember_slack_id(attempt.hub, email, "")
        return ""
    await people.remember_slack_id(attempt.hub, email, found)
    return found


async def _with_member_ids(attempt: Attempt, alert: ChatAlert) -> ChatAlert:
    """Mentions with their member ids (a person not found is named in plain text)."""
    connector = attempt.connector
    if not isinstance(connector, FindChatMember) or attempt.hub is None:
        return alert
    found: dict[str, str] = attempt.progress.setdefault("members", {})
    mentions = []
    for person in alert.mentions:
        if not person.slack and person.email:
            if person.email not in found:
                found[person.email] = await _member_id(attempt, connector, person.email)
                await attempt.save()
            if found[person.email]:
                person = msgspec.structs.replace(person, slack=found[person.email])
        mentions.append(person)
    return msgspec.structs.replace(alert, mentions=mentions)


def _db(attempt: Attempt) -> Any:
    return attempt.hub.db if attempt.hub is not None else attempt.db


async def _snapshot_into_thread(attempt: Attempt, connector: ChatThreads, message_id: str,
                                alert: ChatAlert, pace: Callable[[], Awaitable[None]]) -> None:
    """Upload the snapshot and share it into the alert's thread (each step once). A refusal
    (no files:write scope...) leaves the alert without a picture rather than failing it."""
    shot, progress = alert.snapshot, attempt.progress
    if shot is None or progress.get("file") in ("shared", "none", "failed"):
        return
    try:
        if not progress.get("file_id"):
            png = await attempt.snapshot(shot.session_id, shot.t)
            if png is None:
                progress["file"] = "none"
                await attempt.save()
                return
            await attempt.pace()
            progress["file_id"] = await connector.upload_file(
                f"replay-{shot.session_id[:40]}-{shot.t}.png", png)
            await attempt.save()
        await _share_file_once(attempt, connector, message_id, pace)
    except VendorError as error:
        if error.retryable:
            raise
        log.warning("chat.snapshot_not_shared", delivery=attempt.delivery_id, error=str(error))
        progress["file"] = "failed"
        await attempt.save()


async def _share_file_once(attempt: Attempt, connector: ChatThreads, message_id: str,
                           pace: Callable[[], Awaitable[None]]) -> None:
    progress = attempt.progress
    file_id = str(progress["file_id"])
    if progress.get("file_share_attempted"):
        await attempt.pace()
        if await connector.file_in_thread(message_id, file_id):
            progress["file"] = "shared"
            await attempt.save()
            return
    progress["file_share_attempted"] = True
    await attempt.save()
    await pace()
    try:
        await connector.share_file_in_thread(message_id, file_id, "What the user saw")
    except VendorError as error:
        if not error.uncertain:
            progress["file_share_attempted"] = False
            await attempt.save()
        raise
    progress["file"] = "shared"
    await attempt.save()


async def _channel_id(attempt: Attempt, connector: Any, address: str) -> str:
    """The channel's id for a connector that names channels by id (a name resolved once)."""
    if not isinstance(connector, NamedChannels):
        return address
    known = connector.known_channel_id(address)
    if known:
        return known
    await attempt.pace()
    return await connector.channel_id(address)


async def _current(attempt: Attempt, alert: ChatAlert) -> ChatAlert:
    """An update's content as its alert state says it now (not the copy made when it was
    enqueued), so an edit that waited out a 429 cannot bring back an older state."""
    ref = attempt.payload.get("state")
    if not isinstance(ref, dict) or attempt.hub is None:
        return alert
    from replayhub.alerts import current_alert

    return await current_alert(attempt.hub, int(ref["id"]), int(ref["episode"])) or alert


async def _update_alert(attempt: Attempt, connector: PostChatAlert, message_id: str,
                        alert: ChatAlert) -> str:
    channel = str(attempt.payload["channel"])
    if isinstance(connector, NamedChannels):
        channel = split_message_id(message_id)[0]
    key = f"channel:{channel}"
    address = await _channel_address(attempt, str(attempt.payload["channel"]))
    alert = await _with_member_ids(attempt, await _current(attempt, alert))
    await _channel_pace(attempt, key)()
    try:
        await connector.update_alert(address, message_id, alert)  # False: cannot; skip
    except VendorError as error:
        error.pace_key = key
        raise
    return message_id


async def chat_alert(attempt: Attempt) -> str:
    """Update the alert in place (message_id), reply in a thread (thread_of), or post it and
    upload its snapshot into its thread; the message's id."""
    connector, payload = attempt.connector, attempt.payload
    if not isinstance(connector, PostChatAlert):
        raise VendorError(f"{connector.name} does not post chat alerts", retryable=False)
    alert = msgspec.convert(payload["alert"], ChatAlert)
    if payload.get("message_id"):
        return await _update_alert(attempt, connector, str(payload["message_id"]), alert)
    channel = str(payload["channel"])
    address = await _channel_address(attempt, channel)
    thread_of = payload.get("thread_of")
    if thread_of and isinstance(connector, NamedChannels):
        channel = split_message_id(str(thread_of))[0]
    elif isinstance(connector, NamedChannels):
        address = channel = await _channel_id(attempt, connector, address)
    key = f"channel:{channel}"
    pace = _channel_pace(attempt, key)
    alert = await _with_member_ids(attempt, alert)
    if thread_of and isinstance(connector, ChatThreads):
        thread = str(thread_of)
        message_id = await _post_once(
            attempt, key, pace,
            lambda marker: connector.post_thread_alert(thread, alert, marker),
            lambda marker: connector.find_in_thread(thread, marker))
        await record_message(_db(attempt), connector.name, message_id, "alert_reply",
                             thread_ts=split_message_id(thread)[1],
                             session_id=alert.session_id, alert_key=alert.key,
                             delivery_id=attempt.delivery_id)
        return message_id
    findable = type(connector).find_alert is not PostChatAlert.find_alert
    message_id = await _post_once(
        attempt, key, pace, lambda marker: connector.post_alert(address, alert, marker),
        lambda marker: connector.find_alert(address, marker), findable)
    if isinstance(connector, ChatThreads):
        await record_message(_db(attempt), connector.name, message_id,
                             "share" if alert.kind == "share" else "alert",
                             session_id=alert.session_id, alert_key=alert.key,
                             delivery_id=attempt.delivery_id)
        await _snapshot_into_thread(attempt, connector, message_id, alert, pace)
    return message_id


async def chat_comment(attempt: Attempt) -> str:
    """Post a hub comment in the thread of `message_id`; the reply's id."""
    connector, payload = attempt.connector, attempt.payload
    if not isinstance(connector, ChatThreads):
        raise VendorError(f"{connector.name} has no threads", retryable=False)
    root = str(payload["message_id"])
    channel, thread_ts = split_message_id(root)
    comment = msgspec.convert(payload["comment"], ThreadComment)
    key = f"channel:{channel}"
    message_id = await _post_once(
        attempt, key, _channel_pace(attempt, key),
        lambda marker: connector.post_thread_comment(root, comment, marker),
        lambda marker: connector.find_in_thread(root, marker))
    await record_message(_db(attempt), connector.name, message_id, "hub_comment",
                         thread_ts=thread_ts, session_id=payload.get("session_id"),
                         delivery_id=attempt.delivery_id, comment_id=comment.comment_id)
    return message_id


async def chat_unfurl(attempt: Attempt) -> str:
    """Preview a pasted link under its message (uploading the snapshot once if need be)."""
    connector, payload, progress = attempt.connector, attempt.payload, attempt.progress
    if not isinstance(connector, UnfurlLinks):
        raise VendorError(f"{connector.name} does not unfurl links", retryable=False)
    preview = msgspec.convert(payload["preview"], LinkPreview)
    shot = preview.snapshot
    if shot is not None and not preview.image_url and "file_id" not in progress:
        png = await attempt.snapshot(shot.session_id, shot.t)
        file_id = None
        if png is not None:
            await attempt.pace()
            file_id = await connector.upload_private_file(
                f"replay-{shot.session_id[:40]}-{shot.t}.png", png)
        progress["file_id"] = file_id
        await attempt.save()
    await attempt.pace()
    unfurl_id = str(payload.get("unfurl_id") or "")
    await connector.unfurl_link(str(payload["channel"]), str(payload["ts"]), preview,
                                progress.get("file_id"), unfurl_id=unfurl_id,
                                source=str(payload.get("source") or ""))
    if unfurl_id:
        return f"unfurl:{unfurl_id}"
    return f"{payload['channel']}:{payload['ts']}"


CHAT_ACTIONS: dict[str, Callable[[Attempt], Awaitable[str]]] = {
    CHAT_ALERT: chat_alert, CHAT_COMMENT: chat_comment, CHAT_UNFURL: chat_unfurl}
"""The outbox actions of chat connectors (see replayhub.outbox.actions.ACTIONS)."""
