"""Alert rules: configuration checks, matching, cool-down windows, digest schedules (DST)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from replayhub.alerts import (
    alert_rules,
    delivery_key,
    in_cooldown,
    is_public_url,
    next_digest_at,
    owners_named,
    rule_matches,
)
from replayhub.config import AlertRule, ConfigError, OwnershipMatch, duration_seconds, load_settings
from replayhub.people import Subject

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def ms(zone: ZoneInfo, *parts: int) -> int:
    return int(datetime(*parts, tzinfo=zone).timestamp() * 1000)  # type: ignore[misc]


def config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "replayhub.toml"
    path.write_text(body)
    return path


def test_a_rule_is_read_with_its_defaults(tmp_path: Path) -> None:
    settings = load_settings(str(config(tmp_path, """
[[alerts]]
name = "checkout errors"
on = "error.new"
match = {app = "Shop", url = "*/checkout*"}
""")))
    rule = settings.alerts[0]
    assert (rule.notify, rule.cooldown_ms, rule.has_digest) == ("owners", 3_600_000, False)
    assert rule.targets() == ["owners"]


@pytest.mark.parametrize(("body", "complaint"), [
    ('on = "error.maybe"', "on = 'error.maybe' is not one of"),
    ('on = "error.new"\nmatch = {error = "re:(unclosed"}', "match.error 're:(unclosed' is not a "
                                                          "valid regex"),
    ('on = "error.new"\ndigest = "FREQ=SOMETIMES"', "digest schedule 'FREQ=SOMETIMES'"),
    ('on = "error.new"\ndigest = "0 9 * *"', "digest schedule '0 9 * *'"),
    ('on = "error.new"\ndigest = "0 9 * * 1"\ntimezone = "Mars/Olympus"', "unknown timezone"),
    ('on = "error.new"\ncooldown = "soon"', "cooldown 'soon' is not a duration"),
    ('on = "error.new"\nnotify = ["payments"]', "notify 'payments' is neither"),
    ('on = "frustration"\nsignals = ["sad_click"]', "signal 'sad_click'"),
])
def test_bad_rules_are_config_errors_naming_the_rule(tmp_path: Path, body: str,
                                                     complaint: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(str(config(tmp_path, f'[[alerts]]\nname = "pager"\n{body}\n')))
    assert "alert rule 'pager'" in str(raised.value)
    assert complaint in str(raised.value)


def test_two_rules_with_one_name_are_refused() -> None:
    rule = AlertRule(name="same", on="error.new")
    with pytest.raises(ConfigError, match="'same' is defined twice"):
        alert_rules([rule, AlertRule(name="same", on="frustration")])


@pytest.mark.parametrize(("text", "seconds"), [
    (90, 90), ("90s", 90), ("15m", 900), ("1h", 3600), ("1h30m", 5400), ("2d", 172_800)])
def test_durations(text: str | int, seconds: int) -> None:
    assert duration_seconds(text) == seconds


def subject() -> Subject:
    return Subject(apps=["app_1", "Shop"], urls=["https://shop.example.com/checkout/pay"],
                   errors=["0f3c", "Cannot read 'total'", "TypeError: Cannot read 'total'"])


@pytest.mark.parametrize(("match", "expected"), [
    ({}, True),
    ({"app": "shop"}, True),
    ({"app": "Admin"}, False),
    ({"app": ["Admin", "SHOP"]}, True),
    ({"url": "*/checkout/*"}, True),
    ({"url": "*/cart*"}, False),
    ({"error": "TypeError:*"}, True),
    ({"error": "re:read 'TOTAL'"}, True),
    ({"error": "re:^Cannot write"}, False),
    ({"app": "Shop", "url": "*/cart*"}, False),
    ({"app": "Shop", "url": "*checkout*", "error": "0f3c"}, True),
    ({"tags": "vip"}, False),
])
def test_matching_is_case_insensitive_globs_or_regexes_anded(match: dict[str, object],
                                                             expected: bool) -> None:
    rule = AlertRule(name="r", on="error.new", match=OwnershipMatch(**match))  # type: ignore[arg-type]
    assert rule_matches(rule, subject()) is expected


def test_cooldown_windows() -> None:
    rule = AlertRule(name="r", on="error.new", cooldown="30m")
    fired = 1_000_000
    assert in_cooldown(rule, fired, fired)
    assert in_cooldown(rule, fired, fired + 30 * 60_000 - 1)
    assert not in_cooldown(rule, fired, fired + 30 * 60_000)
    assert not in_cooldown(AlertRule(name="r", on="error.new", cooldown=0), fired, fired)


def test_daily_rrule_digest_keeps_local_time_across_spring_forward() -> None:
    rule = AlertRule(name="d", on="error.new", digest="FREQ=DAILY;BYHOUR=9",
                     timezone="Europe/Paris")
    sunday = next_digest_at(rule, ms(PARIS, 2026, 3, 28, 10, 0))
    assert sunday == ms(PARIS, 2026, 3, 29, 9, 0)
    assert datetime.fromtimestamp(sunday / 1000, PARIS).utcoffset().total_seconds() == 7200
    before = next_digest_at(rule, ms(PARIS, 2026, 3, 28, 8, 0))
    assert sunday - before == 23 * 3_600_000  # the night of the change is one hour short


def test_weekly_cron_digest_across_fall_back() -> None:
    rule = AlertRule(name="d", on="frustration", digest="0 9 * * 1",
                     timezone="America/New_York")
    first = next_digest_at(rule, ms(NEW_YORK, 2026, 10, 28, 12, 0))
    second = next_digest_at(rule, first)
    assert first == ms(NEW_YORK, 2026, 11, 2, 9, 0)
    assert second == ms(NEW_YORK, 2026, 11, 9, 9, 0)
    assert datetime.fromtimestamp(first / 1000, NEW_YORK).hour == 9


def test_a_digest_time_skipped_by_dst_still_fires_once() -> None:
    rule = AlertRule(name="d", on="error.new", digest="FREQ=DAILY;BYHOUR=2;BYMINUTE=30",
                     timezone="Europe/Paris")
    fire = next_digest_at(rule, ms(PARIS, 2026, 3, 28, 12, 0))
    assert fire is not None
    assert ms(PARIS, 2026, 3, 29, 1, 0) < fire <= ms(PARIS, 2026, 3, 29, 4, 0)
    assert next_digest_at(rule, fire) == ms(PARIS, 2026, 3, 30, 2, 30)


@pytest.mark.parametrize(("url", "public"), [
    ("https://replayhub.example.com", True), ("http://203.0.113.9:8000", False),
    ("https://8.8.8.8", True), ("http://127.0.0.1:8000", False), ("http://localhost", False),
    ("http://10.1.2.3", False), ("http://192.168.0.5", False), ("http://[::1]:8000", False),
    ("http://hub.internal", False), ("", False), ("ftp://example.com", False)])
def test_only_public_hub_urls_get_a_snapshot_url(url: str, public: bool) -> None:
    assert is_public_url(url) is public


def test_notify_entries_become_owners() -> None:
    owners = owners_named(["team:Payments", "Ada@Example.com", "team:Payments"])
    assert (owners.teams, owners.emails) == (["Payments"], ["ada@example.com"])


def test_delivery_keys_fit_the_outbox_column_and_differ_by_target() -> None:
    long = "x" * 500
    one = delivery_key(long, "error:app:fp", 1, "email:" + long)
    two = delivery_key(long, "error:app:fp", 1, "email:other@example.com")
    assert len(one) <= 300 and one != two
    assert delivery_key("r", "s", 1, "slack:C1") == delivery_key("r", "s", 1, "slack:C1")
