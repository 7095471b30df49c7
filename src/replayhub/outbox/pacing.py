"""Token buckets that keep each (connector, account) under its vendor's rate limit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

EPSILON = 1e-6
"""Rounding slack: a token 0.9999999 full is full (else the wait rounds to nothing forever)."""
SAFETY = 0.98
"""Pace a little under the limit, so clock skew and network jitter never provoke a 429."""


class TokenBucket:
    """`per_minute` tokens a minute, at most `burst` saved up; a 429 pauses the whole bucket."""

    def __init__(self, per_minute: int, clock: Clock = time.monotonic,
                 sleep: Sleep = asyncio.sleep, burst: float | None = None) -> None:
        self.rate = max(per_minute, 1) * SAFETY / 60.0
        self.burst = burst if burst is not None else max(1.0, per_minute * (1 - SAFETY) / 2)
        """Tokens saved up while idle: in any minute at most burst + 98% of the limit go out."""
        self.clock = clock
        self.sleep = sleep
        self.tokens = self.burst
        self.updated = clock()
        self.paused_until = 0.0

    def _refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    async def take(self) -> None:
        """Wait until a request may be sent, then spend a token on it."""
        while True:
            now = self.clock()
            if now < self.paused_until:
                await self.sleep(self.paused_until - now)
                continue
            self._refill(now)
            if self.tokens >= 1.0 - EPSILON:
                self.tokens = max(self.tokens - 1.0, 0.0)
                return
            await self.sleep((1.0 - self.tokens) / self.rate)

    def pause(self, seconds: float) -> None:
        """The vendor said to wait (Retry-After): nothing goes out until then."""
        now = self.clock()
        self.paused_until = max(self.paused_until, now + seconds)
        self._refill(now)
        self.tokens = 0.0


class Pacer:
    """One bucket per (connector, account), made on first use; and one per narrower pacing
    key inside an account (a Slack channel takes about one message a second)."""

    def __init__(self, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        self.clock = clock
        self.sleep = sleep
        self.buckets: dict[tuple[str, ...], TokenBucket] = {}

    def bucket(self, connector: str, account: str, per_minute: int,
               key: str = "") -> TokenBucket:
        """The account's bucket, or with `key` the bucket of that key in the account."""
        name = (connector, account, key) if key else (connector, account)
        if name not in self.buckets:
            burst = 1.0 if key else None
            self.buckets[name] = TokenBucket(per_minute, self.clock, self.sleep, burst=burst)
        return self.buckets[name]
