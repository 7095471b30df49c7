"""Replays on tickets: which sessions a requester had, ranked, and the note that carries them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec
import structlog
from sqlalchemy import or_, select

from replayhub.clock import now_ms
from replayhub.connector import Connector, FindUser, NotePolicy, TicketCreated
from replayhub.db.models import ErrorEvent, ReplaySession, SessionLink
from replayhub.db.upsert import insert_ignore
from replayhub.index.sessions import iso
from replayhub.outbox.actions import TICKET_NOTE, marker_for
from replayhub.outbox.store import enqueue, new_delivery_id
from replayhub.people import owner_labels, owners_of_sessions
from replayhub.replay.share import DEFAULT_SECONDS, make_share_token
from replayhub.templating import clock, render

if TYPE_CHECKING:
    from replayhub.hub import Hub

log = structlog.get_logger(__name__)
ERROR_LEAD_MS = 500
"""A replay link opens this long before the first error: what the user did just before."""
CANDIDATES = 200


class Requester(msgspec.Struct):
    email: str | None = None
    user_id: str | None = None


class NoteItem(msgspec.Struct):
    session_id: str
    url: str
    t: int
    started_at: str
    duration: str
    page: str
    errors: list[str]
    frustration: str
    owners: list[str] = []
    """Who owns the session (`Payments (team)`, `Ada Lovelace`), by the ownership rules."""


def share_url_for(hub: Hub, session_id: str, t: int) -> str:
    """A signed link that opens the replay at `t` without an account (the one place links
    in notes and messages are made; swap the signer here)."""
    token, _ = make_share_token(hub.secret_key, session_id, t, DEFAULT_SECONDS)
    return f"{hub.settings.base_url}/share/{token}"


async def note_snapshot(hub: Hub, session_id: str, t: int) -> bytes | None:
    """The PNG of that moment, or None when the renderer is unavailable (no Chromium...)."""
    from replayhub.replay.moments import snapshot_png

    try:
        async with hub.db.read() as tx:
            session = await tx.get(ReplaySession, session_id)
        if session is None:
            return None
        return await snapshot_png(hub, session, t, 1280)
    except Exception as error:
        log.warning("notes.snapshot_unavailable", session=session_id,
                    error=f"{type(error).__name__}: {error}"[:300])
        return None


def rank(sessions: list[ReplaySession]) -> list[ReplaySession]:
    """Errors first, then frustration, then the most recent."""
    def key(session: ReplaySession) -> tuple[bool, bool, int]:
        frustrated = (session.rage_click_count + session.dead_click_count
                      + session.error_click_count) > 0
        return (session.error_count > 0, frustrated, session.started_at)

    return sorted(sessions, key=key, reverse=True)


async def find_sessions_for_requester(hub: Hub, requester: Requester, since_ms: int,
                                      limit: int) -> list[ReplaySession]:
    clauses = []
    if requester.email:
        clauses.append(ReplaySession.user_email == requester.email.strip().lower())
    if requester.user_id:
        clauses.append(ReplaySession.user_id == requester.user_id)
    if not clauses:
        return []
    query = (select(ReplaySession).where(or_(*clauses), ReplaySession.started_at >= since_ms)
             .order_by(ReplaySession.started_at.desc()).limit(CANDIDATES))
    async with hub.db.read() as tx:
        found = list((await tx.execute(query)).scalars())
    return rank(found)[:limit]


def frustration_text(session: ReplaySession) -> str:
    parts = [(session.rage_click_count, "rage click"), (session.dead_click_count, "dead click"),
             (session.error_click_count, "error click")]
    return ", ".join(f"{n} {name}{'s' if n != 1 else ''}" for n, name in parts if n)


async def note_items(hub: Hub, sessions: list[ReplaySession],
                     moment: int | None = None) -> list[NoteItem]:
    owners = await owners_of_sessions(hub, [session.id for session in sessions])
    items = []
    for session in sessions:
        async with hub.db.read() as tx:
            errors = list((await tx.execute(
                select(ErrorEvent).where(ErrorEvent.session_id == session.id)
                .order_by(ErrorEvent.t).limit(3))).scalars())
        t = moment if moment is not None else (
            max(0, errors[0].t - session.started_at - ERROR_LEAD_MS) if errors else 0)
        page = errors[0].url if errors and errors[0].url else session.last_url
        items.append(NoteItem(session.id, share_url_for(hub, session.id, t), t,
                              iso(session.started_at), clock(session.duration_ms), page,
                              [e.message[:300] for e in errors], frustration_text(session),
                              await owner_labels(hub, owners.get(session.id))))
    return items


async def link_sessions(hub: Hub, connector: str, ticket_id: str, session_ids: list[str]) -> None:
    now = now_ms()
    async with hub.db.write() as tx:
        for session_id in session_ids:
            await insert_ignore(tx, SessionLink, session_id=session_id, connector=connector,
                                target_id=ticket_id, created_at=now)


async def enqueue_ticket_note(hub: Hub, connector: Connector, ticket_id: str,
                              items: list[NoteItem], key: str,
                              policy: NotePolicy) -> str:
    """Render the note and store it in the outbox; the delivery id (an existing one for a
    key seen before)."""
    delivery_id = new_delivery_id()
    html = render(policy.template, items=items, marker=marker_for(delivery_id),
                  hub_url=hub.settings.base_url)
    top = items[0] if items else None
    payload = {
        "ticket_id": ticket_id, "html_body": html,
        "tags": [policy.tag] if top and policy.tag else [],
        "field": ({"id": policy.custom_field_id, "value": top.url}
                  if top and policy.custom_field_id else None),
        "snapshot": ({"session_id": top.session_id, "t": top.t,
                      "filename": f"replay-{top.session_id[:40]}.png"} if top else None),
    }
    found, created = await enqueue(
        hub.db, delivery_id=delivery_id, connector=connector.name, account=connector.account,
        action=TICKET_NOTE, payload=payload, key=key, now_ms=now_ms(),
        session_id=top.session_id if top else None)
    if created:
        hub.dispatcher.notify()
    return found


async def replays_for_new_ticket(hub: Hub, connector: Connector, event: TicketCreated) -> None:
    """Match the requester to recent sessions and post one note on the new ticket."""
    policy = connector.note_policy()
    requester = await requester_of(connector, event)
    since = now_ms() - policy.lookback_hours * 3_600_000
    sessions = await find_sessions_for_requester(hub, requester, since, policy.max_sessions)
    if not sessions and not policy.no_sessions_note:
        log.info("notes.no_sessions", connector=connector.name, ticket=event.ticket_id)
        return
    await link_sessions(hub, connector.name, event.ticket_id, [s.id for s in sessions])
    items = await note_items(hub, sessions)
    await enqueue_ticket_note(hub, connector, event.ticket_id, items,
                              f"ticket-note:{connector.name}:{event.ticket_id}", policy)


async def requester_of(connector: Connector, event: TicketCreated) -> Requester:
    """The requester's email and our user id: from the event, else from the vendor's user."""
    requester = Requester(event.requester_email, event.requester_external_id)
    if (requester.email or requester.user_id) or not event.requester_id:
        return requester
    if not isinstance(connector, FindUser):
        return requester
    person = await connector.find_user(event.requester_id)
    if person is None:
        return requester
    return Requester(person.email, person.user_id)


async def attach_by_hand(hub: Hub, connector: Connector, ticket_id: str, session: ReplaySession,
                         t: int | None) -> str:
    """An agent attaches one session (at `t`) to a ticket."""
    await link_sessions(hub, connector.name, ticket_id, [session.id])
    items = await note_items(hub, [session], moment=t)
    key = f"link:{connector.name}:{ticket_id}:{session.id}:{items[0].t}"
    return await enqueue_ticket_note(hub, connector, ticket_id, items, key,
                                     connector.note_policy())

