"""The dispatcher: claims due deliveries, sends them through their connector, paces, retries."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from typing import Any

import structlog
from tenacity import RetryCallState, wait_random_exponential

from replayhub.config import OutboxSettings
from replayhub.connector import Connector, VendorError
from replayhub.db.engine import Database
from replayhub.db.models import Delivery
from replayhub.outbox import store
from replayhub.outbox.actions import ACTIONS, Attempt, SnapshotFn
from replayhub.outbox.pacing import Clock, Pacer, Sleep, TokenBucket

log = structlog.get_logger(__name__)


async def no_snapshot(_session_id: str, _t: int) -> bytes | None:
    return None


def backoff_seconds(attempts: int, settings: OutboxSettings) -> float:
    """Exponential backoff with full jitter (tenacity's wait), capped."""
    wait = wait_random_exponential(multiplier=settings.backoff_initial_seconds,
                                   max=settings.backoff_max_seconds)
    state = RetryCallState(None, None, (), {})  # type: ignore[arg-type]
    state.attempt_number = max(attempts, 1)
    return max(float(wait(state)), settings.backoff_initial_seconds / 2)


class Dispatcher:
    """Sends the outbox. Clock and sleep are injected so tests never wait for real."""

    def __init__(self, db: Database, connectors: dict[str, Connector], settings: OutboxSettings,
                 snapshot: SnapshotFn = no_snapshot, clock: Clock = time.time,
                 sleep: Sleep = asyncio.sleep, hub: Any = None) -> None:
        self.db = db
        self.hub = hub
        """The running hub, handed to actions that read people and teams."""
        self.connectors = connectors
        self.settings = settings
        self.snapshot = snapshot
        self.clock = clock
        self.sleep = sleep
        self.owner = f"{secrets.token_hex(6)}"
        self.pacer = Pacer(clock, sleep)
        self._wake: asyncio.Event | None = None

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def notify(self) -> None:
        """A delivery was enqueued in this process: look at once instead of at the next poll."""
        if self._wake is not None:
            self._wake.set()

    async def run_once(self, limit: int | None = None) -> int:
        """Claim what is due now and attempt it all; the number attempted."""
        claimed = await store.claim_due(self.db, self.owner, self.now_ms(),
                                        self.settings.lease_seconds * 1000,
                                        limit or self.settings.concurrency)
        await asyncio.gather(*(self.attempt(delivery) for delivery in claimed))
        return len(claimed)

    async def run_until_idle(self, rounds: int = 100) -> int:
        """Attempt deliveries until none is due (tests move the clock between calls)."""
        total = 0
        for _ in range(rounds):
            done = await self.run_once()
            if not done:
                break
            total += done
        return total

    async def run_forever(self) -> None:
        """Keep up to `concurrency` deliveries in flight; sleep until woken or the next poll."""
        self._wake = asyncio.Event()
        running: set[asyncio.Task[None]] = set()
        try:
            while True:
                free = self.settings.concurrency - len(running)
                if free > 0:
                    for delivery in await self._claim(free):
                        running.add(asyncio.create_task(self.attempt(delivery)))
                await self._wait(running)
                running = {task for task in running if not task.done()}
        finally:
            for task in running:
                task.cancel()

    async def _claim(self, limit: int) -> list[Delivery]:
        try:
            return await store.claim_due(self.db, self.owner, self.now_ms(),
                                         self.settings.lease_seconds * 1000, limit)
        except Exception:
            log.exception("outbox.claim_failed")
            return []

    async def _wait(self, running: set[asyncio.Task[None]]) -> None:
        assert self._wake is not None
        waker = asyncio.create_task(self._wake.wait())
        try:
            await asyncio.wait({waker, *running}, timeout=self.settings.poll_seconds,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            waker.cancel()
        self._wake.clear()

    async def attempt(self, delivery: Delivery) -> None:
        """One try at one delivery; its row says what happened."""
        progress = json.loads(delivery.progress or "{}")
        try:
            await self._attempt(delivery, progress)
        except store.LeaseLost:
            log.warning("outbox.lease_lost", delivery=delivery.id)
        except Exception as error:
            log.exception("outbox.attempt_crashed", delivery=delivery.id)
            crash = VendorError(f"{type(error).__name__}: {error}", retryable=True)
            with contextlib.suppress(store.LeaseLost):
                await self._after_error(delivery, progress, crash)

    async def _attempt(self, delivery: Delivery, progress: dict[str, object]) -> None:
        connector = self.connectors.get(delivery.connector)
        action = ACTIONS.get(delivery.action)
        if connector is None or action is None:
            reason = (f"connector {delivery.connector!r} is not enabled" if connector is None
                      else f"unknown action {delivery.action!r}")
            await store.mark_failed(self.db, delivery.id, self.owner, reason, progress,
                                    self.now_ms())
            return
        if delivery.attempts > self.settings.max_attempts:
            await store.mark_failed(self.db, delivery.id, self.owner, delivery.last_error
                                    or "out of attempts", progress, self.now_ms())
            return
        try:
            external_id = await action(self._make_attempt(delivery, connector, progress))
        except VendorError as error:
            if error.retry_after:
                self._bucket(connector, error.pace_key).pause(error.retry_after)
            await self._after_error(delivery, progress, error)
            return
        await store.mark_sent(self.db, delivery.id, self.owner, external_id, progress,
                              self.now_ms())
        log.info("outbox.sent", delivery=delivery.id, connector=delivery.connector,
                 action=delivery.action, attempts=delivery.attempts)

    def _bucket(self, connector: Connector, key: str = "", per_minute: int = 0) -> TokenBucket:
        return self.pacer.bucket(connector.name, connector.account,
                                 per_minute or connector.rate_limit_per_minute, key)

    async def pace_key(self, connector: Connector, key: str, per_minute: int) -> None:
        """Wait for a turn under a narrower limit (one channel), then under the account's."""
        await self._bucket(connector, key, per_minute).take()
        await self._bucket(connector).take()

    async def pace(self, connector: Connector) -> None:
        """Wait for a turn under the connector's rate limit (reads made outside the outbox)."""
        await self._bucket(connector).take()

    def _make_attempt(self, delivery: Delivery, connector: Connector,
                      progress: dict[str, object]) -> Attempt:
        lease_ms = self.settings.lease_seconds * 1000

        async def save() -> None:
            await store.save_progress(self.db, delivery.id, self.owner, progress,
                                      self.now_ms(), lease_ms)

        async def pace_key(key: str, per_minute: int) -> None:
            await self.pace_key(connector, key, per_minute)

        return Attempt(delivery.id, connector, json.loads(delivery.payload), progress,
                       pace=self._bucket(connector).take, save=save, snapshot=self.snapshot,
                       now=self.clock, db=self.db, pace_key=pace_key, hub=self.hub)

    async def _after_error(self, delivery: Delivery, progress: dict[str, object],
                           error: VendorError) -> None:
        message = str(error)
        now = self.now_ms()
        if not error.retryable or delivery.attempts >= self.settings.max_attempts:
            await store.mark_failed(self.db, delivery.id, self.owner, message, progress, now)
            log.warning("outbox.failed", delivery=delivery.id, error=message,
                        attempts=delivery.attempts)
            return
        wait = (error.retry_after if error.retry_after is not None
                else backoff_seconds(delivery.attempts, self.settings))
        await store.mark_retry(self.db, delivery.id, self.owner, message, progress,
                               now + int(wait * 1000), now)
        log.info("outbox.retry", delivery=delivery.id, error=message, wait_seconds=wait,
                 attempts=delivery.attempts)
