"""The running hub's parts, built once from the settings and shared by every request."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import structlog

from replayhub.blobs import BlobStore, LocalBlobStore
from replayhub.config import Settings
from replayhub.db.engine import Database
from replayhub.db.migrate import upgrade
from replayhub.ingest.store import Ingestor
from replayhub.security import TokenCache, ensure_admin_token

log = structlog.get_logger(__name__)


@dataclass
class Hub:
    settings: Settings
    db: Database
    blobs: BlobStore
    ingestor: Ingestor
    tokens: TokenCache = field(default_factory=TokenCache)

    @classmethod
    def from_settings(cls, settings: Settings) -> Hub:
        db = Database.from_settings(settings)
        blobs = LocalBlobStore(settings.data_path / "blobs")
        return cls(settings, db, blobs, Ingestor(db, blobs))

    async def start(self) -> None:
        """Migrate the database and bootstrap the admin token."""
        await upgrade(self.db)
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
