"""Database engine: SQLite in WAL mode by default, PostgreSQL for several hub processes."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, NamedTuple, Protocol, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.sql import Executable
from sqlalchemy.sql.dml import Insert

from replayhub.config import ConfigError, Settings


def async_url(database_url: str, data_dir: Path) -> str:
    """Turn a plain URL (or nothing) into one with an async driver."""
    if not database_url:
        return f"sqlite+aiosqlite:///{(data_dir / 'replayhub.db').resolve()}"
    url = make_url(database_url)
    drivers = {"postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg",
               "sqlite": "sqlite+aiosqlite"}
    if url.drivername in drivers:
        url = url.set(drivername=drivers[url.drivername])
    if url.drivername not in {"postgresql+asyncpg", "sqlite+aiosqlite"}:
        raise ConfigError(
            f"database_url: unsupported database {url.drivername!r}; "
            "use postgresql://user@host:port/db or sqlite:///path"
        )
    return url.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


def _sqlite_autocommit(dbapi_connection: Any, _record: Any) -> None:
    """Let SQLAlchemy's begin event issue BEGIN itself (the driver's implicit one is too late)."""
    dbapi_connection.isolation_level = None


def _begin(statement: str) -> Callable[[Connection], None]:
    """A transaction opener that sends `statement` straight to sqlite3 (through
    SQLAlchemy's execution it cost as much as a write step)."""
    def begin(connection: Connection) -> None:
        driver = connection.connection.driver_connection
        assert driver is not None
        driver.execute(statement)
    return begin


_begin_immediate = _begin("BEGIN IMMEDIATE")
"""Take the write lock at the start, so a transaction never fails to upgrade mid-way."""
_begin_deferred = _begin("BEGIN")
"""A read transaction: its SELECTs see one snapshot and never take the write lock."""


def _sync_engine(url: str, begin: Callable[[Connection], None]) -> Engine:
    engine = create_engine(make_url(url).set(drivername="sqlite+pysqlite"))
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "connect", _sqlite_autocommit)
    event.listen(engine, "begin", begin)
    return engine


T = TypeVar("T")
Work = Callable[[Connection], T]


_SQLITE_SQL: dict[tuple[Executable, tuple[str, ...], int], tuple[str, tuple[str, ...]]] = {}
ROWS_PER_INSERT = 64
"""Most rows one multi-row INSERT carries on SQLite (64 rows x 10 columns stay far below
SQLite's limit of 999 parameters a statement)."""


def execute_rows(tx: Connection, statement: Executable, rows: list[dict[str, Any]]) -> int:
    """Run `statement` for every row; the number of rows it changed.

    On SQLite the statement is compiled once and run on the driver's own connection, and an
    INSERT takes up to ROWS_PER_INSERT rows a statement: sqlite3 lets go of the GIL for each
    statement it steps, and getting it back from a busy event loop can take a few ms each
    time. Every parameter must come from the rows (no Python-side defaults), and every row
    must have the same keys. Elsewhere it is a plain `tx.execute`.
    """
    if not rows:
        return 0
    if tx.dialect.name != "sqlite":
        result = tx.execute(statement, rows[0] if len(rows) == 1 else rows)
        return int(result.rowcount)  # type: ignore[attr-defined]
    driver = tx.connection.driver_connection
    assert driver is not None
    keys = tuple(rows[0])
    if not isinstance(statement, Insert):
        sql, names = _sqlite_sql(tx, statement, keys, 1)
        params = [[row[name] for name in names] for row in rows]
        return int(driver.executemany(sql, params).rowcount)
    changed = 0
    while rows:
        # a power of two: a table needs at most 7 distinct statements (1, 2, 4 ... 64 rows)
        size = min(ROWS_PER_INSERT, 1 << (len(rows).bit_length() - 1))
        sql, names = _sqlite_sql(tx, statement, keys, size)
        chunk, rows = rows[:size], rows[size:]
        changed += driver.execute(sql, [row[name] for row in chunk for name in names]).rowcount
    return changed


def _sqlite_sql(tx: Connection, statement: Executable, keys: tuple[str, ...], rows: int
                ) -> tuple[str, tuple[str, ...]]:
    """The SQL text of `statement` for `rows` rows with `keys` (rows > 1: an INSERT with that
    many VALUES groups), and the row keys of one row's `?`s, in order."""
    known = _SQLITE_SQL.get((statement, keys, rows))
    if known is None:
        compiled = statement.compile(dialect=tx.dialect,  # type: ignore[attr-defined]
                                     column_keys=list(keys))
        names = tuple(compiled.positiontup or ())
        missing = set(names) - set(keys)
        if missing:
            raise ValueError(f"statement parameters without a value in the rows: {missing}")
        sql = compiled.string
        if rows > 1:
            group = "(" + ", ".join("?" * len(names)) + ")"
            if sql.count(group) != 1:
                raise ValueError(f"cannot repeat the VALUES of {sql!r}")
            sql = sql.replace(group, ", ".join([group] * rows))
        known = _SQLITE_SQL[(statement, keys, rows)] = (sql, names)
    return known


MAX_GROUP = 256
"""Most write steps committed together: bounds the latency one group adds to its callers."""


class WriteTx(Protocol):
    """One write transaction whose steps are plain synchronous functions of a Connection.

    The same step functions run on both databases: a whole step costs one thread hop on
    SQLite (instead of one per statement), and is driven through asyncpg on PostgreSQL.
    """

    async def run(self, work: Work[T]) -> T: ...

    async def finish(self, work: Work[T]) -> T:
        """The last step, which writes; in a grouped() transaction it returns committed."""
        ...


class _PostgresTx:
    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection

    async def run(self, work: Work[T]) -> T:
        return await self.connection.run_sync(work)

    async def finish(self, work: Work[T]) -> T:
        return await self.connection.run_sync(work)


class _SqliteWriter:
    """The one thread that owns SQLite's write connection: sqlite3 calls need no hop each."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = _sync_engine(url, _begin_immediate)
        self.thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self.rollback_hooks: list[Callable[[], None]] = []
        self._connection: Connection | None = None

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.thread, function, *args)

    def dispose(self) -> None:
        self._drop_connection()
        self.engine.dispose()

    def _group_connection(self) -> Connection:
        """The connection group commits run on, kept open between groups (a checkout and a
        check-in per group cost the writer thread more than the group's statements)."""
        if self._connection is None:
            self._connection = self.engine.connect()
        return self._connection

    def _drop_connection(self) -> None:
        """After a failed transaction: roll back and start the next group on a fresh one."""
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.rollback()
            with contextlib.suppress(Exception):
                connection.close()

    def run_group(self, works: list[Work[Any]]) -> list[Outcome]:
        """Run write steps in one transaction with one commit (one WAL fsync for all).

        Each step runs in a savepoint, so a failing step leaves nothing behind and the others
        still commit; if the transaction itself fails (the commit, or a savepoint that cannot
        be rolled back), every step is run again alone in its own transaction.
        """
        if len(works) > 1:
            try:
                return self._together(works)
            except Exception:
                self.rolled_back()
        return [self._alone(work) for work in works]

    def _together(self, works: list[Work[Any]]) -> list[Outcome]:
        connection = self._group_connection()
        try:
            connection.begin()
            outcomes = [self._in_savepoint(connection, work) for work in works]
            connection.commit()
        except BaseException:
            self._drop_connection()
            raise
        return outcomes

    def _in_savepoint(self, connection: Connection, work: Work[Any]) -> Outcome:
        """Savepoints go straight to sqlite3: through SQLAlchemy they cost as much as a step."""
        driver = connection.connection.driver_connection
        assert driver is not None
        driver.execute("SAVEPOINT step")
        try:
            value = work(connection)
        except Exception as error:
            driver.execute("ROLLBACK TO step")  # raises when the whole transaction is lost:
            driver.execute("RELEASE step")  # then every step runs alone
            self.rolled_back()
            return Outcome(None, error)
        driver.execute("RELEASE step")
        return Outcome(value, None)

    def _alone(self, work: Work[Any]) -> Outcome:
        connection = self._group_connection()
        try:
            connection.begin()
            value = work(connection)
            connection.commit()
        except Exception as error:
            self._drop_connection()
            self.rolled_back()
            return Outcome(None, error)
        except BaseException:
            self._drop_connection()
            raise
        return Outcome(value, None)

    def rolled_back(self) -> None:
        """Tell caches filled by a rolled-back step (ids of rows that are gone) to forget."""
        for hook in self.rollback_hooks:
            hook()


class Outcome(NamedTuple):
    """What one write step of a group returned, or the error it raised."""

    value: Any
    error: Exception | None


class _SqliteReader:
    """Threads with their own connections for the read steps of grouped() transactions."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = _sync_engine(url, _begin_deferred)
        self.thread = ThreadPoolExecutor(2, thread_name_prefix="sqlite-reader")

    async def run(self, work: Work[T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.thread, self._read, work)

    def _read(self, work: Work[T]) -> T:
        with self.engine.connect() as connection, connection.begin():
            return work(connection)

    def dispose(self) -> None:
        self.engine.dispose()
        self.thread.shutdown(wait=False)


DRAIN_GROUPS = 64
"""Most groups the writer thread commits in a row before it lets a transaction() in."""

Pending = tuple[Work[Any], asyncio.Future[Any]]


class _GroupCommitter:
    """Queues the last steps of grouped() transactions and commits all waiting ones at once.

    With synchronous=FULL every commit waits for a WAL fsync; batches that arrive while one
    commit runs share the next one instead of each waiting for its own. The writer thread
    takes the next group itself as soon as a commit is done, and tells the event loop each
    group's outcomes on the way: a hand-over between the two threads waits for the GIL, and
    took as long as the commit when every group needed two.
    """

    def __init__(self, writer: _SqliteWriter, lock: asyncio.Lock) -> None:
        self.writer = writer
        self.lock = lock
        self.pending: deque[Pending] = deque()
        """Appended to on the event loop, taken from on the writer thread."""
        self.task: asyncio.Task[None] | None = None

    async def submit(self, work: Work[T]) -> T:
        """Commit `work`; returns after the commit. A cancelled caller still waits for it,
        so whatever it guards (a per-session lock) is not released before its write lands."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self.pending.append((work, future))
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._flush())
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            await asyncio.wait([future])
            raise

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        while self.pending:
            async with self.lock:
                await self.writer.call(self._drain, loop)

    def _drain(self, loop: asyncio.AbstractEventLoop) -> None:
        """On the writer thread: commit groups until none waits (or DRAIN_GROUPS ran)."""
        for _ in range(DRAIN_GROUPS):
            group = self._take(MAX_GROUP)
            if not group:
                return
            try:
                outcomes = self.writer.run_group([work for work, _ in group])
            except BaseException as error:
                group.extend(self._take(len(self.pending)))
                loop.call_soon_threadsafe(_fail, group, error)
                raise
            loop.call_soon_threadsafe(_settle, group, outcomes)

    def _take(self, most: int) -> list[Pending]:
        group: list[Pending] = []
        while self.pending and len(group) < most:
            group.append(self.pending.popleft())
        return group


def _settle(group: list[Pending], outcomes: list[Outcome]) -> None:
    for (_, future), outcome in zip(group, outcomes, strict=True):
        if future.done():
            continue
        if outcome.error is not None:
            future.set_exception(outcome.error)
        else:
            future.set_result(outcome.value)


def _fail(group: list[Pending], error: BaseException) -> None:
    for _, future in group:
        if not future.done():
            future.set_exception(error if isinstance(error, Exception)
                                 else RuntimeError("the group commit was interrupted"))


class _GroupedTx:
    """A transaction whose reads run at once and whose write joins the next group commit.

    Nothing is locked between the reads and the write: callers serialize work on the same
    rows themselves and check in the write that what they read is unchanged.
    """

    def __init__(self, reader: _SqliteReader, committer: _GroupCommitter) -> None:
        self.reader = reader
        self.committer = committer

    async def run(self, work: Work[T]) -> T:
        return await self.reader.run(work)

    async def finish(self, work: Work[T]) -> T:
        return await self.committer.submit(work)


class _SqliteTx:
    """A transaction on the writer thread's connection, opened by its first step."""

    def __init__(self, writer: _SqliteWriter) -> None:
        self.writer = writer
        self.connection: Connection | None = None

    async def run(self, work: Work[T]) -> T:
        return await self.writer.call(self._step, work)

    async def finish(self, work: Work[T]) -> T:
        return await self.writer.call(self._step, work)

    def _step(self, work: Work[T]) -> T:
        if self.connection is None:
            self.connection = self.writer.engine.connect()
            self.connection.begin()
        return work(self.connection)

    async def end(self, commit: bool) -> None:
        if self.connection is not None:
            await self.writer.call(self._end, self.connection, commit)

    @staticmethod
    def _end(connection: Connection, commit: bool) -> None:
        try:
            if commit:
                connection.commit()
            else:
                connection.rollback()
        finally:
            connection.close()


class Database:
    """The engine, a session factory, and a write lock that keeps SQLite to one writer."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        options: dict[str, Any] = {"pool_pre_ping": True}
        if not self.is_sqlite:
            options.update(pool_size=10, max_overflow=10)
        self.engine: AsyncEngine = create_async_engine(url, **options)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        self._writer = _SqliteWriter(url) if self.is_sqlite else None
        self._reader = _SqliteReader(url) if self.is_sqlite else None
        self._committer = (_GroupCommitter(self._writer, self._write_lock)
                           if self._writer is not None and self._write_lock is not None
                           else None)

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        settings.data_path.mkdir(parents=True, exist_ok=True)
        return cls(async_url(settings.database_url, settings.data_path))

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with AsyncSession(self.engine, expire_on_commit=False) as session:
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """One transaction, committed on success and rolled back on any error."""
        if self._write_lock is None:
            async with (
                AsyncSession(self.engine, expire_on_commit=False) as session,
                session.begin(),
            ):
                yield session
            return
        async with (
            self._write_lock,
            AsyncSession(self.engine, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[WriteTx]:
        """Like write(), for code written as synchronous steps (see WriteTx)."""
        if self._writer is None or self._write_lock is None:
            async with self.engine.connect() as connection, connection.begin():
                yield _PostgresTx(connection)
            return
        async with self._write_lock:
            tx = _SqliteTx(self._writer)
            try:
                yield tx
            except BaseException:
                await tx.end(commit=False)
                raise
            await tx.end(commit=True)

    @asynccontextmanager
    async def grouped(self) -> AsyncIterator[WriteTx]:
        """A transaction for many concurrent writers of different rows (ingest).

        On PostgreSQL it is transaction(): the caller's reads lock rows (FOR UPDATE). On
        SQLite its reads run on reader connections without the write lock and its last step
        (finish) is committed together with the other writers' waiting last steps. The
        caller must keep two transactions on the same rows apart (a lock of its own) and
        check in its last step that the rows it read are unchanged.
        """
        if self._reader is None or self._committer is None:
            async with self.transaction() as tx:
                yield tx
            return
        yield _GroupedTx(self._reader, self._committer)

    def on_rollback(self, hook: Callable[[], None]) -> None:
        """Call `hook` on the writer thread whenever a grouped write step is rolled back."""
        if self._writer is not None:
            self._writer.rollback_hooks.append(hook)

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as connection:
            yield connection

    async def dispose(self) -> None:
        if self._writer is not None:
            await self._writer.call(self._writer.dispose)
        if self._reader is not None:
            self._reader.dispose()
        await self.engine.dispose()
