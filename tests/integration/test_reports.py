"""Scheduled reports: the API and its 4xx problems, the content on seeded data with known
figures, no comparison (and a warning) when the previous period is past retention, chart
buckets at local midnights across a DST change and at local hours in a +05:30 zone, the e-mail
(parts, inline chart, one-click unsubscribe headers read from the raw bytes) received by a
local SMTP server, skipping empty periods, send-now (never counted toward pausing), the runs
listing, a run's page, unsubscribing, pausing after repeated failures, and Slack delivery with
the chart uploaded once and deleted with the report."""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Iterator
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import delete, select

from replayhub import reports
from replayhub.blobs import get_or_none
from replayhub.charts import errors_figure
from replayhub.config import (
    OutboxSettings,
    ReportSettings,
    SchedulerSettings,
    Settings,
    SmtpSettings,
    TeamSettings,
)
from replayhub.db.models import (
    App,
    Delivery,
    ErrorEvent,
    ErrorGroup,
    Frustration,
    Playlist,
    ReplaySession,
    Schedule,
    ScheduleRun,
)
from replayhub.hub import Hub
from replayhub.outbox.dispatcher import Dispatcher
from replayhub.schedules import run_due_schedules
from replayhub.web.login import COOKIE
from tests.conftest import ADMIN
from tests.helpers import NO_AUTH
from tests.integration.slack.conftest import slack_table
from tests.integration.slack.fake import FakeSlack, timeout_after_sending
from tests.integration.test_mail import Clock
from tests.mailbox import Mailbox, smtp_server

HUB = "https://hub.example.test"
SENDER = "ReplayHub <reports@hub.example.test>"
HOUR = 3_600_000
DAY = 24 * HOUR
APP = "app_reports"
CHANNEL = "C0REPORTS1"
WEEKLY = {"name": "Weekly shop report", "schedule": "0 9 * * 1", "timezone": "UTC",
          "period": "P7D", "deliver": [{"email": "ada@example.com"}],
          "owner": "owner@example.com"}


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    with smtp_server() as served:
        yield served


@pytest.fixture
def features(request: pytest.FixtureRequest) -> tuple[str, ...]:
    """What a test turns on besides mail: "slack" (the fake), "snapshots" (Chromium)."""
    return tuple(getattr(request, "param", ()))


@pytest.fixture
def settings(features: tuple[str, ...], tmp_path: Path, database_url: str,
             mailbox: tuple[Mailbox, int]) -> Settings:
    slack = "slack" in features
    return Settings(data_dir=str(tmp_path / "var"), database_url=database_url,
                    admin_token=ADMIN, public_url=HUB,
                    scheduler=SchedulerSettings(enabled=False),
                    outbox=OutboxSettings(dispatcher=False),
                    reports=ReportSettings(
                        snapshots="snapshots" in features),
                    teams=[TeamSettings(name="checkout", email="checkout@example.com",
                                        slack_channel=CHANNEL if slack else "")],
                    smtp=SmtpSettings(host="127.0.0.1", port=mailbox[1], sender=SENDER,
                                      timeout_seconds=10),
                    connectors={"slack": slack_table()} if slack else {})


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    slack = FakeSlack()
    slack.add_channel(CHANNEL)
    with slack.router():
        yield slack


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def dispatcher(client: AsyncTestClient[Any], clock: Clock) -> Dispatcher:
    hub: Hub = client.hub  # type: ignore[attr-defined]
    return Dispatcher(hub.db, hub.connectors, hub.settings.outbox, clock=clock.time,
                      sleep=clock.sleep, hub=hub)


def hub_of(client: AsyncTestClient[Any]) -> Hub:
    return client.hub  # type: ignore[attr-defined,no-any-return]


async def create(client: AsyncTestClient[Any], **changes: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/reports", json={**WEEKLY, **changes})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def fire_time(client: AsyncTestClient[Any], report_id: str) -> int:
    schedule = await reports.schedule_of(hub_of(client), report_id)
    assert schedule is not None
    return schedule.next_run_at


# --- seeded data: figures known by construction -----------------------------------------------


def session(sid: str, started: int, user: str | None, errors: int = 0, rage: int = 0,
            dead: int = 0) -> ReplaySession:
    return ReplaySession(
        id=sid, app_id=APP, started_at=started, ended_at=started + 60_000, duration_ms=60_000,
        user_id=user, user_email=f"{user}@example.com" if user else None,
        first_url="https://shop.example.test/", last_url="https://shop.example.test/checkout",
        error_count=errors, rage_click_count=rage, dead_click_count=dead,
        created_at=started, updated_at=started)


def error(sid: str, group: int, t: int, user: str | None) -> ErrorEvent:
    return ErrorEvent(session_id=sid, group_id=group, t=t, user_key=user or sid,
                      type="TypeError", message="boom", url="https://shop.example.test/checkout")


def signal(sid: str, t: int, kind: str, selector: str) -> Frustration:
    return Frustration(session_id=sid, t=t, kind=kind, selector=selector,
                       url="https://shop.example.test/checkout")


async def seed(client: AsyncTestClient[Any], fire: int) -> dict[str, int]:
    """This week (the 7 days before `fire`): s1 (u1) with new error A twice and a rage click,
    s2 (u2) with A and the regressed C, s3 (u1) with the ongoing B and a dead click, s4
    anonymous. The week before: p1 (u3) with B, p2 (u4), p3 (u3) with a rage click."""
    since, previous = fire - 7 * DAY, fire - 14 * DAY
    hub = hub_of(client)
    async with hub.db.write() as tx:
        tx.add(App(id=APP, name="Shop", ingest_key_hash="x" * 64, ingest_key_hint="rhk_x",
                   created_at=previous - 60 * DAY))
        await tx.flush()
        groups = {
            "A": ErrorGroup(app_id=APP, fingerprint="fp-a", type="TypeError",
                            message="Cannot read properties of undefined (reading 'total')",
                            first_seen=since + DAY, last_seen=since + 2 * DAY),
            "B": ErrorGroup(app_id=APP, fingerprint="fp-b", type="NetworkError",
                            message="GET /api/cart failed: 500", first_seen=previous - 20 * DAY,
                            last_seen=since + 3 * DAY),
            "C": ErrorGroup(app_id=APP, fingerprint="fp-c", type="RangeError",
                            message="Invalid array length", first_seen=previous - 30 * DAY,
                            last_seen=since + 2 * DAY)}
        for group in groups.values():
            tx.add(group)
        await tx.flush()
        ids = {name: int(group.id or 0) for name, group in groups.items()}
        d1, d2, d3 = since + DAY + HOUR, since + 2 * DAY + HOUR, since + 3 * DAY + HOUR
        tx.add_all([session("s1", d1, "u1", errors=2, rage=1), session("s2", d2, "u2", errors=2),
                    session("s3", d3, "u1", errors=1, dead=1), session("s4", d3 + HOUR, None),
                    session("p1", previous + DAY, "u3", errors=1),
                    session("p2", previous + 2 * DAY, "u4"),
                    session("p3", previous + 3 * DAY, "u3", rage=1)])
        await tx.flush()
        tx.add_all([error("s1", ids["A"], d1 + 5_000, "u1"),
                    error("s1", ids["A"], d1 + 9_000, "u1"),
                    error("s2", ids["A"], d2 + 4_000, "u2"),
                    error("s2", ids["C"], d2 + 7_000, "u2"),
                    error("s3", ids["B"], d3 + 3_000, "u1"),
                    error("p1", ids["B"], previous + DAY + 2_000, "u3"),
                    signal("s1", d1 + 6_000, "rage_click", "button#pay"),
                    signal("s3", d3 + 8_000, "dead_click", "div.summary"),
                    signal("p3", previous + 3 * DAY + 1_000, "rage_click", "a.next")])
    return ids


# --- the API ----------------------------------------------------------------------------------


async def test_reports_are_created_read_changed_and_deleted(client: AsyncTestClient[Any]) -> None:
    report = await create(client, deliver=[{"email": "Ada@Example.com"}, {"team": "checkout"}])
    assert report["deliver"] == [{"email": "ada@example.com"}, {"team": "checkout"}]
    assert (report["schedule"], report["timezone"], report["period"]) == ("0 9 * * 1", "UTC",
                                                                         "P7D")
    assert report["owner"] == "owner@example.com" and report["skip_empty"] is True
    assert report["paused"] is False and report["next_run_at"].endswith("09:00:00.000Z")
    assert (await client.get(f"/api/v1/reports/{report['id']}")).json() == report
    listed = (await client.get("/api/v1/reports")).json()["items"]
    assert [item["id"] for item in listed] == [report["id"]]
    changed = await client.patch(f"/api/v1/reports/{report['id']}", json={
        "name": "Daily", "schedule": "FREQ=DAILY;BYHOUR=8;BYMINUTE=30", "timezone":
        "Europe/Paris", "skip_empty": False})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["name"], body["schedule"], body["skip_empty"]) == (
        "Daily", "FREQ=DAILY;BYHOUR=8;BYMINUTE=30", False)
    assert body["next_run_at"][11:16] in ("07:30", "06:30")  # 08:30 in Paris (CET / CEST)
    assert (await client.delete(f"/api/v1/reports/{report['id']}")).status_code == 204
    assert (await client.get(f"/api/v1/reports/{report['id']}")).status_code == 404
    assert await reports.schedule_of(hub_of(client), report["id"]) is None


@pytest.mark.parametrize(("changes", "expected"), [
    ({"schedule": "every monday"}, "neither an RRULE nor a cron line"),
    ({"schedule": "0 9 * * 1", "timezone": "Mars/Olympus"}, "IANA name such as Europe/Paris"),
    ({"period": "P1M"}, "months vary: use P30D"),
    ({"playlist_id": "pl_missing"}, "playlist_id: no playlist 'pl_missing'"),
    ({"deliver": [{"fax": "123"}]}, 'deliver[0]: use one of {"email": address}'),
    ({"deliver": [{"email": "not-an-address"}]}, "deliver[0]: 'not-an-address' is not an e-mail"),
    ({"deliver": [{"slack": "C0123"}]}, "Slack is not set up: enable [connectors.slack]"),
    ({"deliver": [{"team": "nobody"}]}, "deliver[0]: no team 'nobody'"),
    ({"deliver": []}, "deliver: name at least one recipient"),
    ({"filters": {"since": "2026-01-01"}}, "'since' is set by the report's period"),
    ({"filters": {"colour": "red"}}, "unknown filter 'colour'"),
    ({"filters": {"app_id": "x"}, "playlist_id": "pl_x"}, "either filters or a playlist_id"),
])
async def test_bad_reports_are_refused_naming_the_fix(client: AsyncTestClient[Any],
                                                      changes: dict[str, Any],
                                                      expected: str) -> None:
    response = await client.post("/api/v1/reports", json={**WEEKLY, **changes})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert expected in response.json()["detail"]
    assert (await client.get("/api/v1/reports")).json()["items"] == []
    async with hub_of(client).db.read() as tx:
        assert (await tx.execute(select(Schedule))).scalars().all() == []


async def test_unknown_reports_and_roles(client: AsyncTestClient[Any]) -> None:
    assert (await client.get("/api/v1/reports/rpt_nope")).status_code == 404
    assert (await client.post("/api/v1/reports/rpt_nope/run")).status_code == 404
    assert (await client.get("/api/v1/reports/rpt_nope/runs")).status_code == 404
    bad = await client.patch("/api/v1/reports/rpt_nope", json={"name": "x"})
    assert bad.status_code == 404 and bad.json()["title"] == "Report not found"
    assert (await client.get("/api/v1/reports", headers=NO_AUTH)).status_code == 401
    report = await create(client)
    wrong = await client.patch(f"/api/v1/reports/{report['id']}", json={"schedule": "61 * * * *"})
    assert wrong.status_code == 422
    assert (await client.get(f"/api/v1/reports/{report['id']}")).json()["schedule"] == "0 9 * * 1"


# --- the content --------------------------------------------------------------------------------


async def test_report_content_on_seeded_data(client: AsyncTestClient[Any]) -> None:
    report = await create(client, filters={"app_id": APP})
    fire = await fire_time(client, report["id"])
    ids = await seed(client, fire)
    hub = hub_of(client)
    stored = await reports.get_report(hub, report["id"])
    schedule = await reports.schedule_of(hub, report["id"])
    content = await reports.report_content(hub, stored, reports.window_of(stored, schedule, fire))
    figures = {f.name: (f.value, f.previous, f.change) for f in content.figures}
    assert figures == {"Sessions": (4, 3, 33.3), "Users": (3, 2, 50.0),
                       "Sessions with errors": (3, 1, 200.0),
                       "Frustration rate": (50.0, 33.3, 50.0)}
    assert [(e.fingerprint, e.status, e.users, e.sessions, e.count) for e in content.errors] == [
        ("fp-a", "new", 2, 2, 3), ("fp-c", "regressed", 1, 1, 1)]
    assert content.errors[0].replay_url == f"{HUB}/replays/s1?t=5000"
    assert "error=fp-a" in content.errors[0].sessions_url
    assert content.total_errors == 5 and not content.empty
    assert [(h.selector, h.count) for h in content.elements] == [("button#pay", 1),
                                                                ("div.summary", 1)]
    assert [(h.url, h.count, h.sessions) for h in content.pages] == [
        ("https://shop.example.test/checkout", 2, 2)]
    assert [(r.session_id, r.t) for r in content.replays] == [("s1", 5000), ("s2", 4000),
                                                              ("s3", 3000)]
    assert content.bucket == "day" and len(content.days) == 8  # Mon 00:00 to Mon 09:00
    assert [(d.errors, d.users) for d in content.days] == [
        (0, 0), (2, 1), (2, 1), (1, 1), (0, 0), (0, 0), (0, 0), (0, 0)]
    assert content.days[0].label.startswith("Mon")
    assert ids["A"] != ids["B"]


async def test_a_playlist_report_lists_its_new_sessions(client: AsyncTestClient[Any]) -> None:
    playlist = await client.post("/api/v1/playlists", json={
        "name": "u1 sessions", "filters": {"user_id": "u1"}})
    assert playlist.status_code == 201, playlist.text
    report = await create(client, playlist_id=playlist.json()["id"])
    assert report["playlist_id"] == playlist.json()["id"] and report["filters"] is None
    fire = await fire_time(client, report["id"])
    await seed(client, fire)
    hub = hub_of(client)
    stored = await reports.get_report(hub, report["id"])
    content = await reports.report_content(hub, stored, reports.window_of(stored, None, fire))
    assert content.playlist is not None and content.playlist.new_count == 2
    assert [s.session_id for s in content.playlist.sessions] == ["s3", "s1"]
    assert content.figures[0].value == 2  # the playlist's sessions only
    assert [e.fingerprint for e in content.errors] == ["fp-a"]


async def test_a_period_past_retention_is_not_compared(client: AsyncTestClient[Any]) -> None:
    hub = hub_of(client)
    assert hub.settings.retention_days == 30  # the default
    weekly = await create(client, filters={"app_id": APP})
    assert weekly["warnings"] == []
    report = await create(client, filters={"app_id": APP}, period="P30D")
    [warning] = report["warnings"]
    assert "no comparison" in warning and "retention_days" in warning
    fire = await fire_time(client, report["id"])
    ids = await seed(client, fire)
    async with hub.db.write() as tx:  # D: known for long, back this month
        old = ErrorGroup(app_id=APP, fingerprint="fp-d", type="Error", message="old one",
                         first_seen=fire - 200 * DAY, last_seen=fire - 2 * DAY)
        tx.add(old)
        await tx.flush()
        tx.add(error("s3", int(old.id or 0), fire - 4 * DAY + HOUR + 5_000, "u1"))
    stored = await reports.get_report(hub, report["id"])
    content = await reports.report_content(hub, stored, reports.window_of(stored, None, fire))
    assert content.comparison == ("no comparison: older sessions are deleted after 30 days "
                                  "(retention_days)")
    assert [(f.name, f.value, f.previous, f.change) for f in content.figures] == [
        ("Sessions", 7, None, None), ("Users", 5, None, None),
        ("Sessions with errors", 4, None, None), ("Frustration rate", 42.9, None, None)]
    # only what is known without the previous period: A is new; D, B and C are not
    # called regressed from a month whose events are deleted
    assert [(e.fingerprint, e.status) for e in content.errors] == [("fp-a", "new")]
    assert ids["A"] != ids["B"]
    rendered = reports.render_email(content, b"png", {}, f"{HUB}/r", f"{HUB}/u")
    assert "no comparison: older sessions are deleted after 30 days" in rendered.text
    assert "was " not in rendered.text and "compared with the period before" not in rendered.text
    assert "deleted after 30 days" in rendered.html and "(was " not in rendered.html

    longer = await client.patch(f"/api/v1/reports/{report['id']}", json={"period": "P45D"})
    assert longer.status_code == 200 and len(longer.json()["warnings"]) == 2
    assert "only its last 30 days are counted" in longer.json()["warnings"][1]
    shorter = await client.patch(f"/api/v1/reports/{report['id']}", json={"period": "P14D"})
    assert shorter.status_code == 200 and shorter.json()["warnings"] == []
    stored = await reports.get_report(hub, report["id"])
    content = await reports.report_content(hub, stored, reports.window_of(stored, None, fire))
    assert content.comparison == "" and content.figures[0].previous == 0  # compared again


async def add_errors(client: AsyncTestClient[Any], times: list[int]) -> None:
    """One session and one error group of APP, with an error at each of `times`."""
    async with hub_of(client).db.write() as tx:
        tx.add(App(id=APP, name="Shop", ingest_key_hash="x" * 64, ingest_key_hint="rhk_x",
                   created_at=min(times) - DAY))
        group = ErrorGroup(app_id=APP, fingerprint="fp-z", type="Error", message="z",
                           first_seen=min(times), last_seen=max(times))
        tx.add(group)
        tx.add(session("z1", min(times) - 1_000, "u1", errors=len(times)))
        await tx.flush()
        tx.add_all([error("z1", int(group.id or 0), t, f"u{n}") for n, t in enumerate(times)])


def local_ms(zone: str, *parts: int) -> int:
    return int(datetime(*parts, tzinfo=ZoneInfo(zone)).timestamp() * 1000)  # type: ignore[misc]


async def test_days_follow_local_midnights_across_a_dst_change(
        client: AsyncTestClient[Any]) -> None:
    """Paris leaves summer time on Sunday 25 October 2026: that day lasts 25 hours."""
    paris = "Europe/Paris"
    report = await create(client, filters={"app_id": APP}, timezone=paris)
    until = local_ms(paris, 2026, 10, 26, 9)  # Monday 09:00 CET
    await add_errors(client, [local_ms(paris, 2026, 10, 19, 23, 30),  # Mon, CEST
                              local_ms(paris, 2026, 10, 25, 23, 30),  # Sun, CET
                              local_ms(paris, 2026, 10, 26, 0, 30)])  # Mon, CET
    stored = await reports.get_report(hub_of(client), report["id"])
    content = await reports.report_content(hub_of(client), stored,
                                           reports.window_of(stored, None, until))
    assert content.bucket == "day"
    assert [d.label for d in content.days] == [
        "Mon 19 Oct", "Tue 20 Oct", "Wed 21 Oct", "Thu 22 Oct", "Fri 23 Oct", "Sat 24 Oct",
        "Sun 25 Oct", "Mon 26 Oct"]
    assert [d.errors for d in content.days] == [1, 0, 0, 0, 0, 0, 1, 1]
    edges = reports.buckets_of(reports.window_of(stored, None, until), paris).edges
    assert edges[7] - edges[6] == 25 * HOUR and edges[1] - edges[0] == 24 * HOUR
    figure = errors_figure([d.label for d in content.days], [1] * 8, [1] * 8, content.bucket)
    assert figure.axes[0].get_title(loc="left") == "Errors and affected users per day"


async def test_hours_start_at_local_hours_in_a_half_hour_zone(
        client: AsyncTestClient[Any]) -> None:
    kolkata = "Asia/Kolkata"  # UTC+05:30
    report = await create(client, filters={"app_id": APP}, timezone=kolkata, period="PT12H",
                          schedule="30 9 * * *")
    until = local_ms(kolkata, 2026, 3, 2, 9, 30)
    await add_errors(client, [local_ms(kolkata, 2026, 3, 2, 0, 15),
                              local_ms(kolkata, 2026, 3, 2, 0, 45),
                              local_ms(kolkata, 2026, 3, 2, 1, 10)])
    stored = await reports.get_report(hub_of(client), report["id"])
    content = await reports.report_content(hub_of(client), stored,
                                           reports.window_of(stored, None, until))
    assert content.bucket == "hour"
    assert [d.label for d in content.days][:4] == ["21:00", "22:00", "23:00", "00:00"]
    by_label = {d.label: d.errors for d in content.days}
    assert (by_label["00:00"], by_label["01:00"]) == (2, 1)
    assert len(content.days) == 13 and content.days[-1].label == "09:00"
    figure = errors_figure([d.label for d in content.days], [0] * 13, [0] * 13, content.bucket)
    assert figure.axes[0].get_title(loc="left") == "Errors and affected users per hour"


# --- e-mail, runs, pages, unsubscribing -----------------------------------------------------


def one_message(box: Mailbox) -> EmailMessage:
    [message] = [email.message_from_bytes(content, policy=email.policy.default)
                 for _, _, content in box.received]
    return message  # type: ignore[return-value]


async def test_a_scheduled_run_mails_the_report(client: AsyncTestClient[Any],
                                                mailbox: tuple[Mailbox, int],
                                                dispatcher: Dispatcher) -> None:
    box, _ = mailbox
    report = await create(client, filters={"app_id": APP})
    fire = await fire_time(client, report["id"])
    await seed(client, fire)
    hub = hub_of(client)
    assert await run_due_schedules(hub, fire + 1_000) == 1
    assert await run_due_schedules(hub, fire + 2_000) == 0  # the occurrence ran once
    assert await dispatcher.run_until_idle() == 1
    message = one_message(box)
    assert message["To"] == "ada@example.com"
    assert message["Subject"].startswith("Weekly shop report: 4 sessions, 3 with errors")
    unsubscribe = message["List-Unsubscribe"]
    assert unsubscribe.startswith(f"<{HUB}/unsubscribe/") and unsubscribe.endswith(">")
    assert len(unsubscribe) > 150  # a real signed token, far past 78 characters
    # the raw lines, as an RFC 8058 receiver reads them: one line each, never RFC 2047
    [(_, _, raw)] = box.received
    lines = raw.split(b"\r\n")
    assert f"List-Unsubscribe: {unsubscribe}".encode() in lines
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in lines
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    plain, markup = text.get_content(), html.get_content()
    assert "Sessions: 4 (+33.3%; was 3)" in plain
    assert "[new] TypeError: Cannot read properties of undefined (reading 'total')" in plain
    assert "[regressed] RangeError: Invalid array length" in plain
    assert "<style" not in markup and 'style="' in markup  # CSS inlined
    assert 'src="cid:chart"' in markup and "data:" not in markup
    assert "Affected users" in markup  # the table behind the chart
    [chart] = [part for part in message.walk() if part.get_content_type() == "image/png"]
    assert chart["Content-ID"] == "<chart>"
    assert chart.get_content().startswith(b"\x89PNG")
    runs = (await client.get(f"/api/v1/reports/{report['id']}/runs")).json()["items"]
    assert [(r["status"], r["error"]) for r in runs] == [("succeeded", "")]
    assert set(runs[0]) >= {"id", "fire_time", "status", "started_at", "finished_at", "error"}
    assert runs[0]["page_url"] == f"{HUB}/reports/{report['id']}/runs/{runs[0]['id']}"
    async with hub.db.read() as tx:
        keys = (await tx.execute(select(Delivery.idempotency_key))).scalars().all()
    assert keys == [f"email:report:{report['id']}:{runs[0]['id']}:ada@example.com"]


async def test_sending_a_run_again_sends_nothing_new(client: AsyncTestClient[Any],
                                                     mailbox: tuple[Mailbox, int],
                                                     dispatcher: Dispatcher) -> None:
    box, _ = mailbox
    report = await create(client, filters={"app_id": APP})
    fire = await fire_time(client, report["id"])
    await seed(client, fire)
    hub = hub_of(client)
    schedule = await reports.schedule_of(hub, report["id"])
    assert schedule is not None
    await run_due_schedules(hub, fire + 1_000)
    [run] = await reports.report_runs(hub, report["id"])
    again = await reports.run_report(hub, schedule, run)  # a retry of the same run
    assert len(again) == 1
    assert await dispatcher.run_until_idle() == 1
    assert len(box.received) == 1


async def test_empty_periods_are_skipped_unless_asked(client: AsyncTestClient[Any],
                                                      mailbox: tuple[Mailbox, int],
                                                      dispatcher: Dispatcher) -> None:
    box, _ = mailbox
    report = await create(client, filters={"app_id": "app_quiet"})
    fire = await fire_time(client, report["id"])
    await run_due_schedules(hub_of(client), fire + 1_000)
    runs = (await client.get(f"/api/v1/reports/{report['id']}/runs")).json()["items"]
    assert runs[0]["status"] == "skipped" and runs[0]["page_url"] is None
    assert runs[0]["delivered"][0].startswith("no sessions or errors between")
    assert await dispatcher.run_until_idle() == 0
    await client.patch(f"/api/v1/reports/{report['id']}", json={"skip_empty": False})
    sent = await client.post(f"/api/v1/reports/{report['id']}/run")
    assert sent.status_code == 201 and sent.json()["status"] == "succeeded"
    assert await dispatcher.run_until_idle() == 1
    assert "0 sessions, 0 with errors" in one_message(box)["Subject"]


async def test_send_now_the_run_page_and_unsubscribing(client: AsyncTestClient[Any],
                                                       mailbox: tuple[Mailbox, int],
                                                       dispatcher: Dispatcher) -> None:
    box, _ = mailbox
    report = await create(client, skip_empty=False, deliver=[
        {"email": "ada@example.com"}, {"team": "checkout"}])
    sent = await client.post(f"/api/v1/reports/{report['id']}/run")
    assert sent.status_code == 201, sent.text
    run = sent.json()
    assert run["status"] == "succeeded" and len(run["delivered"]) == 2
    assert await dispatcher.run_until_idle() == 2
    by_address = {m["To"]: m for m in (email.message_from_bytes(
        content, policy=email.policy.default) for _, _, content in box.received)}
    assert set(by_address) == {"ada@example.com", "checkout@example.com"}

    page_path = urlsplit(run["page_url"]).path
    assert (await client.get(page_path, headers=NO_AUTH, follow_redirects=False)
            ).status_code == 303  # signed-in only
    login = await client.post("/login", data={"token": ADMIN}, headers=NO_AUTH,
                              follow_redirects=False)
    assert login.status_code == 303
    # The hub's public URL is https, so the cookie is Secure: send it by hand over http.
    signed_in = {**NO_AUTH, "Cookie": f"{COOKIE}={login.cookies[COOKIE]}"}
    page = await client.get(page_path, headers=signed_in)
    assert page.status_code == 200
    assert "Weekly shop report" in page.text and "<svg" in page.text
    assert "Affected users" in page.text
    listing = await client.get("/reports", headers=signed_in)
    assert page_path in listing.text
    missing = await client.get(f"/reports/{report['id']}/runs/run_nope", headers=signed_in)
    assert missing.status_code == 404

    link = by_address["checkout@example.com"]["List-Unsubscribe"].strip("<>")
    path = urlsplit(link).path
    shown = await client.get(path, headers=NO_AUTH)
    assert shown.status_code == 200 and "checkout@example.com" in shown.text
    assert "<form" in shown.text  # a GET never unsubscribes
    one_click = await client.post(path, headers=NO_AUTH,
                                  data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200, one_click.text
    ada = by_address["ada@example.com"]["List-Unsubscribe"].strip("<>")
    assert (await client.post(urlsplit(ada).path, headers=NO_AUTH)).status_code == 200
    body = (await client.get(f"/api/v1/reports/{report['id']}")).json()
    assert body["deliver"] == [{"team": "checkout"}]  # the team stays for its Slack channel
    recipients = await reports.recipients_of(hub_of(client),
                                             await reports.get_report(hub_of(client),
                                                                      report["id"]))
    assert recipients.emails == [] and recipients.channels == []
    forged = await client.post(path[:-3] + "xyz", headers=NO_AUTH)
    assert forged.status_code == 400


async def test_a_failing_report_is_paused_and_its_owner_told(
        client: AsyncTestClient[Any], mailbox: tuple[Mailbox, int],
        dispatcher: Dispatcher) -> None:
    box, _ = mailbox
    playlist = await client.post("/api/v1/playlists", json={
        "name": "Checkout", "filters": {"url": "/checkout"}})
    report = await create(client, playlist_id=playlist.json()["id"])
    hub = hub_of(client)
    async with hub.db.write() as tx:  # gone behind the API's back (it refuses while in use)
        await tx.execute(delete(Playlist).where(Playlist.id == playlist.json()["id"]))
    # sending it now fails as often as asked, but never counts toward pausing it
    for _ in range(4):
        sent = await client.post(f"/api/v1/reports/{report['id']}/run")
        assert sent.status_code == 201 and sent.json()["status"] == "failed"
        assert "no playlist" in sent.json()["error"]
    assert (await client.get(f"/api/v1/reports/{report['id']}")).json()["paused"] is False
    schedule = await reports.schedule_of(hub, report["id"])
    assert schedule is not None and schedule.failures == 0
    async with hub.db.write() as tx:  # only the scheduled runs below are counted
        await tx.execute(delete(ScheduleRun).where(ScheduleRun.schedule_id == schedule.id))
    fire = await fire_time(client, report["id"])
    for week in range(4):
        await run_due_schedules(hub, fire + week * 7 * DAY + 1_000)
    runs = (await client.get(f"/api/v1/reports/{report['id']}/runs")).json()["items"]
    assert [r["status"] for r in runs] == ["failed"] * 3
    assert "no playlist" in runs[0]["error"]
    body = (await client.get(f"/api/v1/reports/{report['id']}")).json()
    assert body["paused"] is True and body["next_run_at"] is None
    assert await dispatcher.run_until_idle() == 1
    told = one_message(box)
    assert told["To"] == "owner@example.com"
    assert told["Subject"] == "Report paused: Weekly shop report"
    assert '"paused": false' in told.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    resumed = await client.patch(f"/api/v1/reports/{report['id']}", json={"paused": False})
    assert resumed.json()["paused"] is False


# --- Slack -------------------------------------------------------------------------------------


@pytest.mark.parametrize("features", [("slack",)], indirect=True)
async def test_slack_gets_the_report_and_its_chart_once(
        client: AsyncTestClient[Any], fake: FakeSlack, dispatcher: Dispatcher,
        clock: Clock) -> None:
    report = await create(client, filters={"app_id": APP}, deliver=[{"slack": CHANNEL}])
    fire = await fire_time(client, report["id"])
    await seed(client, fire)
    # Slack posts the message but the answer is lost: the retry finds it by its metadata.
    fake.fail("chat.postMessage", timeout_after_sending(fake))
    assert await run_due_schedules(hub_of(client), fire + 1_000) == 1
    for _ in range(3):  # the first try times out; later ones find the message and go on
        await dispatcher.run_until_idle()
        clock.now += 3600
    async with hub_of(client).db.read() as tx:
        [delivery] = (await tx.execute(select(Delivery))).scalars().all()
    assert delivery.status == "sent", delivery.last_error
    [message] = fake.hub_messages(CHANNEL)
    assert message.text.startswith("Weekly shop report")
    fields = next(b for b in message.blocks if b["type"] == "section" and "fields" in b)
    assert "*Sessions*\n4 (▲ 33.3%)" in [f["text"] for f in fields["fields"]]
    assert any("Cannot read properties" in b.get("text", {}).get("text", "")
               for b in message.blocks)
    [shared] = [m for m in fake.channels[CHANNEL] if m.files]
    [file_id] = shared.files
    assert fake.files[file_id]["data"].startswith(b"\x89PNG")
    assert shared.thread_ts is None  # in the channel, after the message
    assert fake.calls.count("files.getUploadURLExternal") == 1
    assert delivery.external_id == f"{CHANNEL}:{message.ts}"
    # deleting the report deletes its charts from the blob store
    chart = delivery.payload and json.loads(delivery.payload)["chart"]["blob"]
    assert chart.startswith(f"reports/{report['id']}/")
    assert await get_or_none(hub_of(client).blobs, chart) is not None
    assert (await client.delete(f"/api/v1/reports/{report['id']}")).status_code == 204
    assert await get_or_none(hub_of(client).blobs, chart) is None


@pytest.mark.parametrize("features", [("snapshots",)], indirect=True)
async def test_telling_replays_come_with_their_snapshot(
        client: AsyncTestClient[Any], mailbox: tuple[Mailbox, int],
        dispatcher: Dispatcher) -> None:
    from tests.conftest import recording
    from tests.helpers import ingest_recording, make_app

    box, _ = mailbox
    app_id, key = await make_app(client)
    session_id = await ingest_recording(client, key, recording("broken"))
    report = await create(client, filters={"app_id": app_id}, period="P366D")
    sent = await client.post(f"/api/v1/reports/{report['id']}/run")
    assert sent.json()["status"] == "succeeded", sent.text
    assert await dispatcher.run_until_idle() == 1
    message = one_message(box)
    markup = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert f"/replays/{session_id}?t=" in markup and 'src="cid:replay-1"' in markup
    pictures = {part["Content-ID"]: part.get_content() for part in message.walk()
                if part.get_content_type() == "image/png"}
    assert set(pictures) == {"<chart>", "<replay-1>"}
    assert pictures["<replay-1>"].startswith(b"\x89PNG")
