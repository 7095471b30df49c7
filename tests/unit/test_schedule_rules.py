"""Schedule rules: RRULE and cron read in local time, across DST changes, coalesced."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from dateutil.rrule import rrule

from replayhub.db.models import Schedule
from replayhub.schedules import (
    RuleError,
    coalesce,
    latest_fire,
    next_fire,
    period_ms,
    validate_rule,
)

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def utc(value: int | None) -> str:
    assert value is not None
    return datetime.fromtimestamp(value / 1000, UTC).strftime("%Y-%m-%d %H:%M")


@pytest.mark.parametrize("rule", ["FREQ=WEEKLY;BYDAY=MO;BYHOUR=9", "0 9 * * 1"])
def test_a_monday_0900_report_follows_paris_local_time_across_dst(rule: str) -> None:
    # Paris moves from UTC+1 to UTC+2 on Sunday 2026-03-29.
    before = next_fire(rule, "Europe/Paris", ms("2026-03-20T00:00"), ms("2026-01-01T00:00"))
    after = next_fire(rule, "Europe/Paris", ms("2026-03-27T00:00"), ms("2026-01-01T00:00"))
    assert utc(before) == "2026-03-23 08:00"
    assert utc(after) == "2026-03-30 07:00"


def test_autumn_change_fires_once_at_the_repeated_hour() -> None:
    # New York repeats 01:00-02:00 on 2026-11-01: a daily 01:30 report runs once that day.
    first = next_fire("30 1 * * *", "America/New_York", ms("2026-11-01T04:00"))
    second = next_fire("30 1 * * *", "America/New_York", first or 0)
    assert utc(first) == "2026-11-01 05:30"
    assert utc(second) == "2026-11-02 06:30"


@pytest.mark.parametrize("rule", ["30 2 * * *", "FREQ=DAILY;BYHOUR=2;BYMINUTE=30"])
def test_a_time_skipped_by_spring_change_fires_an_hour_later_that_day(rule: str) -> None:
    # 02:30 does not exist in Paris on 2026-03-29 (02:00 CET → 03:00 CEST): it fires at
    # 03:30 CEST = 01:30 UTC, then at 02:30 CEST = 00:30 UTC the next day.
    fire = next_fire(rule, "Europe/Paris", ms("2026-03-28T12:00"), ms("2026-03-01T00:00"))
    following = next_fire(rule, "Europe/Paris", fire or 0, ms("2026-03-01T00:00"))
    assert utc(fire) == "2026-03-29 01:30"
    assert utc(following) == "2026-03-30 00:30"


def test_missed_occurrences_coalesce_into_the_latest() -> None:
    schedule = Schedule(id="s", kind="k", target_id="t", rule="0 * * * *", timezone="UTC",
                        anchor_at=0, next_run_at=ms("2026-05-01T00:00"), created_at=0)
    fire, following = coalesce(schedule, ms("2026-05-01T09:30"))
    assert (utc(fire), utc(following)) == ("2026-05-01 09:00", "2026-05-01 10:00")


@pytest.fixture
def rrule_steps(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many occurrences dateutil generates (the work a rule costs), counted."""
    count = [0]
    walk = rrule._iter

    def counted(self: rrule) -> Iterator[Any]:
        for occurrence in walk(self):
            count[0] += 1
            yield occurrence

    monkeypatch.setattr(rrule, "_iter", counted)
    return count


def test_coalescing_a_minutely_rule_walks_only_the_missed_occurrences(
        rrule_steps: list[int]) -> None:
    # Created 30 days ago, down for 2 hours: 120 missed minutes, not 30 days of them per step.
    now = ms("2026-05-31T12:00") + 30_000
    schedule = Schedule(id="s", kind="k", target_id="t", rule="FREQ=MINUTELY", timezone="UTC",
                        anchor_at=ms("2026-05-01T08:17"), next_run_at=now - 2 * HOUR - 30_000,
                        created_at=0)
    fire, following = coalesce(schedule, now)
    assert (utc(fire), utc(following)) == ("2026-05-31 12:00", "2026-05-31 12:01")
    assert rrule_steps[0] < 500  # walking from the anchor each time: ~5 million


def test_coalescing_an_hourly_rule_a_year_old(rrule_steps: list[int]) -> None:
    anchor = ms("2025-05-01T10:00")
    now = ms("2026-05-04T09:30")
    schedule = Schedule(id="s", kind="k", target_id="t", rule="FREQ=HOURLY;BYMINUTE=0",
                        timezone="Europe/Paris", anchor_at=anchor,
                        next_run_at=ms("2026-05-01T09:00"), created_at=anchor)
    fire, following = coalesce(schedule, now)
    assert (utc(fire), utc(following)) == ("2026-05-04 09:00", "2026-05-04 10:00")
    assert rrule_steps[0] < 200


@pytest.mark.parametrize(("rule", "expected"), [
    # Every third day from the anchor's day (2026-01-01): 2026-05-31 is day 150.
    ("FREQ=DAILY;INTERVAL=3;BYHOUR=9", "2026-05-31 09:00"),
    # Every other week from the anchor's week: the weeks of Jan 1, 15, 29... and May 21.
    ("FREQ=WEEKLY;INTERVAL=2;BYDAY=TH;BYHOUR=9", "2026-06-04 09:00"),
    ("FREQ=HOURLY;INTERVAL=5", "2026-05-31 05:00"),
    ("FREQ=MONTHLY;INTERVAL=2;BYMONTHDAY=31", "2026-07-31 00:00"),
])
def test_an_interval_keeps_counting_from_the_anchor(rule: str, expected: str) -> None:
    anchor = ms("2026-01-01T15:00")
    assert utc(next_fire(rule, "UTC", ms("2026-05-31T04:00"), anchor)) == expected
    schedule = Schedule(id="s", kind="k", target_id="t", rule=rule, timezone="UTC",
                        anchor_at=anchor, next_run_at=ms("2026-01-01T00:00"), created_at=0)
    fire, following = coalesce(schedule, ms("2026-05-31T04:00"))
    assert following is not None and utc(following) == expected
    assert next_fire(rule, "UTC", fire, anchor) == following


def test_latest_fire_finds_a_rare_occurrence_further_back_than_a_day() -> None:
    # The last Monday 09:00 before Thursday, looked for since two weeks ago.
    fire = latest_fire("FREQ=WEEKLY;BYDAY=MO;BYHOUR=9", "UTC", ms("2026-05-07T12:00"),
                       ms("2026-04-20T09:00"), ms("2026-01-01T00:00"))
    assert utc(fire) == "2026-05-04 09:00"
    assert latest_fire("0 9 * * 1", "UTC", ms("2026-05-07T12:00"),
                       ms("2026-05-05T00:00")) is None


def test_period_is_the_time_between_two_occurrences() -> None:
    week = period_ms("FREQ=WEEKLY;BYDAY=MO;BYHOUR=9", "UTC", ms("2026-05-04T09:00"))
    assert week == 7 * 86_400_000


@pytest.mark.parametrize(("rule", "timezone", "fix"), [
    ("", "UTC", "RRULE"),
    ("every monday", "UTC", "neither an RRULE nor a cron"),
    ("0 9 * * 1", "Mars/Olympus", "IANA"),
    ("FREQ=DAILY;UNTIL=20000102T000000", "UTC", "no occurrence"),
])
def test_bad_rules_name_the_fix(rule: str, timezone: str, fix: str) -> None:
    with pytest.raises(RuleError, match=fix):
        validate_rule(rule, timezone)
