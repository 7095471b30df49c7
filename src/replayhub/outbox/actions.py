"""What each outgoing action does, step by step; a finished step is never repeated."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from replayhub.connector import (
    Connector,
    Note,
    PostNote,
    SetTicketField,
    TagTicket,
    UploadImage,
)
from replayhub.mail import EMAIL, send_email
from replayhub.outbox.chat import CHAT_ACTIONS
from replayhub.publishing import (
    DOCUMENT_COMMENT,
    INCIDENT_NOTE,
    PUBLISH_DOCUMENT,
    document_comment,
    incident_note,
    publish_document,
)
from replayhub.reports import REPORT_CHAT, report_chat

SnapshotFn = Callable[[str, int], Awaitable[bytes | None]]
UPLOAD_FRESH_SECONDS = 50 * 60
"""An upload token works for 60 minutes; an older one is uploaded again."""
TICKET_NOTE = "ticket_note"
MARKER = "replayhub-delivery:"


def marker_for(delivery_id: str) -> str:
    """The line a note carries so the hub can tell it posted it (and never imports it back)."""
    return f"{MARKER}{delivery_id}"


@dataclass
class Attempt:
    """One try at a delivery: its data, the steps done so far, and how to pace and save."""

    delivery_id: str
    connector: Connector
    payload: dict[str, Any]
    progress: dict[str, Any]
    pace: Callable[[], Awaitable[None]]
    save: Callable[[], Awaitable[None]]
    snapshot: SnapshotFn
    now: Callable[[], float]
    pace_key: Callable[[str, int], Awaitable[None]] | None = None
    """Wait for a turn under a narrower limit too (key, per minute): one Slack channel."""
    hub: Any = None
    """The running hub, for actions that read people and teams (None in a bare dispatcher)."""
    db: Any = None
    """The hub's Database, for actions that record what they made (publications)."""


async def upload_snapshot(attempt: Attempt) -> list[str]:
    """The snapshot's upload token (rendered and uploaded once); [] without a picture."""
    shot = attempt.payload.get("snapshot")
    if not shot or not isinstance(attempt.connector, UploadImage):
        return []
    done = attempt.progress.get("upload")
    if done and (done.get("token") is None
                 or attempt.now() - done["at"] < UPLOAD_FRESH_SECONDS):
        return [done["token"]] if done.get("token") else []
    png = await attempt.snapshot(shot["session_id"], int(shot["t"]))
    if png is None:
        attempt.progress["upload"] = {"token": None, "at": attempt.now()}
        await attempt.save()
        return []
    await attempt.pace()
    token = await attempt.connector.upload_image(shot.get("filename", "replay.png"), png)
    attempt.progress["upload"] = {"token": token, "at": attempt.now()}
    await attempt.save()
    return [token]


async def post_note_once(attempt: Attempt, uploads: list[str]) -> str:
    """Post the note, unless an earlier try may already have: then look for it first."""
    connector = attempt.connector
    assert isinstance(connector, PostNote)
    ticket_id = str(attempt.payload["ticket_id"])
    marker = marker_for(attempt.delivery_id)
    if attempt.progress.get("note_id"):
        return str(attempt.progress["note_id"])
    if attempt.progress.get("note_attempted"):
        await attempt.pace()
        found = await connector.find_note(ticket_id, marker)
        if found:
            attempt.progress["note_id"] = found
            await attempt.save()
            return found
    attempt.progress["note_attempted"] = True
    await attempt.save()
    await attempt.pace()
    note_id = await connector.post_note(
        ticket_id, Note(html_body=attempt.payload["html_body"], marker=marker, uploads=uploads))
    attempt.progress["note_id"] = note_id
    await attempt.save()
    return note_id


async def tag_and_fill(attempt: Attempt) -> None:
    """Tag the ticket and fill its custom field (each once)."""
    connector, ticket_id = attempt.connector, str(attempt.payload["ticket_id"])
    tags = attempt.payload.get("tags") or []
    if tags and isinstance(connector, TagTicket) and not attempt.progress.get("tagged"):
        await attempt.pace()
        await connector.tag_ticket(ticket_id, tags)
        attempt.progress["tagged"] = True
        await attempt.save()
    field = attempt.payload.get("field")
    if field and isinstance(connector, SetTicketField) and not attempt.progress.get("field_set"):
        await attempt.pace()
        await connector.set_ticket_field(ticket_id, int(field["id"]), str(field["value"]))
        attempt.progress["field_set"] = True
        await attempt.save()


async def ticket_note(attempt: Attempt) -> str:
    """Upload the snapshot → post the note with it → tag the ticket → fill the field."""
    uploads = await upload_snapshot(attempt)
    note_id = await post_note_once(attempt, uploads)
    await tag_and_fill(attempt)
    return note_id


ACTIONS: dict[str, Callable[[Attempt], Awaitable[str]]] = {TICKET_NOTE: ticket_note,
                                                            EMAIL: send_email,
                                                            PUBLISH_DOCUMENT: publish_document,
                                                            INCIDENT_NOTE: incident_note,
                                                            DOCUMENT_COMMENT: document_comment,
                                                            REPORT_CHAT: report_chat,
                                                            **CHAT_ACTIONS}
