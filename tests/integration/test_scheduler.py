"""The scheduler: one leader by lease, occurrences claimed once, runs recorded, retention."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from replayhub.cli import main
from replayhub.config import Settings
from replayhub.db.models import (
    Comment,
    PurgedSession,
    ReplaySession,
    Schedule,
    ScheduleRun,
    Segment,
    TickStatus,
)
from replayhub.hub import Hub
from replayhub.retention import retention_tick
from replayhub.scheduler import Scheduler, hold_lease, jobs_overview, run_tick
from replayhub.schedules import (
    ENDED,
    KINDS,
    MAX_ATTEMPTS,
    RUN_LEASE_MS,
    Kind,
    Skipped,
    run_due_schedules,
    run_now,
    save_schedule,
)
from replayhub.ticks import Tick
from tests.helpers import make_app, move_staged, send, tiny_batch

REAL_START = Scheduler.start
HOUR = 3_600_000
DAY = 24 * HOUR
RUNS: list[tuple[str, int]] = []
PAUSED: list[str] = []
OUTCOME: dict[str, str] = {}
STARTED: list[str] = []
RELEASE = asyncio.Event()
BUSY = asyncio.Event()
COUNTED: list[int] = []


async def record_run(hub: Hub, schedule: Schedule, run: ScheduleRun) -> list[str]:
    """A schedule kind for the tests: remembers each run, or fails/skips/hangs on demand."""
    STARTED.append(run.id)
    BUSY.set()
    if OUTCOME.get(schedule.target_id) == "hang":
        await RELEASE.wait()  # until the test releases it, or cancels it (the process dies)
    await asyncio.sleep(0.01)
    RUNS.append((schedule.target_id, run.fire_time))
    if OUTCOME.get(schedule.target_id) == "fail":
        raise RuntimeError("the mail server refused the report")
    if OUTCOME.get(schedule.target_id) == "skip":
        raise Skipped("nothing happened this period")
    return [f"delivered {schedule.target_id}"]


async def record_pause(hub: Hub, schedule: Schedule) -> None:
    PAUSED.append(schedule.target_id)


async def counted_tick(hub: Hub) -> int:
    COUNTED.append(1)
    return len(COUNTED)


@pytest.fixture(autouse=True)
def test_kind() -> Any:
    KINDS["test"] = Kind(f"{__name__}:record_run", f"{__name__}:record_pause")
    RUNS.clear(), PAUSED.clear(), OUTCOME.clear(), STARTED.clear(), COUNTED.clear()
    global RELEASE, BUSY
    RELEASE, BUSY = asyncio.Event(), asyncio.Event()
    yield
    KINDS.pop("test")


async def hourly(hub: Hub, target: str) -> Schedule:
    schedule = await save_schedule(hub, kind="test", target_id=target, rule="0 * * * *",
                                   timezone="UTC")
    return schedule


async def test_two_processes_run_each_occurrence_once(client: AsyncTestClient[Any],
                                                      settings: Settings) -> None:
    hub: Hub = client.hub  # type: ignore[attr-defined]
    other = Hub.from_settings(settings)
    try:
        schedule = await hourly(hub, "weekly-errors")
        due = schedule.next_run_at + 60_000
        ran = await asyncio.gather(run_due_schedules(hub, due), run_due_schedules(other, due),
                                   run_due_schedules(hub, due), run_due_schedules(other, due))
        assert sum(ran) == 1
        assert [("weekly-errors", schedule.next_run_at)] == RUNS
        assert await run_due_schedules(other, due) == 0
    finally:
        await other.stop()
    async with hub.db.read() as tx:
        runs = list((await tx.execute(select(ScheduleRun))).scalars())
        stored = await tx.get(Schedule, schedule.id)
    assert [(run.status, run.delivered) for run in runs] == [
        ("succeeded", '["delivered weekly-errors"]')]
    assert stored is not None and stored.next_run_at == schedule.next_run_at + HOUR


async def test_downtime_runs_the_missed_occurrences_once(client: AsyncTestClient[Any]) -> None:
    hub: Hub = client.hub  # type: ignore[attr-defined]
    schedule = await hourly(hub, "hourly")
    ten_hours_later = schedule.next_run_at + 10 * HOUR + 5 * 60_000
    assert await run_due_schedules(hub, ten_hours_later) == 1
    assert [("hourly", schedule.next_run_at + 10 * HOUR)] == RUNS
    assert await run_due_schedules(hub, ten_hours_later) == 0


async def test_failing_schedule_pauses_and_tells_the_owner(client: AsyncTestClient[Any]) -> None:
    hub: Hub = client.hub  # type: ignore[attr-defined]
    schedule = await hourly(hub, "broken")
    OUTCOME["broken"] = "fail"
    now = schedule.next_run_at
    for _ in range(4):
        await run_due_schedules(hub, now)
        now += HOUR
    async with hub.db.read() as tx:
        stored = await tx.get(Schedule, schedule.id)
        statuses = list((await tx.execute(select(ScheduleRun.status, ScheduleRun.error)
                                          .order_by(ScheduleRun.fire_time))).all())
    assert stored is not None and stored.paused and stored.failures == 3
    assert len(RUNS) == 3 and PAUSED == ["broken"]
    assert statuses[0] == ("failed", "RuntimeError: the mail server refused the report")


async def test_skipped_and_manual_runs_are_recorded(client: AsyncTestClient[Any]) -> None:
    hub: Hub = client.hub  # type: ignore[attr-defined]
    schedule = await hourly(hub, "quiet")
    OUTCOME["quiet"] = "skip"
    await run_due_schedules(hub, schedule.next_run_at)
    OUTCOME.pop("quiet")
    manual = await run_now(hub, schedule)
    assert manual.status == "succeeded"
    async with hub.db.read() as tx:
        statuses = sorted((await tx.execute(select(ScheduleRun.status,
                                                   ScheduleRun.delivered))).all())
    assert statuses == [("skipped", '["nothing happened this period"]'),
                        ("succeeded", '["delivered quiet"]')]


async def run_row(hub: Hub, schedule: Schedule) -> list[ScheduleRun]:
    async with hub.db.read() as tx:
        return list((await tx.execute(select(ScheduleRun).where(
            ScheduleRun.schedule_id == schedule.id))).scalars())


async def die_mid_run(hub: Hub, now: int, owner: str) -> None:
    """Start a tick in `owner` and kill it while the run is under way (a process dying)."""
    BUSY.clear()
    task = asyncio.create_task(run_due_schedules(hub, now, owner=owner))
    await asyncio.wait_for(BUSY.wait(), timeout=10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_run_whose_process_died_is_finished_by_another(
        client: AsyncTestClient[Any], settings: Settings) -> None:
    hub: Hub = client.hub  # type: ignore[attr-defined]
    other = Hub.from_settings(settings)
    try:
        schedule = await hourly(hub, "crashy")
        fire = schedule.next_run_at
        OUTCOME["crashy"] = "hang"
        await die_mid_run(hub, fire, "process-a")
        [stuck] = await run_row(hub, schedule)
        assert (stuck.status, stuck.claimed_by, stuck.attempts) == ("running", "process-a", 1)
        OUTCOME.pop("crashy")
        # Within the lease, process-a might still be working: nobody else touches the run.
        assert await run_due_schedules(other, fire + RUN_LEASE_MS - 1_000, "process-b") == 0
        assert await run_due_schedules(other, fire + RUN_LEASE_MS + 1_000, "process-b") == 1
        assert await run_due_schedules(hub, fire + RUN_LEASE_MS + 2_000, "process-c") == 0
        assert await run_due_schedules(other, fire + 2 * RUN_LEASE_MS + 2_000, "process-b") == 0
    finally:
        await other.stop()
    [done] = await run_row(hub, schedule)
    assert [("crashy", fire)] == RUNS  # finished once, under the run's own id
    assert [stuck.id, stuck.id] == STARTED
    assert (done.id, done.status, done.claimed_by, done.attempts) == (
        stuck.id, "succeeded", "process-b", 2)
    assert done.delivered == '["delivered crashy"]'


async def test_a_run_interrupted_too_often_is_marked_failed(
        client: AsyncTestClient[Any]) -> None:
    hub: Hub = client.hub  # type: ignore[attr-defined]
    schedule = await hourly(hub, "doomed")
    OUTCOME["doomed"] = "hang"
    now = schedule.next_run_at
    for attempt in range(MAX_ATTEMPTS):
        await die_mid_run(hub, now, f"process-{attempt}")
        now += RUN_LEASE_MS + 1_000
    assert await run_due_schedules(hub, now, "process-last") == 0
    [run] = await run_row(hub, schedule)
    async with hub.db.read() as tx:
        stored = await tx.get(Schedule, schedule.id)
    assert len(STARTED) == MAX_ATTEMPTS and RUNS == []
    assert (run.status, run.attempts) == ("failed", MAX_ATTEMPTS + 1)
    assert f"interrupted {MAX_ATTEMPTS} times" in run.error
    assert stored is not None and stored.failures == 1


async def test_a_long_run_renews_its_lease(client: AsyncTestClient[Any],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    hub: Hub = client.hub  # type: ignore[attr-defined]
    monkeypatch.setattr("replayhub.schedules.RUN_LEASE_MS", 150)  # renewed every 50 ms
    schedule = await hourly(hub, "slow")
    fire = schedule.next_run_at
    OUTCOME["slow"] = "hang"
    task = asyncio.create_task(run_due_schedules(hub, fire, "process-a"))
    try:
        first = None
        async with asyncio.timeout(10):
            while True:
                rows = await run_row(hub, schedule)
                first = first or (rows[0].lease_until if rows else None)
                if first and rows[0].lease_until > first:
                    break
                await asyncio.sleep(0.01)
        # Past the first lease but not the renewed one: the run is not taken over.
        assert await run_due_schedules(hub, first + 1, "process-b") == 0
    finally:
        RELEASE.set()
        assert await task == 1
    [run] = await run_row(hub, schedule)
    assert (run.status, run.claimed_by, run.attempts) == ("succeeded", "process-a", 1)
    assert [("slow", fire)] == RUNS


async def test_a_finished_rule_shows_as_ended(client: AsyncTestClient[Any]) -> None:
    hub: Hub = client.hub  # type: ignore[attr-defined]
    schedule = await save_schedule(hub, kind="test", target_id="finite",
                                   rule="FREQ=HOURLY;COUNT=48", timezone="UTC")
    assert await run_due_schedules(hub, schedule.next_run_at + 3 * DAY) == 1
    async with hub.db.read() as tx:
        stored = await tx.get(Schedule, schedule.id)
    assert stored is not None and stored.next_run_at == ENDED
    last = schedule.anchor_at - schedule.anchor_at % DAY + 47 * HOUR
    assert [("finite", last)] == RUNS
    [line] = [line for line in await jobs_overview(hub) if line.startswith(schedule.id)]
    assert "ended" in line and "succeeded" in line
    assert await run_due_schedules(hub, schedule.next_run_at + 30 * DAY) == 0


async def test_one_leader_and_a_takeover_after_its_lease_runs_out(
        client: AsyncTestClient[Any]) -> None:
    hub: Hub = client.hub  # type: ignore[attr-defined]
    now = 1_800_000_000_000
    assert await hold_lease(hub, "scheduler", "process-a", now, 45)
    assert not await hold_lease(hub, "scheduler", "process-b", now + 1_000, 45)
    assert await hold_lease(hub, "scheduler", "process-a", now + 15_000, 45)  # renewed
    assert not await hold_lease(hub, "scheduler", "process-b", now + 59_000, 45)
    # process-a died after its renewal at +15 s: its lease ends at +60 s.
    assert await hold_lease(hub, "scheduler", "process-b", now + 60_001, 45)
    assert not await hold_lease(hub, "scheduler", "process-a", now + 61_000, 45)


async def test_only_the_leader_runs_ticks(client: AsyncTestClient[Any]) -> None:
    hub: Hub = client.hub  # type: ignore[attr-defined]
    leader, follower = Scheduler(hub, "process-a"), Scheduler(hub, "process-b")
    assert await leader.check_lease() and not await follower.check_lease()
    tick = Tick("retention", 3600, "replayhub.retention:retention_tick")
    assert await follower.tick(tick) is None
    assert await leader.tick(tick) == "ok: 0"
    lines = await jobs_overview(hub)
    assert lines[0].startswith("leader: process-a")
    assert any(line.startswith("retention") and "ok: 0" in line for line in lines)
    await leader.stop()
    assert await follower.check_lease()


async def test_a_killed_leader_is_replaced_within_a_minute(
        client: AsyncTestClient[Any]) -> None:
    """Two processes with the default 45 s lease, checking it every 15 s on their own clock:
    process-a leads, then dies; process-b takes over once a's lease ran out, and from then
    on only b's ticks run (a, had it merely stalled, runs nothing past its own lease)."""
    hub: Hub = client.hub  # type: ignore[attr-defined]
    a, b = Scheduler(hub, "process-a"), Scheduler(hub, "process-b")
    lease = int(hub.settings.scheduler.lease_seconds * 1000)
    every = lease // 3
    tick = Tick("counted", 60, f"{__name__}:counted_tick")
    start = 1_800_000_000_000
    assert await a.check_lease(start)
    assert not await b.check_lease(start + 5_000)
    assert await b.tick(tick, start + 5_000) is None
    assert await a.check_lease(start + every)
    assert await a.tick(tick, start + every) == "ok: 1"
    died = start + every + 1_000  # a renews no more and runs nothing
    now = start + 5_000
    while not await b.check_lease(now):
        assert await b.tick(tick, now) is None
        now += every
    assert start + every + lease < now and now - died < 60_000
    assert await a.tick(tick, now) is None  # past its lease by its own clock
    assert await b.tick(tick, now) == "ok: 2"
    assert not await a.check_lease(now + every)
    assert await b.check_lease(now + every)
    assert await a.tick(tick, now + every) is None
    assert await b.tick(tick, now + every) == "ok: 3"
    assert len(COUNTED) == 3
    lines = await jobs_overview(hub, now + every)
    assert lines[0].startswith("leader: process-b")
    async with hub.db.read() as tx:
        status = await tx.get(TickStatus, "counted")
    assert status is not None and (status.owner, status.result) == ("process-b", "ok: 3")


async def test_a_failing_tick_is_recorded_not_raised(client: AsyncTestClient[Any]) -> None:
    hub: Hub = client.hub  # type: ignore[attr-defined]
    result = await run_tick(hub, Tick("broken", 60, "replayhub.no_such_module:tick"), "me")
    assert result.startswith("failed: ModuleNotFoundError")


async def test_retention_purges_old_sessions_with_their_blobs(
        client: AsyncTestClient[Any]) -> None:
    hub: Hub = client.hub  # type: ignore[attr-defined]
    _, key = await make_app(client)
    now = 1_800_000_000_000
    old_start, new_start = now - 40 * DAY, now - 2 * DAY
    for session_id, start in (("sess-old-0000001", old_start), ("sess-old-0000002", old_start),
                              ("sess-new-0000001", new_start)):
        assert (await send(client, key, tiny_batch(session_id, 0, start))).status_code == 202
    share = await client.post("/api/v1/sessions/sess-old-0000001/share", json={})
    comment = await client.post("/api/v1/sessions/sess-old-0000001/comments",
                                json={"body": "checked"})
    assert comment.status_code == 201
    await move_staged(client)
    assert await retention_tick(hub, now, batch=1) == 2
    async with hub.db.read() as tx:
        left = list((await tx.execute(select(ReplaySession.id))).scalars())
        segments = (await tx.execute(select(func.count()).select_from(Segment))).scalar()
        purged = list((await tx.execute(select(PurgedSession.id))).scalars())
        comments = (await tx.execute(select(func.count()).select_from(Comment))).scalar()
    assert left == ["sess-new-0000001"] and segments == 1 and comments == 0
    assert sorted(purged) == ["sess-old-0000001", "sess-old-0000002"]
    folder = hub.blobs.root / "sessions" / "sess-old-0000001"  # type: ignore[attr-defined]
    assert not folder.exists(), sorted(str(p) for p in folder.rglob("*"))
    gone = await client.get("/api/v1/sessions/sess-old-0000001")
    assert gone.status_code == 410 and "retention" in gone.json()["detail"]
    page = await client.get(urlsplit(share.json()["url"]).path)
    assert page.status_code == 410 and "has been deleted" in page.text
    assert await retention_tick(hub, now) == 0


def test_jobs_command_lists_ticks_and_schedules(tmp_path: Any) -> None:
    result = CliRunner().invoke(main, ["jobs", "--data-dir", str(tmp_path / "var")])
    assert result.exit_code == 0, result.output
    assert "leader: none" in result.output
    assert "retention" in result.output and "no schedules" in result.output


async def test_the_scheduler_runs_its_ticks_on_timers(client: AsyncTestClient[Any],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The real APScheduler wiring, on tiny intervals: the lease job makes this process
    leader, then the tick's own timer runs it (everything else uses injected time)."""
    hub: Hub = client.hub  # type: ignore[attr-defined]
    hub.settings.scheduler.lease_seconds = 0.15
    ran = asyncio.Event()

    async def quick(self: Scheduler, tick: Tick, now: int | None = None) -> str | None:
        if self.leads() and tick.name == "retention":
            ran.set()
        return None

    monkeypatch.setattr(Scheduler, "start", REAL_START)
    monkeypatch.setattr(Scheduler, "tick", quick)
    monkeypatch.setattr("replayhub.scheduler.TICKS", [Tick("retention", 0.05, "x:y")])
    scheduler = Scheduler(hub, "timer-test")
    scheduler.start()
    try:
        await asyncio.wait_for(ran.wait(), timeout=10)
        assert scheduler.leader
    finally:
        await scheduler.stop()
    assert not scheduler.leader
