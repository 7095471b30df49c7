"""Store an accepted batch durably (blob + rows in one transaction) and index it in seq order."""

from __future__ import annotations

import time
import zlib
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import structlog
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from replayhub.blobs import BlobStore
from replayhub.db.engine import Database
from replayhub.db.models import (
    Action,
    ErrorEvent,
    Frustration,
    IndexCheckpoint,
    PageView,
    ReplaySession,
    Segment,
    SessionUrl,
)
from replayhub.db.upsert import ensure_error_group, ensure_url, insert_ignore_many
from replayhub.ingest.decode import Batch, IngestRefused
from replayhub.ingest.indexer import (
    BatchResult,
    ErrorRecord,
    IndexState,
    decode_state,
    encode_state,
    finish,
    new_state,
    process_batch,
)
from replayhub.ingest.useragent import parse_user_agent
from replayhub.security import TokenCache, app_for_key, hash_secret

log = structlog.get_logger(__name__)

MAX_URL = 2048
CHECKPOINT_EVERY = 8
"""Write the indexer state to the database every N batches; between checkpoints a restart
replays the stored segments since the last one (indexing is deterministic)."""
FRUSTRATION_COUNTERS = {
    "rage_click": "rage_click_count",
    "dead_click": "dead_click_count",
    "error_click": "error_click_count",
}


class IngestResult(msgspec.Struct):
    session_id: str
    seq: int
    accepted: int
    duplicate: bool = False


def now_ms() -> int:
    return int(time.time() * 1000)


def segment_key(session_id: str, seq: int) -> str:
    return f"sessions/{session_id}/segments/{seq:010d}.json.gz"


def compress(data: bytes) -> bytes:
    packer = zlib.compressobj(3, zlib.DEFLATED, 31)
    return packer.compress(data) + packer.flush()


def decompress(data: bytes) -> bytes:
    return zlib.decompress(data, 47)


class Ingestor:
    """The one write path for recordings: every batch goes through ingest()."""

    def __init__(self, db: Database, blobs: BlobStore) -> None:
        self.db = db
        self.blobs = blobs
        self.states = StateCache()
        self.ingest_keys = TokenCache()
        self.ids = IdCache()

    async def app_id_for_key(self, key: str) -> str | None:
        """The app an ingest key writes to (cached briefly: every batch asks)."""
        key_hash = hash_secret(key)
        known, app_id = self.ingest_keys.get(key_hash)
        if not known:
            app = await app_for_key(self.db, key)
            app_id = app.id if app else None
            self.ingest_keys.put(key_hash, app_id)
        return app_id

    async def ingest(self, app_id: str, batch: Batch, user_agent: str = "") -> IngestResult:
        for attempt in range(3):
            try:
                return await self._ingest_once(app_id, batch, user_agent)
            except IntegrityError:
                # Two first batches of one session raced on PostgreSQL; the loser retries.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _ingest_once(self, app_id: str, batch: Batch, user_agent: str) -> IngestResult:
        async with self.db.write() as tx:
            session = await self._lock_session(tx, batch.session_id)
            if session is not None and session.app_id != app_id:
                raise IngestRefused(409, "Session belongs to another app",
                                    f"session {batch.session_id} was recorded by another app")
            if await tx.get(Segment, (batch.session_id, batch.seq)) is not None:
                return IngestResult(batch.session_id, batch.seq, len(batch.events), True)
            in_order = (session.indexed_seq if session else -1) == batch.seq - 1
            state = await self._state_for(tx, session) if in_order else IndexedState(new_state())
            result = process_batch(state.state, batch.events, conservative=not in_order)
            data = compress(msgspec.json.encode(batch.events))
            key = segment_key(batch.session_id, batch.seq)
            await self.blobs.put(key, data)
            session = session or self._new_session(app_id, batch)
            self._describe_session(session, batch, user_agent)
            tx.add(session)
            tx.add(self._segment(batch, key, len(data), in_order))
            await tx.flush()
            if in_order:
                await self._apply(tx, session, result)
                session.indexed_seq = batch.seq
                session.needs_close = True
                await self._drain(tx, session, state.state)
                await self._save_state(tx, session, state)
        if in_order:
            self.states.put(session.id, session.indexed_seq, state)
        log.info("ingest.batch", session_id=batch.session_id, seq=batch.seq,
                 events=len(batch.events), bytes=len(data), indexed=in_order)
        return IngestResult(batch.session_id, batch.seq, len(batch.events))

    async def close_quiet_sessions(self, quiet_ms: int, limit: int = 500) -> int:
        """Decide the clicks left pending at the end of sessions quiet for `quiet_ms`."""
        cutoff = now_ms() - quiet_ms
        async with self.db.read() as tx:
            ids = (await tx.execute(select(ReplaySession.id).where(
                ReplaySession.needs_close.is_(True), ReplaySession.updated_at <= cutoff)
                .limit(limit))).scalars().all()  # type: ignore[attr-defined]
        for session_id in ids:
            await self._close(session_id, cutoff)
        return len(ids)

    async def _close(self, session_id: str, cutoff: int) -> None:
        async with self.db.write() as tx:
            session = await self._lock_session(tx, session_id)
            if session is None or not session.needs_close or session.updated_at > cutoff:
                return  # closed by another process, or a batch just arrived
            state = await self._state_for(tx, session)
            await self._apply(tx, session, finish(state.state))
            session.needs_close = False
            await self._save_state(tx, session, state, force=True)
        self.states.put(session_id, session.indexed_seq, state)

    async def _lock_session(self, tx: AsyncSession, session_id: str) -> ReplaySession | None:
        query = select(ReplaySession).where(ReplaySession.id == session_id)
        if not self.db.is_sqlite:
            query = query.with_for_update()
        return (await tx.execute(query)).scalar_one_or_none()

    async def _state_for(self, tx: AsyncSession, session: ReplaySession | None) -> IndexedState:
        """The indexer state after the session's last indexed batch: from memory, else the
        last checkpoint with the batches stored since then replayed onto it."""
        if session is None:
            return IndexedState(new_state())
        cached = self.states.take(session.id, session.indexed_seq)
        if cached is not None:
            return cached
        checkpoint = await tx.get(IndexCheckpoint, session.id)
        if checkpoint is None:
            state = IndexedState(new_state())
        else:
            state = IndexedState(decode_state(checkpoint.state), checkpoint.seq)
        for seq in range(state.checkpoint_seq + 1, session.indexed_seq + 1):
            process_batch(state.state, await self._segment_events(tx, session.id, seq))
        return state

    async def _segment_events(self, tx: AsyncSession, session_id: str,
                              seq: int) -> list[dict[str, Any]]:
        segment = await tx.get(Segment, (session_id, seq))
        if segment is None:
            return []
        return msgspec.json.decode(decompress(await self.blobs.get(segment.blob_key)))

    async def _save_state(self, tx: AsyncSession, session: ReplaySession, state: IndexedState,
                          *, force: bool = False) -> None:
        """Checkpoint the state every CHECKPOINT_EVERY batches (and when a session closes)."""
        if not force and session.indexed_seq - state.checkpoint_seq < CHECKPOINT_EVERY:
            return
        checkpoint = await tx.get(IndexCheckpoint, session.id)
        if checkpoint is None:
            checkpoint = IndexCheckpoint(session_id=session.id, seq=session.indexed_seq, state=b"")
        checkpoint.seq = session.indexed_seq
        checkpoint.state = encode_state(state.state)
        tx.add(checkpoint)
        state.checkpoint_seq = session.indexed_seq

    @staticmethod
    def _new_session(app_id: str, batch: Batch) -> ReplaySession:
        first = min((event["timestamp"] for event in batch.events), default=now_ms())
        now = now_ms()
        return ReplaySession(id=batch.session_id, app_id=app_id, started_at=int(first),
                             ended_at=int(first), created_at=now, updated_at=now)

    @staticmethod
    def _describe_session(session: ReplaySession, batch: Batch, user_agent: str) -> None:
        if batch.user is not None:
            session.user_id = batch.user.id or session.user_id
            session.user_email = (batch.user.email or "").lower() or session.user_email
            session.user_name = batch.user.name or session.user_name
        agent = str(batch.metadata.get("user_agent") or user_agent)[:1000]
        if agent and not session.user_agent:
            session.user_agent = agent
            session.browser, session.os, session.device = parse_user_agent(agent)
        last = max((event["timestamp"] for event in batch.events), default=session.ended_at)
        session.ended_at = max(session.ended_at, int(last))
        session.duration_ms = session.ended_at - session.started_at
        session.event_count += len(batch.events)
        session.size_bytes += batch.size_bytes
        session.segment_count += 1
        session.updated_at = now_ms()

    @staticmethod
    def _segment(batch: Batch, key: str, size: int, indexed: bool) -> Segment:
        stamps = [int(event["timestamp"]) for event in batch.events] or [now_ms()]
        return Segment(session_id=batch.session_id, seq=batch.seq, blob_key=key,
                       event_count=len(batch.events), first_ts=min(stamps), last_ts=max(stamps),
                       size_bytes=size, indexed=indexed, received_at=now_ms())

    async def _drain(self, tx: AsyncSession, session: ReplaySession, state: IndexState) -> None:
        """Index batches that arrived early, now that the gap before them is filled."""
        while True:
            segment = await tx.get(Segment, (session.id, session.indexed_seq + 1))
            if segment is None:
                return
            events = await self._segment_events(tx, session.id, segment.seq)
            await self._apply(tx, session, process_batch(state, events))
            segment.indexed = True
            session.indexed_seq = segment.seq
            tx.add(segment)

    async def _apply(self, tx: AsyncSession, session: ReplaySession, result: BatchResult) -> None:
        """Write what the indexer found in one batch and fold it into the session row."""
        identified = bool(session.user_id or session.user_email)
        self._fold_meta(session, result)
        await self._add_pages(tx, session, result)
        await _insert_rows(tx, Action, [_action_row(session, action) for action in result.actions])
        session.click_count += sum(a.kind in ("click", "dblclick") for a in result.actions)
        await self._add_errors(tx, session, result)
        await _insert_rows(tx, Frustration, [_frustration_row(session, signal)
                                             for signal in result.frustrations])
        for signal in result.frustrations:
            counter = FRUSTRATION_COUNTERS[signal.kind]
            setattr(session, counter, getattr(session, counter) + 1)
        if not identified and session.error_count and (session.user_id or session.user_email):
            await self._refresh_user_key(tx, session)
        tx.add(session)

    @staticmethod
    def _fold_meta(session: ReplaySession, result: BatchResult) -> None:
        if result.viewport:
            session.viewport_width, session.viewport_height = result.viewport
        if result.user:
            session.user_id = session.user_id or _text(result.user.get("id"))
            email = _text(result.user.get("email"))
            session.user_email = session.user_email or (email.lower() if email else None)
            session.user_name = session.user_name or _text(result.user.get("name"))

    async def _add_pages(self, tx: AsyncSession, session: ReplaySession,
                         result: BatchResult) -> None:
        views, visits = [], []
        for page in result.pages:
            url = page.url[:MAX_URL]
            url_id = await self.ids.url(tx, url)
            views.append({"session_id": session.id, "url_id": url_id, "t": page.t, "url": url,
                          "title": page.title[:500]})
            visits.append({"url_id": url_id, "session_id": session.id,
                           "started_at": session.started_at})
            session.first_url = session.first_url or url
            session.last_url = url
        session.page_count += len(views)
        await _insert_rows(tx, PageView, views)
        if visits:
            await insert_ignore_many(tx, SessionUrl, visits)

    async def _add_errors(self, tx: AsyncSession, session: ReplaySession,
                          result: BatchResult) -> None:
        rows = []
        for error in result.errors:
            group_id = await self.ids.error_group(tx, session.app_id, error)
            rows.append({"session_id": session.id, "group_id": group_id, "t": error.t,
                         "user_key": user_key(session), "type": error.type[:200],
                         "message": error.message[:4000], "stack": error.stack[:16000],
                         "url": error.url[:MAX_URL], "source": error.source})
        session.error_count += len(rows)
        await _insert_rows(tx, ErrorEvent, rows)

    @staticmethod
    async def _refresh_user_key(tx: AsyncSession, session: ReplaySession) -> None:
        """A session identified after its first errors: count those errors under the user."""
        await tx.execute(update(ErrorEvent)
                         .where(ErrorEvent.session_id == session.id,
                                ErrorEvent.user_key == session.id)
                         .values(user_key=user_key(session)))


class IndexedState:
    """The indexer's state for one session and the seq of its last checkpoint."""

    __slots__ = ("checkpoint_seq", "state")

    def __init__(self, state: IndexState, checkpoint_seq: int = -1) -> None:
        self.state = state
        self.checkpoint_seq = checkpoint_seq


class StateCache:
    """Indexer states of recently active sessions, so a batch needs no checkpoint read.

    An entry is used only when it is exactly at the session's indexed seq in the database;
    it is taken out for the transaction and put back after the commit.
    """

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._entries: OrderedDict[str, tuple[int, IndexedState]] = OrderedDict()

    def take(self, session_id: str, seq: int) -> IndexedState | None:
        entry = self._entries.pop(session_id, None)
        return entry[1] if entry is not None and entry[0] == seq else None

    def put(self, session_id: str, seq: int, state: IndexedState) -> None:
        self._entries[session_id] = (seq, state)
        self._entries.move_to_end(session_id)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


class IdCache:
    """Ids of URLs and error groups already in the database (they are never deleted)."""

    def __init__(self, size: int = 50_000) -> None:
        self.size = size
        self._urls: dict[str, int] = {}
        self._groups: dict[tuple[str, str], tuple[int, int, int]] = {}

    async def url(self, tx: AsyncSession, url: str) -> int:
        url_id = self._urls.get(url)
        if url_id is None:
            url_id = await ensure_url(tx, url)
            self._remember(self._urls, url, url_id)
        return url_id

    async def error_group(self, tx: AsyncSession, app_id: str, error: ErrorRecord) -> int:
        """The group id; first/last seen are updated only when this error widens them."""
        known = self._groups.get((app_id, error.fingerprint))
        if known is not None and known[1] <= error.t <= known[2]:
            return known[0]
        group_id = await ensure_error_group(tx, app_id, error)
        first, last = (known[1], known[2]) if known else (error.t, error.t)
        self._remember(self._groups, (app_id, error.fingerprint),
                       (group_id, min(first, error.t), max(last, error.t)))
        return group_id

    def _remember(self, table: dict[Any, Any], key: Any, value: Any) -> None:
        if len(table) >= self.size:
            table.clear()
        table[key] = value


async def _insert_rows(tx: AsyncSession, model: type, rows: list[dict[str, Any]]) -> None:
    """One multi-row INSERT (executemany) for the rows of one table."""
    if rows:
        await tx.execute(insert(model), rows)


def _action_row(session: ReplaySession, action: Any) -> dict[str, Any]:
    return {"session_id": session.id, "t": action.t, "kind": action.kind,
            "selector": action.selector[:500], "tag": action.tag[:50],
            "element_id": action.element_id[:200], "classes": action.classes[:500],
            "text": action.text[:200], "url": action.url[:MAX_URL]}


def _frustration_row(session: ReplaySession, signal: Any) -> dict[str, Any]:
    return {"session_id": session.id, "t": signal.t, "kind": signal.kind,
            "selector": signal.selector[:500], "url": signal.url[:MAX_URL],
            "clicks": signal.clicks, "error_fingerprint": signal.error_fingerprint}


def user_key(session: ReplaySession) -> str:
    """What "distinct users" counts: the user id, else the email, else the session."""
    return session.user_id or session.user_email or session.id


def _text(value: Any) -> str | None:
    return str(value)[:320] if value else None


async def stream_events(db: Database, blobs: BlobStore, session_id: str) -> AsyncIterator[bytes]:
    """The stored events of a session as one JSON array, a segment at a time, in seq order."""
    async with db.read() as tx:
        keys = (await tx.execute(select(Segment.blob_key).where(Segment.session_id == session_id)
                                 .order_by(Segment.seq))).scalars().all()
    yield b"["
    first = True
    for key in keys:
        body = decompress(await blobs.get(key))[1:-1]
        if not body:
            continue
        yield body if first else b"," + body
        first = False
    yield b"]"
