"""Recurring jobs kept in the hub's own tables: when they fire, who runs each occurrence.

A schedule is an RRULE (`FREQ=WEEKLY;BYDAY=MO;BYHOUR=9`) or a cron line (`0 9 * * 1`) read
in an IANA timezone, so a 09:00 report stays at 09:00 local time across DST changes. A
process runs an occurrence only after moving the schedule's `next_run_at` forward with a
compare-and-set, and every run is a row keyed by (schedule, fire time): two processes, a
restart or a retry never run one occurrence twice. Occurrences missed while the hub was
down are coalesced into one run, the latest.

A run row names the process running it and holds a lease that process renews while the run
lasts. If the process dies mid-run, the lease runs out and the next scheduler tick (in any
process) runs the occurrence again under the same run id, so deliveries keyed by run id are
not sent twice; after MAX_ATTEMPTS interrupted tries the run is marked failed.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
import structlog
from croniter import croniter
from dateutil.rrule import DAILY, HOURLY, MINUTELY, SECONDLY, WEEKLY, rrule, rruleset, rrulestr
from sqlalchemy import select, update

from replayhub.clock import now_ms
from replayhub.db.models import Schedule, ScheduleRun
from replayhub.db.upsert import insert_ignore

if TYPE_CHECKING:
    from replayhub.hub import Hub

log = structlog.get_logger(__name__)
ENDED = 2**62
"""`next_run_at` of a schedule whose rule has no occurrence left (COUNT or UNTIL reached)."""
RUN_LEASE_MS = 5 * 60_000
"""How long a run stays claimed without a renewal; renewed every third of it while it runs."""
MAX_ATTEMPTS = 3
"""Tries of one run interrupted by its process dying before it is marked failed."""
STEPS = {DAILY: timedelta(days=1), WEEKLY: timedelta(weeks=1), HOURLY: timedelta(hours=1),
         MINUTELY: timedelta(minutes=1), SECONDLY: timedelta(seconds=1)}
"""The period of each fixed-length RRULE frequency (MONTHLY and YEARLY vary)."""
LOOKBACK = timedelta(days=1)
"""How far back the latest due occurrence is looked for first (then from the last run on)."""


class Kind(NamedTuple):
    """What a schedule of one kind runs: `async def run(hub, schedule, run) -> list[str]`
    returning what it delivered (or raising), and optionally `async def paused(hub, schedule)`
    to tell the owner that the schedule was paused after repeated failures."""

    run: str
    paused: str = ""


KINDS: dict[str, Kind] = {}
"""Schedule kinds by name; a feature adds its entry: "report": Kind("replayhub.reports:run")."""


class RuleError(ValueError):
    """A schedule rule or timezone that cannot be used; the message names the fix."""


class Skipped(Exception):
    """Raised by a run that decided to send nothing (an empty report): recorded as skipped."""


def is_cron(rule: str) -> bool:
    return len(rule.split()) in (5, 6) and "=" not in rule


def zone_of(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise RuleError(f"unknown timezone {timezone!r} (use an IANA name such as "
                        f"Europe/Paris)") from None


def _local(ms: int, zone: ZoneInfo) -> datetime:
    """Wall-clock time in the zone, without tzinfo (rules are read in local time)."""
    return datetime.fromtimestamp(ms / 1000, zone).replace(tzinfo=None)


def _epoch_ms(local: datetime, zone: ZoneInfo) -> int:
    return int(local.replace(tzinfo=zone).timestamp() * 1000)


@lru_cache(maxsize=512)
def _parsed(rule: str, dtstart: datetime) -> rrule | rruleset:
    """The parsed RRULE (parsing and default fields cost more than one step of a walk)."""
    return rrulestr(rule.removeprefix("RRULE:"), dtstart=dtstart)  # type: ignore[no-any-return]


def _recurrence_near(rule: str, anchor: datetime, target: datetime) -> rrule | rruleset:
    """The rule started at `anchor`'s midnight, restarted at the last whole number of
    intervals before `target`: the same occurrences from there on, without walking each one
    since the anchor. Restarting keeps the weekday, day and time of the start (the fields
    an RRULE defaults to) and the INTERVAL's phase; COUNT counts from the start, so a rule
    with COUNT (or a set of rules) is walked from the anchor."""
    dtstart = anchor.replace(hour=0, minute=0, second=0, microsecond=0)
    full = _parsed(rule, dtstart)
    if not isinstance(full, rrule) or full._count is not None or target <= dtstart:
        return full
    unit = STEPS.get(full._freq)
    if unit is None:  # MONTHLY, YEARLY: a dozen periods a year, cheap to walk
        return full
    step = unit * full._interval
    return _parsed(rule, dtstart + step * ((target - dtstart) // step))


def _next_local(rule: str, after: datetime, anchor: datetime) -> datetime | None:
    if is_cron(rule):
        return croniter(rule, after).get_next(datetime)  # type: ignore[no-any-return]
    return _recurrence_near(rule, anchor, after).after(after)  # type: ignore[no-any-return]


def _latest_local(rule: str, until: datetime, since: datetime,
                  anchor: datetime) -> datetime | None:
    """The last occurrence at or before `until` (wall clock); None when it is before `since`.

    An RRULE is first read from a day before `until` (or `since` when later), then from
    `since`: a rule firing at least daily never walks more than a day of occurrences.
    """
    found: datetime | None
    if is_cron(rule):
        found = croniter(rule, until + timedelta(microseconds=1)).get_prev(datetime)
    else:
        found = None
        for start in (max(since, until - LOOKBACK), since):
            found = _recurrence_near(rule, anchor, start).before(until, inc=True)
            if found is not None:
                break
    return found if found is not None and found >= since else None


def next_fire(rule: str, timezone: str, after_ms: int, anchor_ms: int = 0) -> int | None:
    """The first occurrence strictly after `after_ms` (epoch ms), None when the rule ends.

    A local time that does not exist (skipped by a DST change) fires at the same moment
    one hour later in wall-clock terms; a repeated local time fires once, the first time.
    """
    zone = zone_of(timezone)
    after, anchor = _local(after_ms, zone), _local(anchor_ms or after_ms, zone)
    local = _next_local(rule, after, anchor)
    while local is not None and _epoch_ms(local, zone) <= after_ms:
        local = _next_local(rule, local, anchor)
    return None if local is None else _epoch_ms(local, zone)


def latest_fire(rule: str, timezone: str, now_ms: int, since_ms: int,
                anchor_ms: int = 0) -> int | None:
    """The last occurrence at or before `now_ms` and not before `since_ms` (epoch ms), found
    directly rather than by stepping through every occurrence in between; None if none."""
    zone = zone_of(timezone)
    until, since = _local(now_ms, zone), _local(since_ms, zone)
    anchor = _local(anchor_ms or since_ms, zone)
    local = _latest_local(rule, until, since, anchor)
    while local is not None and _epoch_ms(local, zone) > now_ms:  # a skipped local time
        local = _latest_local(rule, local - timedelta(microseconds=1), since, anchor)
    return None if local is None else _epoch_ms(local, zone)


def process_name() -> str:
    """This process as named in leases and run claims (host:pid)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def validate_rule(rule: str, timezone: str, now: int | None = None) -> int:
    """The rule's next occurrence from now; RuleError naming the fix when it is unusable."""
    if not rule.strip():
        raise RuleError("the schedule is empty (an RRULE such as FREQ=WEEKLY;BYDAY=MO;BYHOUR=9 "
                        "or a cron line such as 0 9 * * 1)")
    now = now_ms() if now is None else now
    try:
        fire = next_fire(rule, timezone, now, now)
    except RuleError:
        raise
    except (ValueError, KeyError, TypeError) as error:
        raise RuleError(f"schedule {rule!r} is neither an RRULE nor a cron line: "
                        f"{error}") from None
    if fire is None:
        raise RuleError(f"schedule {rule!r} has no occurrence after now")
    return fire


def period_ms(rule: str, timezone: str, at_ms: int, anchor_ms: int = 0) -> int:
    """The time between the occurrence at/after `at_ms` and the next one (a report's period)."""
    first = next_fire(rule, timezone, at_ms - 1, anchor_ms) or at_ms
    second = next_fire(rule, timezone, first, anchor_ms)
    return (second - first) if second else int(timedelta(days=1).total_seconds() * 1000)


async def save_schedule(hub: Hub, *, kind: str, target_id: str, rule: str,
                        timezone: str) -> Schedule:
    """Create or replace the schedule of `target_id` (its next run starts from now)."""
    now = now_ms()
    next_run = validate_rule(rule, timezone, now)
    async with hub.db.write() as tx:
        found = (await tx.execute(select(Schedule).where(
            Schedule.kind == kind, Schedule.target_id == target_id))).scalar_one_or_none()
        if found is None:
            found = Schedule(id=f"sch_{secrets.token_hex(8)}", kind=kind, target_id=target_id,
                             rule=rule, timezone=timezone, anchor_at=now,
                             next_run_at=next_run, created_at=now)
            tx.add(found)
        else:
            found.rule, found.timezone, found.next_run_at = rule, timezone, next_run
            found.anchor_at, found.paused, found.failures = now, False, 0
    return found


def coalesce(schedule: Schedule, now: int) -> tuple[int, int | None]:
    """(the latest due occurrence, the one after it): missed ones run once, not N times."""
    fire = schedule.next_run_at
    latest = latest_fire(schedule.rule, schedule.timezone, now, fire, schedule.anchor_at)
    if latest is not None and latest > fire:
        fire = latest
    return fire, next_fire(schedule.rule, schedule.timezone, fire, schedule.anchor_at)


async def claim(hub: Hub, schedule: Schedule, now: int,
                owner: str | None = None) -> ScheduleRun | None:
    """Move the schedule forward and record its run, leased to `owner` (this process), or
    None when another process did."""
    fire, following = await asyncio.to_thread(coalesce, schedule, now)
    run = ScheduleRun(id=f"run_{secrets.token_hex(8)}", schedule_id=schedule.id,
                      fire_time=fire, status="running", started_at=now,
                      claimed_by=owner or process_name(), lease_until=now + RUN_LEASE_MS)
    async with hub.db.write() as tx:
        moved = await tx.execute(
            update(Schedule)
            .where(Schedule.id == schedule.id, Schedule.next_run_at == schedule.next_run_at,
                   Schedule.paused.is_(False))  # type: ignore[attr-defined]
            .values(next_run_at=following if following is not None else ENDED,
                    last_run_at=fire))
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            return None
        if not await insert_ignore(tx, ScheduleRun, **run.model_dump()):
            return None
    return run


async def due_schedules(hub: Hub, now: int, limit: int = 50) -> list[Schedule]:
    query = (select(Schedule).where(Schedule.paused.is_(False),  # type: ignore[attr-defined]
                                    Schedule.next_run_at <= now)
             .order_by(Schedule.next_run_at).limit(limit))
    async with hub.db.read() as tx:
        return list((await tx.execute(query)).scalars())


async def stuck_runs(hub: Hub, now: int, limit: int = 20) -> list[ScheduleRun]:
    """Runs still "running" whose lease ran out: the process running them stopped."""
    query = (select(ScheduleRun).where(ScheduleRun.status == "running",
                                       ScheduleRun.lease_until < now)
             .order_by(ScheduleRun.lease_until).limit(limit))  # type: ignore[arg-type]
    async with hub.db.read() as tx:
        return list((await tx.execute(query)).scalars())


async def take_over(hub: Hub, run: ScheduleRun, now: int, owner: str) -> bool:
    """Lease a stuck run to `owner` (compare-and-set: one process wins) and count the try."""
    async with hub.db.write() as tx:
        taken = await tx.execute(update(ScheduleRun).where(
            ScheduleRun.id == run.id, ScheduleRun.status == "running",
            ScheduleRun.claimed_by == run.claimed_by,
            ScheduleRun.lease_until == run.lease_until,
        ).values(claimed_by=owner, lease_until=now + RUN_LEASE_MS, attempts=run.attempts + 1))
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            return False
    log.warning("schedule.run_taken_over", run=run.id, schedule=run.schedule_id,
                previous=run.claimed_by, attempt=run.attempts + 1)
    run.claimed_by, run.lease_until, run.attempts = owner, now + RUN_LEASE_MS, run.attempts + 1
    return True


async def resume(hub: Hub, run: ScheduleRun, now: Callable[[], int], owner: str) -> bool:
    """Run a stuck run again under its own id (deliveries keyed by run id are not repeated),
    or mark it failed once MAX_ATTEMPTS tries were interrupted; whether it ran here."""
    if not await take_over(hub, run, now(), owner):
        return False
    async with hub.db.read() as tx:
        schedule = await tx.get(Schedule, run.schedule_id)
    if schedule is None:  # deleted meanwhile: nothing to run it with
        async with hub.db.write() as tx:
            await tx.execute(update(ScheduleRun).where(ScheduleRun.id == run.id).values(
                status="failed", finished_at=now(), error="its schedule was deleted"))
        return False
    if run.attempts <= MAX_ATTEMPTS:
        await execute(hub, schedule, run, now)
        return True
    run.status, run.finished_at = "failed", now()
    run.error = (f"the run was interrupted {MAX_ATTEMPTS} times (the hub process running it "
                 f"stopped before it finished): not tried again")
    await _record(hub, schedule, run)
    return False


def _resolve(target: str) -> Callable[..., Awaitable[Any]]:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


async def execute(hub: Hub, schedule: Schedule, run: ScheduleRun,
                  now: Callable[[], int] = now_ms) -> ScheduleRun:
    """Run one claimed occurrence, renewing its lease meanwhile, and record how it went
    (never raises, except when cancelled: then the run stays leased and is resumed)."""
    stop = asyncio.Event()
    renewal = asyncio.create_task(_renew(hub, run, now, stop))
    try:
        await _run_kind(hub, schedule, run)
    finally:
        stop.set()
        await renewal
    run.finished_at = now()
    await _record(hub, schedule, run)
    return run


async def _run_kind(hub: Hub, schedule: Schedule, run: ScheduleRun) -> None:
    kind = KINDS.get(schedule.kind)
    try:
        if kind is None:
            raise LookupError(f"no schedule kind {schedule.kind!r} is installed")
        delivered = await _resolve(kind.run)(hub, schedule, run)
        run.status, run.delivered = "succeeded", msgspec.json.encode(delivered).decode()
    except Skipped as reason:
        run.status, run.delivered = "skipped", msgspec.json.encode([str(reason)]).decode()
    except Exception as error:
        log.exception("schedule.run_failed", schedule=schedule.id, kind=schedule.kind)
        run.status, run.error = "failed", f"{type(error).__name__}: {error}"[:2000]


async def _renew(hub: Hub, run: ScheduleRun, now: Callable[[], int], stop: asyncio.Event) -> None:
    """Extend the run's lease every third of it until `stop` is set (the run ended)."""
    while True:
        try:
            await asyncio.wait_for(stop.wait(), timeout=RUN_LEASE_MS / 3000)
            return
        except TimeoutError:
            pass
        try:
            async with hub.db.write() as tx:
                kept = await tx.execute(update(ScheduleRun).where(
                    ScheduleRun.id == run.id, ScheduleRun.status == "running",
                    ScheduleRun.claimed_by == run.claimed_by,
                ).values(lease_until=now() + RUN_LEASE_MS))
        except Exception:
            log.exception("schedule.lease_renewal_failed", run=run.id)
            continue
        if kept.rowcount != 1:  # type: ignore[attr-defined]
            log.warning("schedule.run_lost", run=run.id, owner=run.claimed_by)
            return


async def _record(hub: Hub, schedule: Schedule, run: ScheduleRun) -> None:
    """Store the run's outcome unless another process took the run over meanwhile."""
    failed = run.status == "failed"
    limit = hub.settings.scheduler.pause_after_failures
    async with hub.db.write() as tx:
        recorded = await tx.execute(update(ScheduleRun).where(
            ScheduleRun.id == run.id, ScheduleRun.status == "running",
            ScheduleRun.claimed_by == run.claimed_by,
        ).values(status=run.status, finished_at=run.finished_at, error=run.error,
                 delivered=run.delivered))
        if recorded.rowcount != 1:  # type: ignore[attr-defined]
            log.warning("schedule.run_lost", run=run.id, owner=run.claimed_by)
            return
        current = await tx.get(Schedule, schedule.id)
        if current is None:
            return
        current.failures = current.failures + 1 if failed else 0
        pause = failed and limit > 0 and current.failures >= limit
        current.paused = current.paused or pause
    if pause:
        log.warning("schedule.paused", schedule=schedule.id, failures=current.failures)
        kind = KINDS.get(schedule.kind)
        if kind and kind.paused:
            await _resolve(kind.paused)(hub, current)


def _clock(start: int | None) -> Callable[[], int]:
    """Epoch ms now; counted from `start` when one is given (a test's clock)."""
    if start is None:
        return now_ms
    began = time.monotonic()
    return lambda: start + int((time.monotonic() - began) * 1000)


async def run_due_schedules(hub: Hub, now: int | None = None, owner: str | None = None) -> int:
    """A scheduler tick: run again every run whose process died mid-way, then claim and run
    every due occurrence; how many ran here."""
    clock, owner = _clock(now), owner or process_name()
    ran = 0
    for stuck in await stuck_runs(hub, clock()):
        ran += await resume(hub, stuck, clock, owner)
    for schedule in await due_schedules(hub, clock()):
        run = await claim(hub, schedule, clock(), owner)
        if run is not None:
            await execute(hub, schedule, run, clock)
            ran += 1
    return ran


async def run_now(hub: Hub, schedule: Schedule) -> ScheduleRun:
    """An extra run at this moment (send now), recorded like any other occurrence."""
    now = now_ms()
    run = ScheduleRun(id=f"run_{secrets.token_hex(8)}", schedule_id=schedule.id,
                      fire_time=now, status="running", started_at=now,
                      claimed_by=process_name(), lease_until=now + RUN_LEASE_MS)
    async with hub.db.write() as tx:
        tx.add(run)
    return await execute(hub, schedule, run)


async def list_runs(hub: Hub, schedule_id: str, limit: int = 50) -> list[ScheduleRun]:
    query = (select(ScheduleRun).where(ScheduleRun.schedule_id == schedule_id)
             .order_by(ScheduleRun.fire_time.desc()).limit(limit))  # type: ignore[attr-defined]
    async with hub.db.read() as tx:
        return list((await tx.execute(query)).scalars())
