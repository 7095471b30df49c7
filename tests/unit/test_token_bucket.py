"""Pacing: a token bucket per account, paused by a vendor's Retry-After."""

from __future__ import annotations

from replayhub.outbox.pacing import SAFETY, Pacer, TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def test_requests_are_spread_at_the_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(600, clock.time, clock.sleep)
    for _ in range(100 + int(bucket.burst)):
        await bucket.take()
    expected = 100 / (600 * SAFETY / 60)
    assert abs((clock.now - 1000.0) - expected) < 0.01


async def test_a_pause_holds_every_request_until_it_ends() -> None:
    clock = Clock()
    bucket = TokenBucket(6000, clock.time, clock.sleep)
    await bucket.take()
    bucket.pause(30)
    await bucket.take()
    assert clock.now >= 1030.0


async def test_each_account_has_its_own_bucket() -> None:
    pacer = Pacer(Clock().time)
    assert pacer.bucket("zendesk", "a", 400) is pacer.bucket("zendesk", "a", 400)
    assert pacer.bucket("zendesk", "a", 400) is not pacer.bucket("zendesk", "b", 400)


async def test_at_most_the_limit_goes_out_in_any_minute() -> None:
    clock = Clock()
    bucket = TokenBucket(1200, clock.time, clock.sleep)
    sent = []
    while clock.now < 1000.0 + 180:
        await bucket.take()
        sent.append(clock.now)
    for index, start in enumerate(sent):
        inside = [t for t in sent[index:] if t < start + 60]
        assert len(inside) <= 1200
