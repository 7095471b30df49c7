"""Comments on sessions: written in the hub, or imported from the tickets a session is on."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

import msgspec
from sqlalchemy import select

from replayhub.clock import now_ms
from replayhub.connector import Connector, ListComments, PostNote
from replayhub.db.models import Comment, SessionLink
from replayhub.db.upsert import insert_ignore
from replayhub.index.sessions import iso
from replayhub.outbox.actions import MARKER, TICKET_NOTE, marker_for
from replayhub.outbox.chat import enqueue_chat_comments
from replayhub.outbox.store import enqueue, new_delivery_id, sent_external_ids
from replayhub.templating import render

if TYPE_CHECKING:
    from replayhub.hub import Hub

HUB = "hub"


class CommentItem(msgspec.Struct):
    id: str
    author: str
    body: str
    created_at: str
    source: str
    """hub, or the connector it came from (zendesk...)."""
    external_id: str | None = None
    ticket_id: str | None = None


def item_of(comment: Comment) -> CommentItem:
    return CommentItem(comment.id, comment.author, comment.body, iso(comment.created_at),
                       comment.source, comment.external_id, comment.target_id)


async def session_comments(hub: Hub, session_id: str) -> list[CommentItem]:
    """Oldest first, by the time each was written (the vendor's time for imported ones)."""
    query = (select(Comment).where(Comment.session_id == session_id)
             .order_by(Comment.created_at, Comment.id))
    async with hub.db.read() as tx:
        return [item_of(row) for row in (await tx.execute(query)).scalars()]


async def links_of_session(hub: Hub, session_id: str) -> list[SessionLink]:
    async with hub.db.read() as tx:
        return list((await tx.execute(select(SessionLink).where(
            SessionLink.session_id == session_id).order_by(SessionLink.id))).scalars())


async def add_hub_comment(hub: Hub, session_id: str, author: str, body: str) -> CommentItem:
    """Store the comment, then post it as an internal note on each linked ticket (outbox)."""
    now = now_ms()
    comment = Comment(id=f"cmt_{secrets.token_hex(8)}", session_id=session_id, source=HUB,
                      connector=HUB, author=author[:200], body=body, created_at=now)
    async with hub.db.write() as tx:
        tx.add(comment)
    for link in await links_of_session(hub, session_id):
        connector = hub.connectors.get(link.connector)
        if isinstance(connector, PostNote):
            await enqueue_comment_note(hub, connector, link.target_id, comment)
    await enqueue_chat_comments(hub, comment)  # into each chat thread about the replay
    return item_of(comment)


async def enqueue_comment_note(hub: Hub, connector: Connector, ticket_id: str,
                               comment: Comment) -> str:
    delivery_id = new_delivery_id()
    html = render("notes/comment_note.html", author=comment.author, body=comment.body,
                  marker=marker_for(delivery_id),
                  replay_url=f"{hub.settings.base_url}/replays/{comment.session_id}")
    found, created = await enqueue(
        hub.db, delivery_id=delivery_id, connector=connector.name, account=connector.account,
        action=TICKET_NOTE, payload={"ticket_id": ticket_id, "html_body": html},
        key=f"comment:{comment.id}:{connector.name}:{ticket_id}",
        now_ms=now_ms(), session_id=comment.session_id)
    if created:
        hub.dispatcher.notify()
    return found


async def import_ticket_comments(hub: Hub, connector: Connector, ticket_id: str) -> int:
    """Copy the ticket's comments onto its linked sessions; the hub's own notes stay out."""
    async with hub.db.read() as tx:
        session_ids = list((await tx.execute(select(SessionLink.session_id).where(
            SessionLink.connector == connector.name,
            SessionLink.target_id == ticket_id))).scalars())
    if not session_ids or not isinstance(connector, ListComments):
        return 0
    await hub.dispatcher.pace(connector)
    comments = await connector.list_comments(ticket_id)
    ours = await sent_external_ids(hub.db, connector.name, [c.external_id for c in comments])
    fresh = [c for c in comments if c.external_id not in ours
             and MARKER not in c.body and MARKER not in c.html_body]
    async with hub.db.write() as tx:
        for comment in fresh:
            for session_id in session_ids:
                await insert_ignore(
                    tx, Comment, id=f"cmt_{secrets.token_hex(8)}", session_id=session_id,
                    source=connector.name, connector=connector.name,
                    external_id=comment.external_id, target_id=ticket_id,
                    author=comment.author[:200], body=comment.body,
                    created_at=comment.created_at)
    return len(fresh)
