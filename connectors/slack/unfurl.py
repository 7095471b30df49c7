"""Replay and share links pasted in Slack, unfurled: the session's summary, owners, picture.

Only links to this hub are read (`/replays/{id}?t=` and valid `/share/{token}` links); the
picture goes up as a Slack file (never an image URL on a loopback or private address, which
Slack cannot fetch). The unfurl itself is an outbox delivery (`chat_unfurl`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from connectors.slack.webhooks import SlackLinksShared
from replayhub.connector import SnapshotRef
from replayhub.db.models import ReplaySession
from replayhub.outbox.chat import LinkPreview, enqueue_unfurl, session_title
from replayhub.replay.share import read_share_token
from replayhub.signing import BadSignature, Expired

if TYPE_CHECKING:
    from connectors.slack.connector import SlackConnector
    from replayhub.hub import Hub


def moment_of_link(hub: Hub, url: str) -> tuple[str, int | None] | None:
    """(session id, t) of a link to this hub's player or a valid share link; else None."""
    base = urlsplit(hub.settings.base_url)
    parts = urlsplit(url)
    if parts.netloc.lower() != base.netloc.lower():
        return None
    path = parts.path.removeprefix(base.path.rstrip("/"))
    segments = [s for s in path.split("/") if s]
    if len(segments) == 2 and segments[0] == "replays":
        t = parse_qs(parts.query).get("t", [""])[0]
        return segments[1], int(t) if t.isdigit() else None
    if len(segments) == 2 and segments[0] == "share":
        try:
            share = read_share_token(hub.secret_key, segments[1])
        except (BadSignature, Expired):
            return None
        return share.session_id, share.t
    return None


async def preview_of(hub: Hub, url: str, session: ReplaySession, t: int | None) -> LinkPreview:
    from replayhub import people
    from replayhub.ticket_notes import note_items

    [item] = await note_items(hub, [session], moment=t)
    lines = [f"Started {item.started_at[:16].replace('T', ' ')} UTC, lasted {item.duration}",
             f"Page: {item.page}"]
    lines += [f"Error: {message}" for message in item.errors[:2]]
    if item.frustration:
        lines.append(f"Frustration: {item.frustration}")
    owners = await people.owners_of_session(hub, session.id)
    return LinkPreview(url=url, title=session_title(session), summary="\n".join(lines),
                       owners=await people.chat_people(hub, owners.emails), teams=owners.teams,
                       snapshot=SnapshotRef(session.id, item.t))


async def unfurl_links(hub: Hub, connector: SlackConnector, event: SlackLinksShared) -> int:
    """Queue one unfurl per link to a replay of this hub; how many. A link typed in the
    message composer (source "composer", channel "COMPOSER") is unfurled by its unfurl_id."""
    composer = event.source == "composer" or event.channel == "COMPOSER"
    if not connector.settings.unfurl:
        return 0
    if (not event.unfurl_id) if composer else (not event.channel or not event.message_ts):
        return 0
    queued = 0
    for url in dict.fromkeys(event.links):
        found = moment_of_link(hub, url)
        if found is None:
            continue
        async with hub.db.read() as tx:
            session = await tx.get(ReplaySession, found[0])
        if session is None:
            continue
        preview = await preview_of(hub, url, session, found[1])
        await enqueue_unfurl(hub, connector, event.channel, event.message_ts, preview,
                             event.event_key, unfurl_id=event.unfurl_id if composer else "",
                             source=(event.source or "composer") if composer else "")
        queued += 1
    return queued
