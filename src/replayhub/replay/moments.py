"""Moments of a session worth a picture, and their PNGs (rendered once, cached as blobs)."""

from __future__ import annotations

from contextlib import aclosing
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy import func, select

from replayhub.blobs import get_or_none
from replayhub.db.models import ErrorEvent, ReplaySession
from replayhub.index.sessions import TimelineEntry
from replayhub.replay.events import stream_events

if TYPE_CHECKING:
    from replayhub.hub import Hub

ERROR_LEAD_MS = 500
"""An error is pictured this long before it was thrown: what the user saw and did."""
PAGE_SETTLE_MS = 1000
"""A page is pictured this long after it was opened, once it has drawn."""
EVENTS_AFTER_MS = 1000
"""Events this long after the moment are sent too: mouse positions arrive in late batches."""
FULL_SNAPSHOT = 2
FRUSTRATIONS = ("rage_click", "dead_click", "error_click")
MOMENT_KINDS = {
    "errors": ("error",),
    "frustration": FRUSTRATIONS,
    "pages": ("first_page", "last_page"),
    "all": ("error", *FRUSTRATIONS, "first_page", "last_page"),
}


class NothingToRender(Exception):
    """The session's stored events hold no full page snapshot to replay."""


class BadMoment(ValueError):
    """A moment outside the session; the message says which and why."""


class Moment(msgspec.Struct):
    t: int
    """Milliseconds from the session start."""
    kind: str
    """error, rage_click, dead_click, error_click, first_page or last_page."""
    label: str
    url: str
    """The PNG of this moment."""


def snapshot_key(session_id: str, t: int, width: int) -> str:
    """Cached PNGs live under the session's prefix, so deleting the session drops them."""
    return f"sessions/{session_id}/snapshots/{t}-{width}.png"


def snapshot_url(base_url: str, session_id: str, t: int) -> str:
    return f"{base_url}/api/v1/sessions/{session_id}/snapshot.png?t={t}"


async def default_moment(hub: Hub, session: ReplaySession) -> int:
    """Just before the session's first error, else its last frame."""
    query = select(func.min(ErrorEvent.t)).where(ErrorEvent.session_id == session.id)
    async with hub.db.read() as tx:
        first_error = (await tx.execute(query)).scalar_one_or_none()
    if first_error is None:
        return session.duration_ms
    return max(0, first_error - session.started_at - ERROR_LEAD_MS)


def moments_of(session: ReplaySession, timeline: list[TimelineEntry], which: str,
               base_url: str) -> list[Moment]:
    """Each error, each frustration signal, the first and the last page, in time order."""
    kinds = MOMENT_KINDS[which]
    found = [_moment_of(entry, session.duration_ms) for entry in timeline]
    found += _page_moments(session, timeline)
    chosen = sorted((m for m in found if m is not None and m[1] in kinds), key=lambda m: m[0])
    return [Moment(t, kind, label, snapshot_url(base_url, session.id, t))
            for t, kind, label in chosen]


def _moment_of(entry: TimelineEntry, duration: int) -> tuple[int, str, str] | None:
    if entry.kind == "error":
        return max(0, entry.t - ERROR_LEAD_MS), "error", entry.label[:200]
    if entry.kind in FRUSTRATIONS:
        what = entry.kind.replace("_", " ")
        return min(max(0, entry.t), duration), entry.kind, f"{what} on {entry.label}"[:200]
    return None


def _page_moments(session: ReplaySession,
                  timeline: list[TimelineEntry]) -> list[tuple[int, str, str]]:
    pages = [entry for entry in timeline if entry.kind == "page"]
    if not pages:
        return []
    first = min(max(0, pages[0].t) + PAGE_SETTLE_MS, session.duration_ms)
    return [(first, "first_page", pages[0].label[:200]),
            (session.duration_ms, "last_page", pages[-1].label[:200])]


async def events_until(hub: Hub, session_id: str, until: int) -> list[dict[str, Any]]:
    """The stored events up to epoch ms `until`, reading no segment that starts later."""
    events: list[dict[str, Any]] = []
    async with aclosing(stream_events(hub.db, hub.blobs, session_id)) as chunks:
        async for chunk in chunks:
            body = chunk.lstrip(b",")
            if body in (b"[", b"]", b""):
                continue
            segment = msgspec.json.decode(b"[" + body + b"]")
            events.extend(event for event in segment if event["timestamp"] <= until)
            if min(event["timestamp"] for event in segment) > until:
                break
    return sorted(events, key=lambda event: event["timestamp"])


def replay_target(events: list[dict[str, Any]], at: int) -> int:
    """`at`, or the first full snapshot when `at` comes before the page was captured."""
    snapshots = [event["timestamp"] for event in events if event["type"] == FULL_SNAPSHOT]
    if not snapshots:
        raise NothingToRender("the session has no full page snapshot to replay")
    return max(at, snapshots[0])


async def render_moment(hub: Hub, session: ReplaySession, t: int, width: int) -> bytes:
    """PNG of the session at `t` ms from its start, `width` pixels wide (no cache)."""
    at = session.started_at + t
    events = await events_until(hub, session.id, at + EVENTS_AFTER_MS)
    target = replay_target(events, at)
    return await hub.snapshots.render(msgspec.json.encode(events).decode(), target, width)


async def snapshot_png(hub: Hub, session: ReplaySession, t: int, width: int) -> bytes:
    """The cached PNG of that moment, rendered by Chromium on a miss."""
    key = snapshot_key(session.id, t, width)
    cached = await get_or_none(hub.blobs, key)
    if cached is not None:
        return cached
    png = await render_moment(hub, session, t, width)
    await hub.blobs.put(key, png)
    return png


async def picture_of(hub: Hub, session: ReplaySession, t: int | None, width: int) -> bytes:
    """PNG of the session at `t` (None: the default moment); BadMoment past its end."""
    if t is None:
        t = await default_moment(hub, session)
    if not 0 <= t <= session.duration_ms:
        raise BadMoment(f"t={t} is outside the session (0 to {session.duration_ms} ms)")
    return await snapshot_png(hub, session, t, width)
