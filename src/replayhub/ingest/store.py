"""Store an accepted batch durably (blob + rows in one transaction) and index it in seq order.

The transaction is a few synchronous steps (Database.grouped): one reads the session row
(on SQLite, only when this process did not write it last: RowCache), then, outside the
database, the batch is indexed, scrubbed and compressed, and one more step writes every row,
the compressed events staged in the segment's row (moved to the blob store right after:
replayhub.ingest.staging). Row values are built in Python first, so each table costs one
statement (execute_rows) and the session row one checked UPDATE of the columns that changed.

Batches of one session go through a per-session lock (read -> index -> write); batches of
different sessions overlap, and on SQLite their writes share one commit (group commit).
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, NamedTuple

import msgspec
import structlog
from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from replayhub.blobs import BlobStore
from replayhub.clock import now_ms
from replayhub.db.engine import Database, WriteTx, execute_rows
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
from replayhub.db.upsert import ensure_error_group, ensure_url, insert_ignore_many, upsert
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
from replayhub.ingest.staging import STAGE_MAX_BYTES, SegmentMover, StagedSegment, Stored
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
SESSIONS = ReplaySession.__table__  # type: ignore[attr-defined]
SESSION_COLUMNS: tuple[str, ...] = tuple(SESSIONS.columns.keys())
NEW_SESSION: dict[str, Any] = {
    name: getattr(ReplaySession(id="", app_id="", started_at=0, ended_at=0, created_at=0,
                                updated_at=0), name) for name in SESSION_COLUMNS}
"""Column defaults of a new session (built once: a SQLModel instance is slow to make)."""
INSERT_SESSION = insert(SESSIONS)
UPDATE_SESSION = update(SESSIONS).where(
    SESSIONS.c.id == bindparam("old_id"),
    SESSIONS.c.segment_count == bindparam("old_segment_count"),
    SESSIONS.c.indexed_seq == bindparam("old_indexed_seq"),
    SESSIONS.c.needs_close == bindparam("old_needs_close"))
"""SET takes the columns named in the parameters; WHERE checks the row is as it was read."""
INSERT_SEGMENT = insert(Segment)
INSERT_PAGE_VIEW = insert(PageView)
INSERT_ACTION = insert(Action)
INSERT_ERROR = insert(ErrorEvent)
INSERT_FRUSTRATION = insert(Frustration)


class IngestResult(msgspec.Struct):
    session_id: str
    seq: int
    accepted: int
    duplicate: bool = False


def segment_key(session_id: str, seq: int) -> str:
    return f"sessions/{session_id}/segments/{seq:010d}.json.gz"


def compress(data: bytes) -> bytes:
    """gzip at level 1: rrweb JSON is repetitive, so the fastest level already shrinks it
    ~10x, and every batch pays for this on the ingest path."""
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)
    return packer.compress(data) + packer.flush()


def decompress(data: bytes) -> bytes:
    return zlib.decompress(data, 47)


class SessionRow:
    """A sessions row as plain attributes (id, app_id, ... as in ReplaySession).

    The ingest path reads and sets a dozen of them for every batch; on a SQLModel instance
    each set runs validation and change-tracking hooks that cost more than the batch's SQL.
    """

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)

    def __getattr__(self, name: str) -> Any:  # for type checkers: columns are set in __init__
        raise AttributeError(name)

    def values(self) -> dict[str, Any]:
        """Every column, as a new dict."""
        return {name: self.__dict__[name] for name in SESSION_COLUMNS}


class Found(NamedTuple):
    """What the first step of a transaction read about one session (locked on PostgreSQL)."""

    session: SessionRow | None
    row: dict[str, Any]
    """The session row as read ({} for a new session): only changed columns are written."""
    duplicate: bool = False
    early: tuple[tuple[int, Stored], ...] = ()
    """(seq, events) of stored batches after the indexed seq, when the batch fills a gap."""


class Rows(NamedTuple):
    """The rows one BatchResult adds, built before any SQL runs (ids are resolved on write)."""

    pages: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    errors: list[tuple[ErrorRecord, dict[str, Any]]]
    frustrations: list[dict[str, Any]]
    rekey: str | None
    """The session's new user key when it was identified after its first errors."""


class Writes(NamedTuple):
    """Everything the last step of a transaction writes."""

    session: SessionRow
    row: dict[str, Any]
    segment: dict[str, Any] | None
    rows: list[Rows]
    indexed: list[int]
    """Seqs of stored early batches indexed now (the gap before them filled)."""
    checkpoint: dict[str, Any] | None


class Ingestor:
    """The one write path for recordings: every batch goes through ingest()."""

    def __init__(self, db: Database, blobs: BlobStore) -> None:
        self.db = db
        self.blobs = blobs
        self.states = StateCache()
        self.rows = RowCache()
        self.ingest_keys = TokenCache()
        self.ids = IdCache()
        self.session_locks = KeyedLocks()
        self.stats = IngestStats()
        self.staging = SegmentMover(db, blobs)
        db.on_rollback(self.ids.clear)

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
                async with self.session_locks.hold(batch.session_id):
                    return await self._ingest_once(app_id, batch, user_agent)
            except (IntegrityError, StaleSession):
                # Two first batches of one session raced on PostgreSQL, or the session row
                # changed after it was read (another process): the loser retries.
                self.ids.clear()
                self.rows.drop(batch.session_id)
                if attempt == 2:
                    raise
            except BaseException:
                self.ids.clear()  # ids cached by a rolled-back transaction may not exist
                self.rows.drop(batch.session_id)
                raise
        raise AssertionError("unreachable")

    async def _ingest_once(self, app_id: str, batch: Batch, user_agent: str) -> IngestResult:
        async with self.db.grouped() as tx:
            found = self._find_cached(batch.session_id, batch.seq)
            if found is None:
                found = await tx.run(partial(self._find, batch.session_id, batch.seq))
            session = found.session
            if session is not None and session.app_id != app_id:
                raise IngestRefused(409, "Session belongs to another app",
                                    f"session {batch.session_id} was recorded by another app")
            if found.duplicate:
                return IngestResult(batch.session_id, batch.seq, len(batch.events), True)
            in_order = (session.indexed_seq if session else -1) == batch.seq - 1
            state = await self._state_for(tx, session) if in_order else IndexedState(new_state())
            result = _index_or_refuse(state.state, batch, conservative=not in_order)
            data = compress(msgspec.json.encode(batch.events))
            key = segment_key(batch.session_id, batch.seq)
            staged = data if len(data) <= STAGE_MAX_BYTES else None
            if staged is None:
                await self.blobs.put(key, data)
            session = session or self._new_session(app_id, batch)
            identified = bool(session.user_id or session.user_email)
            self._describe_session(session, batch, user_agent)
            writes = Writes(session, found.row,
                            self._segment(batch, key, len(data), in_order, staged), [], [], None)
            if in_order:
                writes.rows.append(self._fold(session, result, identified))
                session.indexed_seq = batch.seq
                session.needs_close = True
                await self._drain(writes, state.state, found.early)
                writes = writes._replace(checkpoint=self._checkpoint(session, state))
            await tx.finish(partial(self._write, writes))
        self.rows.put(session.id, session.values())
        if in_order:
            self.states.put(session.id, (session.indexed_seq, True), state)
        if staged is not None:
            self.staging.staged(StagedSegment(batch.session_id, batch.seq, key, staged))
        self.stats.add(len(batch.events), len(data))
        log.debug("ingest.batch", session_id=batch.session_id, seq=batch.seq,
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
            try:
                async with self.session_locks.hold(session_id):
                    await self._close(session_id, cutoff)
            except StaleSession:
                self.ids.clear()  # a batch arrived meanwhile: the session is not quiet
                self.rows.drop(session_id)
            except BaseException:
                self.ids.clear()  # ids cached by a rolled-back transaction may not exist
                self.rows.drop(session_id)
                raise
        return len(ids)

    async def _close(self, session_id: str, cutoff: int) -> None:
        async with self.db.grouped() as tx:
            found = await tx.run(partial(self._find, session_id, None))
            session = found.session
            if session is None or not session.needs_close or session.updated_at > cutoff:
                return  # closed by another process, or a batch just arrived
            state = await self._state_for(tx, session)
            rows = self._fold(session, finish(state.state))
            session.needs_close = False
            checkpoint = self._checkpoint(session, state, force=True)
            await tx.finish(partial(self._write, Writes(session, found.row, None, [rows], [],
                                                        checkpoint)))
        self.rows.put(session_id, session.values())
        self.states.put(session_id, (session.indexed_seq, False), state)

    def _find_cached(self, session_id: str, seq: int) -> Found | None:
        """What _find would read, from the row this process last committed; None when the
        row is not cached or the batch needs a look at the stored segments. SQLite only: on
        PostgreSQL the read also locks the row against the other hub processes."""
        if not self.db.is_sqlite:
            return None
        row = self.rows.get(session_id)
        if row is None or row["segment_count"] != row["indexed_seq"] + 1:
            return None
        return Found(SessionRow(row), row, duplicate=seq <= row["indexed_seq"])

    def _find(self, session_id: str, seq: int | None, tx: Connection) -> Found:
        """The session row (locked on PostgreSQL), whether `seq` is stored, and the batches
        stored early that `seq` may let through; the early ones are only looked for when the
        session has more segments than indexed batches."""
        query = select(SESSIONS).where(SESSIONS.c.id == session_id)
        if not self.db.is_sqlite:
            query = query.with_for_update()
        row = tx.execute(query).mappings().one_or_none()
        if row is None:
            return Found(None, {})
        found = Found(SessionRow(dict(row)), dict(row))
        if seq is None:
            return found
        if row["segment_count"] == row["indexed_seq"] + 1:
            # The stored segments are exactly 0..indexed_seq (each one is counted when it is
            # stored and none is removed alone): no query needed for the common case.
            return found._replace(duplicate=True) if seq <= row["indexed_seq"] else found
        if tx.execute(select(Segment.seq).where(Segment.session_id == session_id,
                                                Segment.seq == seq)).first() is not None:
            return found._replace(duplicate=True)
        if row["indexed_seq"] != seq - 1 or row["segment_count"] <= row["indexed_seq"] + 1:
            return found
        early = tx.execute(select(Segment.seq, Segment.blob_key, Segment.staged)
                           .where(Segment.session_id == session_id, Segment.seq > seq)
                           .order_by(Segment.seq)).all()  # type: ignore[arg-type]
        return found._replace(early=tuple((int(s), Stored.of_row(k, d)) for s, k, d in early))

    async def _state_for(self, tx: WriteTx, session: SessionRow | None) -> IndexedState:
        """The indexer state after the session's last indexed batch: from memory, else the
        last checkpoint with the batches stored since then replayed onto it."""
        if session is None:
            return IndexedState(new_state())
        cached = self.states.take(session.id, (session.indexed_seq, session.needs_close))
        if cached is not None:
            return cached
        checkpoint, segments = await tx.run(partial(_read_checkpoint, session.id,
                                                    session.indexed_seq))
        if checkpoint is None:
            state = IndexedState(new_state())
        else:
            state = IndexedState(decode_state(checkpoint[1]), checkpoint[0])
        for seq, stored in segments:
            if seq > state.checkpoint_seq:
                process_batch(state.state, await self._events(stored))
        return state

    async def _events(self, stored: Stored) -> list[dict[str, Any]]:
        return msgspec.json.decode(decompress(await stored.read(self.blobs)))

    async def _drain(self, writes: Writes, state: IndexState,
                     early: tuple[tuple[int, Stored], ...]) -> None:
        """Index batches that arrived early, now that the gap before them is filled."""
        session = writes.session
        for seq, stored in early:
            if seq != session.indexed_seq + 1:
                return
            writes.rows.append(self._fold(session,
                                          process_batch(state, await self._events(stored))))
            writes.indexed.append(seq)
            session.indexed_seq = seq

    @staticmethod
    def _checkpoint(session: SessionRow, state: IndexedState, *,
                    force: bool = False) -> dict[str, Any] | None:
        """Checkpoint the state every CHECKPOINT_EVERY batches (and when a session closes)."""
        if not force and session.indexed_seq - state.checkpoint_seq < CHECKPOINT_EVERY:
            return None
        state.checkpoint_seq = session.indexed_seq
        return {"session_id": session.id, "seq": session.indexed_seq,
                "state": encode_state(state.state)}

    def _write(self, writes: Writes, tx: Connection) -> None:
        """The rows of one transaction: the session first (the others refer to it)."""
        session = writes.session
        _write_session(tx, session, writes.row)
        if writes.row and writes.row["started_at"] != session.started_at:
            tx.execute(update(SessionUrl).where(SessionUrl.session_id == session.id)
                       .values(started_at=session.started_at))
        if writes.segment is not None:
            execute_rows(tx, INSERT_SEGMENT, [writes.segment])
        for rows in writes.rows:
            self._write_rows(tx, session, rows)
        if writes.indexed:
            tx.execute(update(Segment).where(Segment.session_id == session.id,
                                             Segment.seq.in_(writes.indexed))  # type: ignore[attr-defined]
                       .values(indexed=True))
        if writes.checkpoint is not None:
            upsert(tx, IndexCheckpoint, ["session_id"], writes.checkpoint)

    @staticmethod
    def _new_session(app_id: str, batch: Batch) -> SessionRow:
        now = now_ms()
        first = batch.first_ts if batch.first_ts is not None else now
        return SessionRow({**NEW_SESSION, "id": batch.session_id, "app_id": app_id,
                           "started_at": first, "ended_at": first, "created_at": now,
                           "updated_at": now})

    @staticmethod
    def _describe_session(session: SessionRow, batch: Batch, user_agent: str) -> None:
        if batch.user is not None:
            session.user_id = batch.user.id or session.user_id
            session.user_email = (batch.user.email or "").lower() or session.user_email
            session.user_name = batch.user.name or session.user_name
        agent = str(batch.metadata.get("user_agent") or user_agent)[:1000]
        if agent and not session.user_agent:
            session.user_agent = agent
            session.browser, session.os, session.device = parse_user_agent(agent)
        if batch.first_ts is not None and batch.last_ts is not None:
            # An early batch that arrives late moves the start back (timeline t stays >= 0).
            session.started_at = min(session.started_at, batch.first_ts)
            session.ended_at = max(session.ended_at, batch.last_ts)
        session.duration_ms = session.ended_at - session.started_at
        session.event_count += len(batch.events)
        session.size_bytes += batch.size_bytes
        session.segment_count += 1
        session.updated_at = now_ms()

    @staticmethod
    def _segment(batch: Batch, key: str, size: int, indexed: bool,
                 staged: bytes | None) -> dict[str, Any]:
        now = now_ms()
        return {"session_id": batch.session_id, "seq": batch.seq, "blob_key": key,
                "event_count": len(batch.events), "first_ts": batch.first_ts or now,
                "last_ts": batch.last_ts or now, "size_bytes": size, "indexed": indexed,
                "received_at": now, "staged": staged}

    def _fold(self, session: SessionRow, result: BatchResult,
              identified: bool | None = None) -> Rows:
        """Fold what the indexer found in one batch into the session and build its rows.

        `identified`: whether the session had a user before this batch (the batch body may
        have named one already); its earlier errors are then counted under that user.
        """
        if identified is None:
            identified = bool(session.user_id or session.user_email)
        self._fold_meta(session, result)
        pages = self._pages(session, result)
        actions = [_action_row(session, action) for action in result.actions]
        session.click_count += sum(a.kind in ("click", "dblclick") for a in result.actions)
        errors = [(error, _error_row(session, error)) for error in result.errors]
        session.error_count += len(errors)
        frustrations = [_frustration_row(session, signal) for signal in result.frustrations]
        for signal in result.frustrations:
            counter = FRUSTRATION_COUNTERS[signal.kind]
            setattr(session, counter, getattr(session, counter) + 1)
        rekey = None
        if not identified and session.error_count and (session.user_id or session.user_email):
            rekey = user_key(session)
        return Rows(pages, actions, errors, frustrations, rekey)

    @staticmethod
    def _fold_meta(session: SessionRow, result: BatchResult) -> None:
        if result.viewport:
            session.viewport_width, session.viewport_height = result.viewport
        if result.user:
            session.user_id = session.user_id or _text(result.user.get("id"))
            email = _text(result.user.get("email"))
            session.user_email = session.user_email or (email.lower() if email else None)
            session.user_name = session.user_name or _text(result.user.get("name"))

    @staticmethod
    def _pages(session: SessionRow, result: BatchResult) -> list[dict[str, Any]]:
        views = []
        for page in result.pages:
            url = page.url[:MAX_URL]
            views.append({"session_id": session.id, "t": page.t, "url": url,
                          "title": page.title[:500]})
            session.first_url = session.first_url or url
            session.last_url = url
        session.page_count += len(views)
        return views

    def _write_rows(self, tx: Connection, session: SessionRow, rows: Rows) -> None:
        """One executemany a table; URL and error group ids resolved through the IdCache."""
        if rows.pages:
            for view in rows.pages:
                view["url_id"] = self.ids.url(tx, view["url"])
            execute_rows(tx, INSERT_PAGE_VIEW, rows.pages)
            insert_ignore_many(tx, SessionUrl, [
                {"url_id": view["url_id"], "session_id": session.id,
                 "started_at": session.started_at} for view in rows.pages])
        execute_rows(tx, INSERT_ACTION, rows.actions)
        for error, row in rows.errors:
            row["group_id"] = self.ids.error_group(tx, session.app_id, error)
        execute_rows(tx, INSERT_ERROR, [row for _, row in rows.errors])
        execute_rows(tx, INSERT_FRUSTRATION, rows.frustrations)
        if rows.rekey is not None:
            # A session identified after its first errors: count those errors under the user.
            tx.execute(update(ErrorEvent)
                       .where(ErrorEvent.session_id == session.id,
                              ErrorEvent.user_key == session.id)
                       .values(user_key=rows.rekey))


class StaleSession(Exception):
    """The session row changed (or went) between the read and the write of a transaction."""


class KeyedLocks:
    """One asyncio lock per key, alive while held or awaited: keeps two batches of the same
    session from reading the same row while batches of other sessions run side by side."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class IngestStats:
    """Counts batches for a periodic info line: a rendered line per batch is CPU spent on
    the ingest path for every request (the per-batch line is debug level)."""

    def __init__(self, every_s: float = 60.0) -> None:
        self.every_s = every_s
        self.batches = self.events = self.bytes = 0
        self.since = time.monotonic()

    def add(self, events: int, size: int) -> None:
        self.batches += 1
        self.events += events
        self.bytes += size
        now = time.monotonic()
        if now - self.since >= self.every_s:
            log.info("ingest.summary", batches=self.batches, events=self.events,
                     bytes=self.bytes, seconds=round(now - self.since, 1))
            self.batches = self.events = self.bytes = 0
            self.since = now


def _index_or_refuse(state: IndexState, batch: Batch, *, conservative: bool) -> BatchResult:
    """Index (and scrub) the batch; an event whose inner shape the indexer cannot read
    refuses the whole batch with a 422 rather than a 500."""
    try:
        return process_batch(state, batch.events, conservative=conservative)
    except (AttributeError, TypeError, KeyError, ValueError, IndexError, RecursionError) as error:
        log.warning("ingest.unreadable_event", session_id=batch.session_id, seq=batch.seq,
                    error=f"{type(error).__name__}: {error}")
        raise IngestRefused(422, "Invalid event",
                            f"an event has a shape rrweb does not produce: {error}") from error


class RowCache:
    """Session rows as this process last committed them, so a session's next batch needs no
    read (on SQLite). A row changed since by someone else (a close by another process) fails
    the checked UPDATE in _write_session: the batch is retried with a fresh read."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._rows: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def get(self, session_id: str) -> dict[str, Any] | None:
        return self._rows.get(session_id)

    def put(self, session_id: str, row: dict[str, Any]) -> None:
        self._rows[session_id] = row
        self._rows.move_to_end(session_id)
        while len(self._rows) > self.size:
            self._rows.popitem(last=False)

    def drop(self, session_id: str) -> None:
        self._rows.pop(session_id, None)


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
        self._entries: OrderedDict[str, tuple[tuple[int, bool], IndexedState]] = OrderedDict()

    def take(self, session_id: str, version: tuple[int, bool]) -> IndexedState | None:
        """The state if it is exactly at `version`: (indexed seq, session still open).

        A close by another process leaves the seq unchanged but judges the pending clicks,
        so the open flag is part of the version.
        """
        entry = self._entries.pop(session_id, None)
        return entry[1] if entry is not None and entry[0] == version else None

    def put(self, session_id: str, version: tuple[int, bool], state: IndexedState) -> None:
        self._entries[session_id] = (version, state)
        self._entries.move_to_end(session_id)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


class IdCache:
    """Ids of URLs and error groups already in the database (they are never deleted)."""

    def __init__(self, size: int = 50_000) -> None:
        self.size = size
        self._urls: dict[str, int] = {}
        self._groups: dict[tuple[str, str], tuple[int, int, int]] = {}

    def url(self, tx: Connection, url: str) -> int:
        url_id = self._urls.get(url)
        if url_id is None:
            url_id = ensure_url(tx, url)
            self._remember(self._urls, url, url_id)
        return url_id

    def error_group(self, tx: Connection, app_id: str, error: ErrorRecord) -> int:
        """The group id; first/last seen are updated only when this error widens them."""
        known = self._groups.get((app_id, error.fingerprint))
        if known is not None and known[1] <= error.t <= known[2]:
            return known[0]
        group_id = ensure_error_group(tx, app_id, error)
        first, last = (known[1], known[2]) if known else (error.t, error.t)
        self._remember(self._groups, (app_id, error.fingerprint),
                       (group_id, min(first, error.t), max(last, error.t)))
        return group_id

    def clear(self) -> None:
        """Forget everything: called when a transaction that may have cached ids rolls back."""
        self._urls.clear()
        self._groups.clear()

    def _remember(self, table: dict[Any, Any], key: Any, value: Any) -> None:
        if len(table) >= self.size:
            table.clear()
        table[key] = value


def _write_session(tx: Connection, session: SessionRow, row: dict[str, Any]) -> None:
    """INSERT a new session, else UPDATE only the columns that differ from the row read.

    On SQLite the row was read without a lock (Database.grouped), and a cached row (RowCache)
    was not read at all, so the UPDATE also checks that the row still has the segment_count,
    indexed_seq and needs_close read; if not, StaleSession.
    """
    values = session.values()
    if not row:
        execute_rows(tx, INSERT_SESSION, [values])
        return
    changed = {name: value for name, value in values.items() if value != row[name]}
    if not changed:
        return
    changed.update(old_id=session.id, old_segment_count=row["segment_count"],
                   old_indexed_seq=row["indexed_seq"], old_needs_close=row["needs_close"])
    if execute_rows(tx, UPDATE_SESSION, [changed]) != 1:
        raise StaleSession(session.id)


def _read_checkpoint(session_id: str, indexed_seq: int, tx: Connection
                     ) -> tuple[tuple[int, bytes] | None, list[tuple[int, Stored]]]:
    """The session's checkpoint (seq, state) and the (seq, events) of its indexed segments
    that may follow it, to replay after a restart or a cache eviction."""
    checkpoint = tx.execute(select(IndexCheckpoint.seq, IndexCheckpoint.state)
                            .where(IndexCheckpoint.session_id == session_id)).first()
    since = checkpoint[0] if checkpoint is not None else -1
    segments = tx.execute(select(Segment.seq, Segment.blob_key, Segment.staged)
                          .where(Segment.session_id == session_id, Segment.seq > since,
                                 Segment.seq <= indexed_seq)
                          .order_by(Segment.seq)).all()  # type: ignore[arg-type]
    return ((int(checkpoint[0]), bytes(checkpoint[1])) if checkpoint is not None else None,
            [(int(seq), Stored.of_row(key, staged)) for seq, key, staged in segments])


def _action_row(session: SessionRow, action: Any) -> dict[str, Any]:
    return {"session_id": session.id, "t": action.t, "kind": action.kind,
            "selector": action.selector[:500], "tag": action.tag[:50],
            "element_id": action.element_id[:200], "classes": action.classes[:500],
            "text": action.text[:200], "url": action.url[:MAX_URL]}


def _error_row(session: SessionRow, error: ErrorRecord) -> dict[str, Any]:
    """An error_events row without its group_id (resolved when written)."""
    return {"session_id": session.id, "t": error.t, "user_key": user_key(session),
            "type": error.type[:200], "message": error.message[:4000],
            "stack": error.stack[:16000], "url": error.url[:MAX_URL], "source": error.source}


def _frustration_row(session: SessionRow, signal: Any) -> dict[str, Any]:
    return {"session_id": session.id, "t": signal.t, "kind": signal.kind,
            "selector": signal.selector[:500], "url": signal.url[:MAX_URL],
            "clicks": signal.clicks, "error_fingerprint": signal.error_fingerprint}


def user_key(session: ReplaySession | SessionRow) -> str:
    """What "distinct users" counts: the user id, else the email, else the session."""
    return session.user_id or session.user_email or session.id


def _text(value: Any) -> str | None:
    return str(value)[:320] if value else None
