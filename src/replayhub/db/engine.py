"""Database engine: SQLite in WAL mode by default, PostgreSQL for several hub processes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine

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


def _begin_immediate(connection: Connection) -> None:
    """Take the write lock at the start, so a transaction never fails to upgrade mid-way."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")


T = TypeVar("T")
Work = Callable[[Connection], T]


class WriteTx(Protocol):
    """One write transaction whose steps are plain synchronous functions of a Connection.

    The same step functions run on both databases: a whole step costs one thread hop on
    SQLite (instead of one per statement), and is driven through asyncpg on PostgreSQL.
    """

    async def run(self, work: Work[T]) -> T: ...


class _PostgresTx:
    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection

    async def run(self, work: Work[T]) -> T:
        return await self.connection.run_sync(work)


class _SqliteWriter:
    """The one thread that owns SQLite's write connection: sqlite3 calls need no hop each."""

    def __init__(self, url: str) -> None:
        sync_url = make_url(url).set(drivername="sqlite+pysqlite")
        self.engine: Engine = create_engine(sync_url)
        event.listen(self.engine, "connect", _sqlite_pragmas)
        event.listen(self.engine, "connect", _sqlite_autocommit)
        event.listen(self.engine, "begin", _begin_immediate)
        self.thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.thread, function, *args)

    def dispose(self) -> None:
        self.engine.dispose()


class _SqliteTx:
    """A transaction on the writer thread's connection, opened by its first step."""

    def __init__(self, writer: _SqliteWriter) -> None:
        self.writer = writer
        self.connection: Connection | None = None

    async def run(self, work: Work[T]) -> T:
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
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as connection:
            yield connection

    async def dispose(self) -> None:
        if self._writer is not None:
            await self._writer.call(self._writer.dispose)
        await self.engine.dispose()
