"""Alerts end to end on SQLite and PostgreSQL: recordings are ingested, the tick runs with an
injected clock, and the outbox rows it leaves are what the Slack, Teams and e-mail senders get.

The dispatcher and the scheduler are off: a delivery the chat sender would have posted is
marked sent with a vendor message id, as the dispatcher does, so updates and threads follow."""

from __future__ import annotations

import asyncio
import copy
import json
import time
import uuid
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from replayhub.alerts import alerts_tick, playlist_new_sessions, resolve_error
from replayhub.config import Settings
from replayhub.db.models import AlertState, Delivery, ErrorGroup
from replayhub.hub import Hub
from replayhub.replay.share import read_share_token
from replayhub.security import create_token
from tests.conftest import ADMIN, recording
from tests.helpers import make_app, send

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
WEBHOOK = "https://prod-1.westeurope.logic.azure.com/workflows/x/invoke?sig=TopSecret"
DIRECTORY = {
    "people": [{"email": "ada@example.com", "name": "Ada Lovelace", "slack": "U0ADA",
                "teams": "ada@corp.example.com"},
               {"email": "bob@example.com", "name": "Bob"}],
    "teams": [{"name": "payments", "members": ["ada@example.com"], "slack_channel": "C0PAY",
               "teams_webhook": WEBHOOK, "email": "payments@example.com"},
              {"name": "web", "members": ["bob@example.com"], "slack_channel": "C0WEB"}],
    "ownership": [{"name": "pay pages", "match": {"url": "*broken*"},
                   "owners": ["team:payments"]}],
    "smtp": {"host": "127.0.0.1", "port": 2525},
    "outbox": {"dispatcher": False},
    "scheduler": {"enabled": False},
    "connectors": {"slack": {"enabled": True, "bot_token": "xoxb-alerts-test",
                             "signing_secret": "alerts-test-signing-secret"},
                   "teams": {"enabled": True}},
}
NEW = {"name": "new errors", "on": "error.new", "match": {"error": "TypeError:*"}}
BACK = {"name": "regressions", "on": "error.regressed", "match": {"error": "TypeError:*"}}


def shared_moment(client: AsyncTestClient[Any], url: str) -> tuple[str, int]:
    """The session and moment a share link opens."""
    share = read_share_token(client.hub.secret_key,  # type: ignore[attr-defined]
                             url.rsplit("/share/", 1)[1])
    return share.session_id, share.t


@pytest.fixture
def rules() -> list[dict[str, Any]]:
    """The `[[alerts]]` rules of a test (parametrized by each test that has some)."""
    return []


def with_rules(*rules: dict[str, Any]) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("rules", [list(rules)], ids=["rules"])


@pytest.fixture
def settings(tmp_path: Path, database_url: str, rules: list[dict[str, Any]]) -> Settings:
    return msgspec.convert({"data_dir": str(tmp_path / "var"), "database_url": database_url,
                            "admin_token": ADMIN, "alerts": rules, **DIRECTORY}, Settings)


async def ingest(client: AsyncTestClient[Any], key: str, name: str, at: int,
                 user: str = "alan") -> str:
    """The recording as a new session of `user`, its first event at `at` (epoch ms)."""
    source = recording(name)
    session_id = str(uuid.uuid4())
    shift = at - source["batches"][0]["events"][0]["timestamp"]
    for batch in copy.deepcopy(source["batches"]):
        batch.pop("app_key", None)
        batch["session_id"] = session_id
        batch["user"] = {"id": f"user-{user}", "email": f"{user}@example.com", "name": user}
        for event in batch["events"]:
            event["timestamp"] += shift
        response = await send(client, key, batch)
        assert response.status_code == 202, response.text
    await client.hub.ingestor.close_quiet_sessions(quiet_ms=0)
    return session_id


async def deliveries(client: AsyncTestClient[Any]) -> list[Delivery]:
    async with client.hub.db.read() as tx:
        rows = (await tx.execute(select(Delivery).order_by(Delivery.created_at, Delivery.id)))
        return list(rows.scalars())


async def new_deliveries(client: AsyncTestClient[Any], seen: list[Delivery]) -> list[Delivery]:
    known = {row.id for row in seen}
    return [row for row in await deliveries(client) if row.id not in known]


def payload(row: Delivery) -> dict[str, Any]:
    return json.loads(row.payload)  # type: ignore[no-any-return]


def by_target(rows: list[Delivery]) -> dict[str, Delivery]:
    return {(payload(row).get("channel") or ",".join(payload(row).get("to", []))): row
            for row in rows}


async def mark_sent(client: AsyncTestClient[Any], row: Delivery, external_id: str) -> None:
    async with client.hub.db.write() as tx:
        await tx.execute(update(Delivery).where(Delivery.id == row.id).values(
            status="sent", external_id=external_id))


async def fingerprint(client: AsyncTestClient[Any]) -> str:
    async with client.hub.db.read() as tx:
        return str((await tx.execute(select(ErrorGroup.fingerprint).where(
            ErrorGroup.type == "TypeError"))).scalar_one())


async def start(client: AsyncTestClient[Any], now: int) -> str:
    """An app, and a first tick that sets the cursors (history never alerts)."""
    _, key = await make_app(client)
    assert await alerts_tick(client.hub, now) == 0
    return key


@with_rules(NEW)
async def test_a_new_error_fires_once_per_cooldown_to_its_owners(
        client: AsyncTestClient[Any]) -> None:
    t0 = int(time.time() * 1000) - 2 * HOUR
    key = await start(client, t0)
    session = await ingest(client, key, "broken", t0)
    assert await alerts_tick(client.hub, t0 + MINUTE) == 3
    rows = by_target(await deliveries(client))
    assert set(rows) == {"C0PAY", "team:payments", "payments@example.com"}
    slack, teams, mail = rows["C0PAY"], rows["team:payments"], rows["payments@example.com"]
    assert (slack.connector, slack.action, teams.connector) == ("slack", "chat_alert", "teams")
    assert (mail.connector, mail.action) == ("email", "email")
    alert = payload(slack)["alert"]
    assert alert["kind"] == "error.new" and alert["title"].startswith("New error: TypeError")
    assert (alert["sessions"], alert["users"]) == (1, 1)
    assert alert["mentions"] == [{"email": "ada@example.com", "name": "Ada Lovelace",
                                  "slack": "U0ADA", "teams": "ada@corp.example.com"}]
    assert alert["replay_url"].startswith("http://127.0.0.1:8000/share/")
    assert alert["snapshot"]["session_id"] == session and alert["session_id"] == session
    assert "snapshot_url" not in alert  # no public URL: the hub cannot be fetched from chat
    assert alert["facts"]["fingerprint"] == await fingerprint(client)
    assert payload(slack)["message_id"] is None and payload(slack)["thread_of"] is None
    assert WEBHOOK not in slack.payload + teams.payload + mail.payload
    assert payload(mail)["subject"].startswith("[ReplayHub] New error: TypeError")
    assert alert["replay_url"] in payload(mail)["html"]

    assert await alerts_tick(client.hub, t0 + 2 * MINUTE) == 0
    async with client.hub.db.write() as tx:  # as if the hub died before recording the post
        await tx.execute(update(AlertState).values(needs_post=True))
    await alerts_tick(client.hub, t0 + 3 * MINUTE)
    assert len(await deliveries(client)) == 3


@with_rules(NEW)
async def test_a_posted_message_is_not_edited_until_its_counts_move(
        client: AsyncTestClient[Any]) -> None:
    t0 = int(time.time() * 1000) - 2 * HOUR
    key = await start(client, t0)
    await ingest(client, key, "broken", t0)
    await alerts_tick(client.hub, t0 + MINUTE)
    posted = await deliveries(client)
    for row in posted:
        await mark_sent(client, row, f"C0PAY:1800000000.{len(row.id):06d}")
    await alerts_tick(client.hub, t0 + 2 * MINUTE)  # the same rows are read again: same counts
    assert await new_deliveries(client, posted) == []
    await ingest(client, key, "broken", t0 + 3 * MINUTE, user="grace")
    await alerts_tick(client.hub, t0 + 4 * MINUTE)
    [edit] = await new_deliveries(client, posted)
    assert payload(edit)["message_id"] and payload(edit)["alert"]["sessions"] == 2


@with_rules(NEW)
async def test_two_hub_processes_ticking_at_once_post_once(client: AsyncTestClient[Any]) -> None:
    t0 = int(time.time() * 1000) - 2 * HOUR
    key = await start(client, t0)
    await ingest(client, key, "broken", t0)
    other = Hub.from_settings(client.hub.settings)
    try:
        await asyncio.gather(alerts_tick(client.hub, t0 + MINUTE), alerts_tick(other, t0 + MINUTE),
                             alerts_tick(other, t0 + MINUTE + 1))
    finally:
        await other.stop()
    assert sorted(by_target(await deliveries(client))) == [
        "C0PAY", "payments@example.com", "team:payments"]
    assert len(await deliveries(client)) == 3


@with_rules(NEW)
async def test_later_sessions_update_the_message_instead_of_posting(
        client: AsyncTestClient[Any]) -> None:
    t0 = int(time.time() * 1000) - 2 * HOUR
    key = await start(client, t0)
    await ingest(client, key, "broken", t0)
    await alerts_tick(client.hub, t0 + MINUTE)
    posted = await deliveries(client)
    await ingest(client, key, "broken", t0 + 2 * MINUTE, user="grace")
    assert await alerts_tick(client.hub, t0 + 3 * MINUTE) == 0  # not posted yet: waits
    await mark_sent(client, by_target(posted)["C0PAY"], "C0PAY:1790000000.000100")
    await ingest(client, key, "broken", t0 + 4 * MINUTE, user="edsger")
    assert await alerts_tick(client.hub, t0 + 5 * MINUTE) == 1
    [edit] = await new_deliveries(client, posted)
    body = payload(edit)
    assert (edit.connector, body["channel"], body["message_id"]) == (
        "slack", "C0PAY", "C0PAY:1790000000.000100")
    assert (body["alert"]["sessions"], body["alert"]["users"]) == (3, 3)
    # the edit opens the same moment of the same replay (its link is signed again)
    first_link = payload(by_target(posted)["C0PAY"])["alert"]["replay_url"]
    assert shared_moment(client, body["alert"]["replay_url"]) == shared_moment(client,
                                                                               first_link)
    assert await alerts_tick(client.hub, t0 + 6 * MINUTE) == 0


@with_rules({**NEW, "cooldown": "30m"})
async def test_after_the_cooldown_a_new_error_alert_needs_a_new_error(
        client: AsyncTestClient[Any]) -> None:
    t0 = int(time.time() * 1000) - 3 * HOUR
    key = await start(client, t0)
    await ingest(client, key, "broken", t0)
    await alerts_tick(client.hub, t0 + MINUTE)
    posted = await deliveries(client)
    await ingest(client, key, "broken", t0 + HOUR, user="grace")
    await alerts_tick(client.hub, t0 + HOUR + MINUTE)
    assert await new_deliveries(client, posted) == []  # the error is not new any more


@with_rules(NEW, BACK)
async def test_resolving_updates_the_message_and_a_regression_replies_in_its_thread(
        client: AsyncTestClient[Any]) -> None:
    now = int(time.time() * 1000)
    key = await start(client, now - 2 * HOUR)
    await ingest(client, key, "broken", now - 2 * HOUR)
    await alerts_tick(client.hub, now - 2 * HOUR + MINUTE)
    posted = await deliveries(client)
    await mark_sent(client, by_target(posted)["C0PAY"], "C0PAY:111.000")
    fp = await fingerprint(client)

    viewer = await create_token(client.hub.db, "reader", "viewer")
    refused = await client.post(f"/api/v1/errors/{fp}/resolve",
                                headers={"Authorization": f"Bearer {viewer}"})
    assert refused.status_code == 403
    missing = await client.post("/api/v1/errors/nosuchprint/resolve")
    assert missing.status_code == 404 and missing.json()["status"] == 404
    answer = await client.post(f"/api/v1/errors/{fp}/resolve")
    assert answer.status_code == 200, answer.text
    assert answer.json()["fingerprint"] == fp
    [edit] = await new_deliveries(client, posted)
    assert payload(edit)["message_id"] == "C0PAY:111.000"
    assert payload(edit)["alert"]["resolved"] is True
    assert payload(edit)["alert"]["facts"]["resolved_by"] == answer.json()["resolved_by"]
    await resolve_error(client.hub, fp, "again")  # resolving twice changes nothing
    assert len(await deliveries(client)) == len(posted) + 1

    seen = await deliveries(client)
    await ingest(client, key, "broken", now + MINUTE, user="grace")
    await alerts_tick(client.hub, now + 2 * MINUTE)
    fresh = await new_deliveries(client, seen)
    replies = [row for row in fresh if payload(row).get("thread_of")]
    assert [payload(row)["channel"] for row in replies] == ["C0PAY"]
    assert payload(replies[0])["thread_of"] == "C0PAY:111.000"
    assert payload(replies[0])["alert"]["kind"] == "error.regressed"
    assert payload(replies[0])["alert"]["title"].startswith("Error is back")
    reopened = [row for row in fresh if payload(row).get("message_id")]
    assert [payload(row)["alert"].get("resolved", False) for row in reopened] == [False]
    assert {payload(row).get("channel") or payload(row)["to"][0] for row in fresh} == {
        "C0PAY", "team:payments", "payments@example.com"}


SPIKE = {"name": "spikes", "on": "error.spike", "notify": ["team:web"], "spike_min": 3,
         "spike_ratio": 2.0, "match": {"error": "TypeError:*"}}


@with_rules(SPIKE)
async def test_a_spike_against_the_same_hour_last_week_alerts(
        client: AsyncTestClient[Any]) -> None:
    now = int(time.time() * 1000)
    key = await start(client, now - 10 * DAY)
    await ingest(client, key, "broken", now - 3 * DAY - 30 * MINUTE)  # baseline mean 1/7
    for minute in (50, 40, 30):
        await ingest(client, key, "broken", now - minute * MINUTE, user=f"u{minute}")
    assert await alerts_tick(client.hub, now) == 1
    [row] = await deliveries(client)
    alert = payload(row)["alert"]
    assert (payload(row)["channel"], alert["kind"]) == ("C0WEB", "error.spike")
    assert alert["sessions"] == 3 and "in the last hour" in alert["summary"]
    assert alert["mentions"] == [{"email": "bob@example.com", "name": "Bob"}]


@with_rules(SPIKE)
async def test_no_spike_when_the_hour_is_as_busy_as_usual(client: AsyncTestClient[Any]) -> None:
    now = int(time.time() * 1000)
    key = await start(client, now - 10 * DAY)
    for day in range(1, 8):
        for user in ("a", "b"):
            await ingest(client, key, "broken", now - day * DAY - 30 * MINUTE, user=user)
    for minute in (50, 40, 30):
        await ingest(client, key, "broken", now - minute * MINUTE, user=f"u{minute}")
    assert await alerts_tick(client.hub, now) == 0
    assert await deliveries(client) == []


RAGE = {"name": "rage", "on": "frustration", "signals": ["rage_click"],
        "notify": ["team:web", "oncall@example.com"]}


@with_rules(RAGE)
async def test_rage_clicks_alert_explicit_targets_and_later_ones_update(
        client: AsyncTestClient[Any]) -> None:
    t0 = int(time.time() * 1000) - HOUR
    key = await start(client, t0)
    await ingest(client, key, "spinner", t0)  # a dead click only: not this rule's signal
    assert await alerts_tick(client.hub, t0 + MINUTE) == 0
    await ingest(client, key, "rage", t0 + 2 * MINUTE, user="katherine")
    assert await alerts_tick(client.hub, t0 + 3 * MINUTE) == 2
    rows = by_target(await deliveries(client))
    assert set(rows) == {"C0WEB", "oncall@example.com"}
    alert = payload(rows["C0WEB"])["alert"]
    assert alert["kind"] == "frustration" and "button#apply-coupon" in alert["title"]
    assert "rage clicks" in alert["summary"] and alert["sessions"] == 1
    assert alert["page_url"].endswith("/rage.html")
    posted = await deliveries(client)
    await mark_sent(client, rows["C0WEB"], "C0WEB:222.000")
    await ingest(client, key, "rage", t0 + 4 * MINUTE, user="dorothy")
    await alerts_tick(client.hub, t0 + 5 * MINUTE)
    [edit] = await new_deliveries(client, posted)
    assert payload(edit)["message_id"] == "C0WEB:222.000"
    assert (payload(edit)["alert"]["sessions"], payload(edit)["alert"]["users"]) == (2, 2)


@with_rules({**NEW, "match": {"error": "TypeError:*", "app": "Admin"}},
                     {"name": "named", "on": "error.new", "match": {"error": "TypeError:*"},
                      "notify": ["team:web", "owners"]})
async def test_owners_and_named_targets_together_and_rules_that_do_not_match(
        client: AsyncTestClient[Any]) -> None:
    t0 = int(time.time() * 1000) - HOUR
    key = await start(client, t0)
    await ingest(client, key, "broken", t0)
    await alerts_tick(client.hub, t0 + MINUTE)
    rows = await deliveries(client)
    assert {payload(row).get("channel") or payload(row)["to"][0] for row in rows} == {
        "C0WEB", "C0PAY", "team:payments", "payments@example.com"}
    assert all(payload(row)["alert"]["facts"]["Rule"] == "named"
               for row in rows if row.action == "chat_alert")
    mentions = payload(by_target(rows)["C0WEB"])["alert"]["mentions"]
    assert [person["email"] for person in mentions] == ["bob@example.com", "ada@example.com"]


@with_rules({**NEW, "digest": "FREQ=DAILY;BYHOUR=9", "timezone": "UTC"})
async def test_a_digest_rule_sends_one_message_at_its_time(client: AsyncTestClient[Any]) -> None:
    now = int(time.time() * 1000)
    key = await start(client, now - HOUR)
    await ingest(client, key, "broken", now - 50 * MINUTE)
    await ingest(client, key, "broken", now - 40 * MINUTE, user="grace")
    assert await alerts_tick(client.hub, now - 30 * MINUTE) == 0
    assert await deliveries(client) == []
    next_nine = now // DAY * DAY + 9 * HOUR
    if next_nine <= now - 30 * MINUTE:
        next_nine += DAY
    assert await alerts_tick(client.hub, next_nine - 1) == 0
    assert await alerts_tick(client.hub, next_nine + 1) == 3
    rows = by_target(await deliveries(client))
    alert = payload(rows["C0PAY"])["alert"]
    assert alert["title"] == "new errors: 1 alert (new error)"
    assert alert["sessions"] == 2 and len(alert["facts"]) == 1
    assert await alerts_tick(client.hub, next_nine + 2 * MINUTE) == 0


async def test_playlist_watchers_hear_of_new_sessions_once_per_cooldown(
        client: AsyncTestClient[Any]) -> None:
    t0 = int(time.time() * 1000) - HOUR
    key = await start(client, t0)
    first = await ingest(client, key, "rage", t0, user="katherine")
    second = await ingest(client, key, "rage", t0 + MINUTE, user="dorothy")
    hub = client.hub
    assert await playlist_new_sessions(hub, "pl_1", "Coupon trouble", [first], ["team:web"],
                                       now_ms=t0 + 2 * MINUTE) == 1
    [post] = await deliveries(client)
    alert = payload(post)["alert"]
    assert (payload(post)["channel"], alert["kind"]) == ("C0WEB", "playlist.new_sessions")
    assert alert["title"] == "New sessions in Coupon trouble" and alert["sessions"] == 1
    await mark_sent(client, post, "C0WEB:333.000")
    assert await playlist_new_sessions(hub, "pl_1", "Coupon trouble", [second], ["team:web"],
                                       now_ms=t0 + 3 * MINUTE) == 1
    [edit] = await new_deliveries(client, [post])
    assert payload(edit)["message_id"] == "C0WEB:333.000"
    assert payload(edit)["alert"]["sessions"] == 2


async def test_a_bad_share_link_has_no_snapshot(client: AsyncTestClient[Any]) -> None:
    response = await client.get("/share/not-a-token/snapshot.png",
                                headers={"Authorization": ""})
    assert response.status_code == 403
