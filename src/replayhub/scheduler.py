"""The scheduler: APScheduler interval jobs, run by one leader among the hub processes.

Every process runs an AsyncIOScheduler with the same jobs; each job first checks that its
process holds the `scheduler` lease row, renewed every `lease_seconds / 3`. When the
leader dies its lease runs out and another process takes it over, so work resumes within
a minute; a leader that merely stalled stops running jobs once its lease ran out by its own
clock, before it learns that it lost it. The lease only saves duplicate work: schedules are
claimed with a compare-and-set (replayhub.schedules), so even two leaders at once never run
one occurrence twice.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import or_, select, update

from replayhub.clock import now_ms
from replayhub.db.models import Lease, Schedule, ScheduleRun, TickStatus
from replayhub.db.upsert import insert_ignore
from replayhub.schedules import ENDED, process_name, run_due_schedules
from replayhub.ticks import TICKS, Tick

if TYPE_CHECKING:
    from replayhub.hub import Hub

log = structlog.get_logger(__name__)
LEADER = "scheduler"
SCHEDULES = Tick("schedules", 30, "replayhub.schedules:run_due_schedules")


async def hold_lease(hub: Hub, name: str, owner: str, now: int, seconds: float) -> bool:
    """Take or renew the lease; False while another process holds an unexpired one."""
    expires = now + int(seconds * 1000)
    async with hub.db.write() as tx:
        renewed = await tx.execute(
            update(Lease).where(Lease.name == name,
                                or_(Lease.owner == owner, Lease.expires_at < now))
            .values(owner=owner, expires_at=expires))
        if renewed.rowcount == 1:  # type: ignore[attr-defined]
            return True
        return await insert_ignore(tx, Lease, name=name, owner=owner, expires_at=expires)


async def release_lease(hub: Hub, name: str, owner: str) -> None:
    async with hub.db.write() as tx:
        await tx.execute(update(Lease).where(Lease.name == name, Lease.owner == owner)
                         .values(expires_at=0))


def resolve(target: str) -> Callable[..., Awaitable[Any]]:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


async def run_tick(hub: Hub, tick: Tick, owner: str) -> str:
    """Run one tick and record its outcome in tick_status (never raises)."""
    started = now_ms()
    try:
        result = f"ok: {await resolve(tick.target)(hub)}"
    except Exception as error:
        log.exception("scheduler.tick_failed", tick=tick.name)
        result = f"failed: {type(error).__name__}: {error}"[:500]
    values = {"owner": owner, "started_at": started, "finished_at": now_ms(), "result": result}
    async with hub.db.write() as tx:
        await tx.execute(update(TickStatus).where(TickStatus.name == tick.name).values(**values))
        await insert_ignore(tx, TickStatus, name=tick.name, **values)
    return result


class Scheduler:
    """The interval jobs of one hub process; only the lease holder's jobs do anything."""

    def __init__(self, hub: Hub, owner: str | None = None) -> None:
        self.hub = hub
        self.owner = owner or process_name()
        self.settings = hub.settings.scheduler
        self.leader = False
        self.lease_until = 0
        """When this process's lease ends, by its own clock: past it, it no longer leads
        even if it could not tell (a stalled process must not run ticks a successor runs)."""
        self._aps: AsyncIOScheduler | None = None

    def ticks(self) -> list[Tick]:
        return [SCHEDULES, *TICKS]

    async def check_lease(self, now: int | None = None) -> bool:
        now = now_ms() if now is None else now
        was = self.leader
        try:
            self.leader = await hold_lease(self.hub, LEADER, self.owner, now,
                                           self.settings.lease_seconds)
        except Exception:
            log.exception("scheduler.lease_failed")
            self.leader = False
        self.lease_until = now + int(self.settings.lease_seconds * 1000) if self.leader else 0
        if self.leader != was:
            log.info("scheduler.leader" if self.leader else "scheduler.follower",
                     owner=self.owner)
        return self.leader

    def leads(self, now: int | None = None) -> bool:
        """Whether this process holds an unexpired lease at `now`."""
        return self.leader and (now_ms() if now is None else now) < self.lease_until

    async def tick(self, tick: Tick, now: int | None = None) -> str | None:
        """Run `tick` if this process leads at `now` (None: it does not)."""
        if not self.leads(now):
            return None
        return await run_tick(self.hub, tick, self.owner)

    def start(self) -> None:
        aps = AsyncIOScheduler(timezone=UTC)
        start = datetime.now(UTC)
        aps.add_job(self.check_lease, IntervalTrigger(seconds=self.settings.lease_seconds / 3),
                    next_run_time=start, max_instances=1, coalesce=True)
        for tick in self.ticks():
            # First run soon after the lease check (a second, or sooner for a quicker tick).
            first = start + timedelta(seconds=min(1.0, tick.seconds))
            aps.add_job(self.tick, IntervalTrigger(seconds=tick.seconds), args=[tick],
                        id=tick.name, next_run_time=first, max_instances=1, coalesce=True)
        aps.start()
        self._aps = aps

    async def stop(self) -> None:
        if self._aps is not None:
            self._aps.shutdown(wait=False)
            self._aps = None
        if self.leader:
            await release_lease(self.hub, LEADER, self.owner)
            self.leader, self.lease_until = False, 0


def _when(ms: int | None) -> str:
    if not ms:
        return "-"
    if ms >= ENDED:
        return "ended"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


async def jobs_overview(hub: Hub, now: int | None = None) -> list[str]:
    """Printable lines: the leader, each tick's last run, each schedule's next and last run."""
    now = now_ms() if now is None else now
    async with hub.db.read() as tx:
        lease = await tx.get(Lease, LEADER)
        ticks = {row.name: row for row in (await tx.execute(select(TickStatus))).scalars()}
        schedules = list((await tx.execute(select(Schedule).order_by(Schedule.next_run_at)))
                         .scalars())
        last = await _last_runs(tx, [schedule.id for schedule in schedules])
    leader = (f"leader: {lease.owner} (lease until {_when(lease.expires_at)})"
              if lease and lease.expires_at > now else "leader: none (no hub process leads)")
    lines = [leader, "", "TICK             EVERY    LAST RUN                 RESULT"]
    for tick in [SCHEDULES, *TICKS]:
        status = ticks.get(tick.name)
        lines.append(f"{tick.name:<16} {int(tick.seconds):>5}s   "
                     f"{_when(status.finished_at if status else None):<24} "
                     f"{status.result if status else 'never run'}")
    lines += ["", "SCHEDULE              KIND     RULE                            "
              "NEXT RUN                 LAST RUN"]
    for schedule in schedules:
        run = last.get(schedule.id)
        state = ("ended" if schedule.next_run_at >= ENDED
                 else "paused" if schedule.paused else _when(schedule.next_run_at))
        lines.append(f"{schedule.id:<21} {schedule.kind:<8} "
                     f"{(schedule.rule + ' ' + schedule.timezone)[:31]:<31} {state:<24} "
                     f"{_when(run.fire_time) + ' ' + run.status if run else '-'}")
    if not schedules:
        lines.append("(no schedules: reports and digests add them)")
    return lines


async def _last_runs(tx: Any, schedule_ids: list[str]) -> dict[str, ScheduleRun]:
    if not schedule_ids:
        return {}
    query = (select(ScheduleRun).where(ScheduleRun.schedule_id.in_(schedule_ids))  # type: ignore[attr-defined]
             .order_by(ScheduleRun.fire_time))
    return {run.schedule_id: run for run in (await tx.execute(query)).scalars()}


__all__ = ["Scheduler", "hold_lease", "jobs_overview", "process_name", "release_lease",
           "run_due_schedules", "run_tick"]
