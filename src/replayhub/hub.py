"""The running hub's parts, built once from the settings and shared by every request."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import structlog

from replayhub.blobs import BlobStore, blob_store
from replayhub.config import Settings
from replayhub.connector import Connector
from replayhub.db.engine import Database
from replayhub.db.migrate import upgrade
from replayhub.ingest.store import Ingestor
from replayhub.outbox.dispatcher import Dispatcher
from replayhub.registry import build_connectors
from replayhub.replay.snapshot import SnapshotRenderer
from replayhub.security import TokenCache, ensure_admin_token
from replayhub.signing import load_secret_key

log = structlog.get_logger(__name__)


@dataclass
class Hub:
    settings: Settings
    db: Database
    blobs: BlobStore
    ingestor: Ingestor
    tokens: TokenCache = field(default_factory=TokenCache)
    secret_key: bytes = b""
    """Signs login cookies and share links (see replayhub.signing)."""
    connectors: dict[str, Connector] = field(default_factory=dict)
    """The enabled connectors by name, each with its HTTP client (see replayhub.registry)."""
    dispatcher: Dispatcher = field(init=False, repr=False)
    """Sends the outbox (see replayhub.outbox)."""

    _snapshots: SnapshotRenderer | None = field(default=None, init=False, repr=False)

    @property
    def snapshots(self) -> SnapshotRenderer:
        """The snapshot renderer, created on first use (Chromium starts on the first render)."""
        if self._snapshots is None:
            self._snapshots = SnapshotRenderer(self.settings.snapshots)
        return self._snapshots

    def __post_init__(self) -> None:
        from replayhub.ticket_notes import note_snapshot

        async def snapshot(session_id: str, t: int) -> bytes | None:
            return await note_snapshot(self, session_id, t)

        from replayhub.mail import EMAIL, mail_connector

        mailer = mail_connector(self.settings.smtp, self.blobs)
        if mailer is not None and EMAIL not in self.connectors:
            self.connectors[EMAIL] = mailer
        self.dispatcher = Dispatcher(self.db, self.connectors, self.settings.outbox, snapshot,
                                     hub=self)

    @classmethod
    def from_settings(cls, settings: Settings) -> Hub:
        db = Database.from_settings(settings)
        blobs = blob_store(settings.blobs, settings.data_path)
        secret_key = load_secret_key(settings.secret_key, settings.data_path)
        return cls(settings, db, blobs, Ingestor(db, blobs), secret_key=secret_key,
                   connectors=build_connectors(settings))

    async def start(self) -> None:
        """Migrate the database, apply the config's people and teams, bootstrap the admin token."""
        from replayhub.people import seed_directory

        await upgrade(self.db)
        await seed_directory(self)
        if self.settings.admin_token:
            await ensure_admin_token(self.db, self.settings.admin_token)

    async def close_sessions_forever(self, every_seconds: float = 10.0) -> None:
        """Background loop of the serving process: close sessions that went quiet."""
        quiet_ms = self.settings.session_quiet_seconds * 1000
        while True:
            try:
                closed = await self.ingestor.close_quiet_sessions(quiet_ms)
                if closed:
                    log.info("sessions.closed", count=closed)
            except Exception:
                log.exception("sessions.close_failed")
            await asyncio.sleep(every_seconds)

    async def stop(self) -> None:
        for connector in self.connectors.values():
            await connector.close()
        if self._snapshots is not None:
            await self._snapshots.close()
        await self.db.dispose()


@contextlib.asynccontextmanager
async def background(coroutine: object) -> object:
    """Run a coroutine as a task for the duration of the block, cancelled at the end."""
    task = asyncio.create_task(coroutine)  # type: ignore[arg-type]
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
