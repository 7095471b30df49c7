"""Post-mortem draft of an incident over 1,000,000 synthetic sessions on SQLite: time to the
rendered draft against the raw SQL aggregates alone, measured in the same run.

The base database is bench/search.py's (same generator, same cache: 1,000,000 sessions over
the 30 days before 2026-01-01). A copy of it gets frustration signals for every session whose
counters say it has some, then an incident on 2025-12-30 14:00-15:30 UTC: one or two new error
fingerprints spike on the checkout page against a quiet baseline week, with rage and dead
clicks, until the 105-minute impact window (15 minutes before the start to the resolution)
holds exactly 3,000 error events and 1,000 affected sessions, background included. The incident
row is made by `create_incident`. The copy is cached under bench/results/postmortem-db/.

Timed: `render_postmortem(hub, incident, "markdown")` and `"html"`, cold (a new Hub: new
connections, empty SQLite page cache, templates not compiled) and warm (p50 over repeats), and
the same figures computed by hand-written SQL on a plain sqlite3 connection (the baseline).
Goal: the draft in under 2 s on SQLite.

    python bench/postmortem.py [--quick] [--sessions N] [--reps N] [--cold-reps N] [--rebuild]
                                [--index]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import json
import random
import shutil
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import search as base_data
from _common import RESULTS, machine, percentile, save_result, table

from replayhub import postmortem
from replayhub.blobs import LocalBlobStore
from replayhub.config import Settings
from replayhub.db.engine import Database
from replayhub.hub import Hub
from replayhub.incidents import create_incident, get_incident
from replayhub.index.errors import DAY, HOUR
from replayhub.index.impact import SESSION_SPAN
from replayhub.ingest.store import Ingestor
from replayhub.logs import configure_logging
from replayhub.postmortem import postmortem_context, render_postmortem
from replayhub.signing import load_secret_key

GENERATOR_VERSION = 1
"""Bump when the incident data changes, so cached copies are rebuilt."""
APP_ID = base_data.APP_ID
MINUTE = 60_000
START = base_data.END - 2 * DAY + 14 * HOUR  # 2025-12-30T14:00:00Z
RESOLVED = START + 90 * MINUTE
TARGET_ERRORS = 3_000
TARGET_SESSIONS = 1_000
GOAL_SECONDS = 2.0
CHECKOUT = "https://shop.example.test/checkout/payment"
SPIKES = [  # the first from the start; the second joins it 20 minutes in (half of the later)
    ("TypeError", "Cannot read properties of undefined (reading 'grandTotal')"),
    ("NetworkError", "POST /api/checkout/confirm failed: 502"),
]
SELECTORS = ["button.add-to-cart", "a.product-link", "div.price", "button#search",
             "img.hero", "span.badge", "button.apply-coupon", "a.next-page", "div.rating",
             "button#pay-now", "input#quantity", "li.size-option"]
CANDIDATE_INDEX = ("ix_frustrations_t",
                   "CREATE INDEX ix_frustrations_t ON frustrations (t, session_id)")
"""Signals by time: the window's signals without walking a day of sessions (see --index)."""
FRUSTRATION_SQL = (
    "INSERT INTO frustrations (session_id, t, kind, selector, url, clicks, error_fingerprint) "
    "VALUES (?, ?, ?, ?, ?, ?, NULL)")


# --- the data ------------------------------------------------------------------------------


def hub_settings(data_dir: Path) -> Settings:
    return Settings(data_dir=str(data_dir), log_level="warning")


def make_hub(data_dir: Path) -> Hub:
    """`Hub.from_settings` without the connectors: a draft calls none of them."""
    settings = hub_settings(data_dir)
    db = Database.from_settings(settings)
    blobs = LocalBlobStore(settings.data_path / "blobs")
    return Hub(settings, db, blobs, Ingestor(db, blobs),
               secret_key=load_secret_key(settings.secret_key, settings.data_path))


def window(settings: Settings) -> tuple[int, int]:
    return START - settings.incidents.window_before_minutes * MINUTE, RESOLVED


def session_id(rng: random.Random) -> str:
    return "%08x-%04x-4%03x-a%03x-%012x" % (  # noqa: UP031 (the base generator's form)
        rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(12), rng.getrandbits(12),
        rng.getrandbits(48))


def add_background_frustrations(db: sqlite3.Connection, rng: random.Random) -> int:
    """A frustrations row per rage/dead/error click the base sessions' counters claim."""
    rows = []
    for sid, started, duration, url, rage, dead, error_clicks in db.execute(
            "SELECT id, started_at, duration_ms, first_url, rage_click_count, dead_click_count, "
            "error_click_count FROM sessions WHERE rage_click_count > 0 "
            "OR dead_click_count > 0 OR error_click_count > 0"):
        for kind, count in (("rage_click", rage), ("dead_click", dead),
                            ("error_click", error_clicks)):
            for _ in range(count):
                clicks = rng.randint(3, 7) if kind == "rage_click" else 1
                rows.append((sid, started + rng.randrange(duration), kind,
                             rng.choice(SELECTORS), url, clicks))
    db.executemany(FRUSTRATION_SQL, rows)
    return len(rows)


def add_groups(db: sqlite3.Connection) -> list[int]:
    """The spiking error groups, new to the app."""
    ids = []
    for type_, message in SPIKES:
        fingerprint = hashlib.sha256(f"{type_}\n{message}".encode()).hexdigest()[:16]
        cursor = db.execute(
            "INSERT INTO error_groups (app_id, fingerprint, type, message, first_seen, "
            "last_seen) VALUES (?, ?, ?, ?, ?, ?)",
            (APP_ID, fingerprint, type_, message, START - 7 * DAY, RESOLVED))
        ids.append(int(cursor.lastrowid or 0))
    return ids


def insert_session(db: sqlite3.Connection, rng: random.Random, started: int, ended: int,
                   errors: list[tuple[int, int]], signals: list[tuple[int, str, str]],
                   users: list[float]) -> None:
    """One checkout session with these (t, group id) errors and (t, kind, selector) signals."""
    sid = session_id(rng)
    user = rng.choices(range(base_data.USERS), cum_weights=users)[0]
    identified = rng.random() < base_data.IDENTIFIED_SHARE
    key = f"user-{user}" if identified else sid
    rage = sum(kind == "rage_click" for _, kind, _ in signals)
    dead = sum(kind == "dead_click" for _, kind, _ in signals)
    browser, os_name, device = rng.choice(base_data.BROWSERS)
    db.execute(
        "INSERT INTO sessions (id, app_id, started_at, ended_at, duration_ms, user_id, "
        "user_email, user_name, first_url, last_url, user_agent, browser, os, device, "
        "viewport_width, viewport_height, page_count, click_count, error_count, "
        "rage_click_count, dead_click_count, error_click_count, event_count, size_bytes, "
        "segment_count, indexed_seq, needs_close, created_at, updated_at) VALUES "
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 3, ?, ?, ?, ?, 0, 400, 72000, 7, 6, "
        "0, ?, ?)",
        (sid, APP_ID, started, ended, ended - started, key if identified else None,
         f"user{user}@example.com" if identified else None,
         f"User {user}" if identified else None, "https://shop.example.test/cart", CHECKOUT,
         f"Mozilla/5.0 ({os_name}) {browser}", browser, os_name, device,
         1280 if device == "Desktop" else 390, 720 if device == "Desktop" else 844,
         12 + rage * 4 + dead, len(errors), rage, dead, started, ended))
    db.executemany("INSERT INTO session_urls (url_id, session_id, started_at) VALUES (?, ?, ?)",
                   [(2, sid, started), (3, sid, started), (4, sid, started)])
    stack = "at confirm (https://shop.example.test/static/checkout.js:1:987)"
    db.executemany(
        "INSERT INTO error_events (session_id, group_id, t, user_key, type, message, stack, "
        "url, source) SELECT ?, id, ?, ?, type, message, ?, ?, 'console' FROM error_groups "
        "WHERE id = ?", [(sid, t, key, stack, CHECKOUT, group) for t, group in errors])
    db.executemany(FRUSTRATION_SQL, [(sid, t, kind, selector, CHECKOUT,
                                      rng.randint(3, 9) if kind == "rage_click" else 1)
                                     for t, kind, selector in signals])


def add_baseline_week(db: sqlite3.Connection, rng: random.Random, groups: list[int],
                      since: int, until: int, users: list[float]) -> int:
    """A quiet week: the first fingerprint 1-3 times a day in the same window, the second
    never."""
    added = 0
    for day in range(1, 8):
        for _ in range(rng.randint(1, 3)):
            t = rng.randrange(since - day * DAY, until - day * DAY)
            insert_session(db, rng, t - 30_000, t + 60_000, [(t, groups[0])], [], users)
            added += 1
    return added


def add_incident_sessions(db: sqlite3.Connection, rng: random.Random, groups: list[int],
                          sessions: int, errors: int, until: int, users: list[float]) -> None:
    """`sessions` checkout sessions holding `errors` errors, peaking 25 minutes in; a third
    with rage clicks on the pay button, some with dead clicks on the order summary."""
    extra = [0] * sessions
    for index in rng.choices(range(sessions), k=errors - sessions):
        extra[index] += 1
    for count in (1 + n for n in extra):
        first = int(rng.triangular(START - 5 * MINUTE, RESOLVED - MINUTE, START + 25 * MINUTE))
        times = [first]
        for _ in range(count - 1):
            times.append(min(times[-1] + int(rng.expovariate(1 / 20_000)) + 500, until - 1))
        hits = [(t, groups[1] if t > START + 20 * MINUTE and rng.random() < 0.5 else groups[0])
                for t in times]
        signals = []
        if rng.random() < 0.35:
            signals.append((min(first + rng.randint(1_000, 15_000), until - 1), "rage_click",
                            "button#pay-now"))
        if rng.random() < 0.15:
            signals.append((min(first + rng.randint(2_000, 30_000), until - 1), "dead_click",
                            "div.order-summary"))
        started = first - rng.randint(5_000, 180_000)
        last = max([*times, *(t for t, _, _ in signals)])
        insert_session(db, rng, started, last + rng.randint(10_000, 300_000), hits, signals,
                       users)


def build_copy(base_dir: Path, data_dir: Path, settings: Settings) -> dict[str, Any]:
    """The base database copied, then the frustrations, the quiet week and the incident."""
    source = sqlite3.connect(base_dir / "replayhub.db")
    source.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    source.close()
    data_dir.mkdir(parents=True)
    path = data_dir / "replayhub.db"
    shutil.copyfile(base_dir / "replayhub.db", path)
    rng = random.Random(23)
    users = list(itertools.accumulate(base_data.zipf_weights(base_data.USERS, 0.6)))
    since, until = window(settings)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous=OFF")
    db.execute("BEGIN")
    signals = add_background_frustrations(db, rng)
    groups = add_groups(db)
    quiet = add_baseline_week(db, rng, groups, since, until, users)
    db.execute("COMMIT")
    background = raw_figures(db, since, until, settings.incidents.max_replays)
    sessions = TARGET_SESSIONS - background["affected_sessions"]
    errors = TARGET_ERRORS - background["errors"]
    db.execute("BEGIN")
    add_incident_sessions(db, rng, groups, sessions, errors, until, users)
    db.execute("COMMIT")
    db.execute("ANALYZE")
    db.close()
    return {"background_frustrations": signals, "baseline_week_sessions": quiet,
            "background_in_window": {"errors": background["errors"],
                                     "affected_sessions": background["affected_sessions"]},
            "incident_sessions": sessions, "incident_errors": errors}


async def make_incident(data_dir: Path) -> str:
    hub = make_hub(data_dir)
    try:
        return await create_incident(
            hub, title="Checkout payment step failing", started_at=START, resolved_at=RESOLVED,
            service="checkout", app_ids=[APP_ID], url_patterns=None)
    finally:
        await hub.stop()


def cached_database(sessions: int, rebuild: bool) -> tuple[Path, dict[str, Any]]:
    """The incident's data dir for this size (and the base database's schema), built if it is
    not cached."""
    started = time.perf_counter()
    base_dir, base_facts = base_data.cached_database(sessions, rebuild=False)
    base_seconds = time.perf_counter() - started
    data_dir = RESULTS / "postmortem-db" / f"{base_dir.name}-v{GENERATOR_VERSION}"
    facts_path = data_dir / "facts.json"
    if facts_path.exists() and not rebuild:
        print(f"  using the cached incident database {data_dir}")
        return data_dir, json.loads(facts_path.read_text())
    for stale in data_dir.parent.glob(f"{sessions}-*"):  # copies for an older schema: ~1 GB
        shutil.rmtree(stale, ignore_errors=True)
    print(f"  copying {base_dir.name} and adding the incident into {data_dir}")
    started = time.perf_counter()
    settings = hub_settings(data_dir)
    facts = build_copy(base_dir, data_dir, settings)
    facts["incident_id"] = asyncio.run(make_incident(data_dir))
    facts["incident_build_seconds"] = round(time.perf_counter() - started, 1)
    facts["base_build_seconds"] = base_facts.get("build_seconds")
    facts["base_seconds_this_run"] = round(base_seconds, 1)
    facts_path.write_text(json.dumps(facts))
    print(f"  incident data added in {facts['incident_build_seconds']} s")
    return data_dir, facts


# --- the baseline: the same figures by hand-written SQL --------------------------------------

HITS = """
WITH hits(session_id, t, is_error) AS (
  SELECT e.session_id, e.t, 1 FROM error_events e
  WHERE e.t >= :since AND e.t < :until
    AND e.group_id IN (SELECT id FROM error_groups WHERE app_id = :app)
  UNION ALL
  SELECT f.session_id, f.t, 0 FROM sessions s JOIN frustrations f ON f.session_id = s.id
  WHERE s.app_id = :app AND s.started_at >= :since - :span AND s.started_at < :until
    AND s.ended_at >= :since
    AND (s.rage_click_count > 0 OR s.dead_click_count > 0 OR s.error_click_count > 0)
    AND f.t >= :since AND f.t < :until
),
affected AS (
  SELECT h.session_id, sum(h.is_error) AS errors, sum(1 - h.is_error) AS frustrations,
         min(CASE WHEN h.is_error THEN h.t END) AS first_error, min(h.t) AS first_signal,
         coalesce(s.user_id, s.user_email, s.id) AS user_key,
         coalesce(s.user_email, s.user_id, 'anonymous') AS label
  FROM hits h JOIN sessions s ON s.id = h.session_id GROUP BY h.session_id
)
"""
SIGNALS = """
FROM sessions s JOIN frustrations f ON f.session_id = s.id
WHERE s.app_id = :app AND s.started_at >= :since - :span AND s.started_at < :until
  AND s.ended_at >= :since
  AND (s.rage_click_count > 0 OR s.dead_click_count > 0 OR s.error_click_count > 0)
  AND f.t >= :since AND f.t < :until
"""
IN_WINDOW = """
FROM error_events e
WHERE e.t >= :since AND e.t < :until
  AND e.group_id IN (SELECT id FROM error_groups WHERE app_id = :app)
"""
QUERIES = {
    "groups": """
        SELECT g.id, g.fingerprint, g.type, g.message, count(*), count(DISTINCT e.session_id),
               count(DISTINCT e.user_key)
        FROM error_events e JOIN error_groups g ON g.id = e.group_id
        WHERE e.t >= :since AND e.t < :until AND g.app_id = :app GROUP BY g.id""",
    "baseline": """
        WITH days(d) AS (VALUES (1), (2), (3), (4), (5), (6), (7))
        SELECT e.group_id, d, count(*) FROM days
        JOIN error_events e ON e.t >= :since - d * :day AND e.t < :until - d * :day
        WHERE e.group_id IN (SELECT value FROM json_each(:ids)) GROUP BY e.group_id, d""",
    "affected": HITS + "SELECT count(*), count(DISTINCT user_key) FROM affected",
    "first_last": HITS + """
        SELECT * FROM (SELECT session_id, first_signal, label FROM affected
                       ORDER BY first_signal, session_id LIMIT 1)
        UNION ALL
        SELECT * FROM (SELECT session_id, first_signal, label FROM affected
                       ORDER BY first_signal DESC, session_id DESC LIMIT 1)""",
    "replays": HITS + """,
        ranked AS (
          SELECT *, first_error IS NULL AS tier,
                 CASE WHEN first_error IS NOT NULL THEN abs(first_error - :start)
                      ELSE -frustrations END AS k1,
                 CASE WHEN first_error IS NOT NULL THEN -frustrations
                      ELSE first_signal END AS k2
          FROM affected),
        numbered AS (
          SELECT *, row_number() OVER (PARTITION BY user_key
                                       ORDER BY tier, k1, k2, session_id) AS nth
          FROM ranked)
        SELECT n.session_id, n.label, n.errors, n.frustrations, n.first_error, s.started_at
        FROM numbered n JOIN sessions s ON s.id = n.session_id
        ORDER BY n.nth > 1, n.tier, n.k1, n.k2, n.session_id LIMIT :replays""",
    "buckets": f"""
        SELECT b, sum(is_error), count(DISTINCT user_key) FROM (
          SELECT (e.t - :since) / :width AS b, 1 AS is_error, e.user_key AS user_key
          {IN_WINDOW}
          UNION ALL
          SELECT (f.t - :since) / :width, 0, coalesce(s.user_id, s.user_email, s.id)
          {SIGNALS}
        ) GROUP BY b""",
    "first_error": f"SELECT e.t, e.type, e.message {IN_WINDOW} ORDER BY e.t, e.id LIMIT 1",
    "pages": f"""
        SELECT f.url, count(*) AS n, count(DISTINCT f.session_id) {SIGNALS}
        GROUP BY f.url ORDER BY n DESC, f.url""",
    "elements": f"""
        SELECT f.selector, f.url, count(*) AS n, count(DISTINCT f.session_id) {SIGNALS}
        GROUP BY f.selector, f.url ORDER BY n DESC, f.selector, f.url LIMIT 50""",
}


def raw_connection(path: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection with the hub's read pragmas."""
    db = sqlite3.connect(path, isolation_level=None)
    for pragma in ("busy_timeout=10000", "cache_size=-65536", "temp_store=MEMORY"):
        db.execute(f"PRAGMA {pragma}")
    return db


def raw_figures(db: sqlite3.Connection, since: int, until: int, replays: int) -> dict[str, Any]:
    """Every figure of the draft, each from one SQL statement."""
    width = postmortem.bucket_minutes(until - since) * MINUTE
    params = {"since": since, "until": until, "app": APP_ID, "span": SESSION_SPAN,
              "start": START, "width": width, "day": DAY, "replays": replays}
    groups = db.execute(QUERIES["groups"], params).fetchall()
    params["ids"] = json.dumps([row[0] for row in groups])
    baseline = db.execute(QUERIES["baseline"], params).fetchall()
    sessions, users = db.execute(QUERIES["affected"], params).fetchone()
    return {
        "groups": groups, "baseline": baseline,
        "errors": sum(row[4] for row in groups),
        "affected_sessions": sessions, "affected_users": users,
        "first_last": db.execute(QUERIES["first_last"], params).fetchall(),
        "replays": db.execute(QUERIES["replays"], params).fetchall(),
        "buckets": db.execute(QUERIES["buckets"], params).fetchall(),
        "first_error": db.execute(QUERIES["first_error"], params).fetchone(),
        "pages": db.execute(QUERIES["pages"], params).fetchall(),
        "elements": db.execute(QUERIES["elements"], params).fetchall(),
        "width": width,
    }


def compare(raw: dict[str, Any], pm: postmortem.PostmortemContext) -> list[str]:
    """Where the draft's figures differ from the hand-written SQL's (empty: none)."""
    wrong = []

    def check(name: str, ours: object, theirs: object) -> None:
        if ours != theirs:
            wrong.append(f"{name}: draft {ours!r} != SQL {theirs!r}")

    check("errors", pm.impact.errors, raw["errors"])
    check("affected sessions", pm.impact.affected_sessions, raw["affected_sessions"])
    check("affected users", pm.impact.affected_users, raw["affected_users"])
    days: dict[int, list[int]] = {row[0]: [0] * 7 for row in raw["groups"]}
    for group_id, day, count in raw["baseline"]:
        days[group_id][day - 1] = count
    expected = {fp: (n, s, u, round(sum(days[gid]) / 7, 2))
                for gid, fp, _, _, n, s, u in raw["groups"]}
    check("error groups", {g.fingerprint: (g.count, g.sessions, g.users, g.baseline_mean)
                           for g in pm.impact.error_groups}, expected)
    buckets = [(0, 0)] * len(pm.chart.buckets)
    for index, errors, users in raw["buckets"]:
        buckets[index] = (errors, users)
    check("chart buckets", [(b.errors, b.users) for b in pm.chart.buckets], buckets)
    first = [item for item in pm.timeline if item.kind in ("first_affected", "last_affected")]
    check("first/last affected", [item.link.rsplit("/", 1)[1] for item in first if item.link],
          [row[0] for row in raw["first_last"]])
    check("frustration pages", [list(p) for p in pm.impact.frustration_pages],
          [list(row) for row in raw["pages"][:5]])
    check("evidence", [e.session_id for e in pm.evidence],
          [row[0] for row in raw["replays"][:postmortem.EVIDENCE]])
    return wrong


# --- timing --------------------------------------------------------------------------------


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


async def open_incident(hub: Hub, incident_id: str) -> Any:
    incident = await get_incident(hub, incident_id)
    assert incident is not None, incident_id
    return incident


async def cold_render(data_dir: Path, incident_id: str, fmt: str) -> tuple[float, str, bool]:
    """One draft from a new Hub: (seconds, text, whether Chromium was started)."""
    postmortem.environment.cache_clear()
    hub = make_hub(data_dir)
    try:
        incident = await open_incident(hub, incident_id)
        started = time.perf_counter()
        text = await render_postmortem(hub, incident, fmt)
        return time.perf_counter() - started, text, hub._snapshots is not None
    finally:
        await hub.stop()


def raw_run(path: Path, since: int, until: int, replays: int,
            db: sqlite3.Connection | None = None) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    connection = db or raw_connection(path)
    figures = raw_figures(connection, since, until, replays)
    elapsed = time.perf_counter() - started
    if db is None:
        connection.close()
    return elapsed, figures


async def measure(data_dir: Path, incident_id: str, reps: int, cold_reps: int) -> dict[str, Any]:
    settings = hub_settings(data_dir)
    since, until = window(settings)
    path, replays = data_dir / "replayhub.db", settings.incidents.max_replays
    times: dict[str, list[float]] = {
        name: [] for name in ("cold markdown", "cold html", "cold raw", "warm markdown",
                              "warm html", "warm context", "warm raw")}
    drafts: dict[str, str] = {}
    chromium = False
    for _ in range(cold_reps):
        for fmt in ("markdown", "html"):
            seconds, drafts[fmt], started_browser = await cold_render(data_dir, incident_id, fmt)
            times[f"cold {fmt}"].append(seconds)
            chromium |= started_browser
        times["cold raw"].append(raw_run(path, since, until, replays)[0])
    hub = make_hub(data_dir)
    db = raw_connection(path)
    try:
        incident = await open_incident(hub, incident_id)
        for fmt in ("markdown", "html"):  # warm-up
            await render_postmortem(hub, incident, fmt)
        raw = raw_run(path, since, until, replays, db)[1]
        for _ in range(reps):
            for fmt in ("markdown", "html"):
                started = time.perf_counter()
                await render_postmortem(hub, incident, fmt)
                times[f"warm {fmt}"].append(time.perf_counter() - started)
            started = time.perf_counter()
            context = await postmortem_context(hub, incident)
            times["warm context"].append(time.perf_counter() - started)
            times["warm raw"].append(raw_run(path, since, until, replays, db)[0])
        chromium |= hub._snapshots is not None
    finally:
        db.close()
        await hub.stop()
    return {"times": times, "drafts": drafts, "chromium": chromium, "raw": raw,
            "context": context, "mismatches": compare(raw, context)}


def snapshot_check(drafts: dict[str, str], chromium: bool) -> tuple[bool, str]:
    """Evidence snapshots are links (URLs the reader's browser fetches), not rendered images."""
    links = {fmt: text.count("/snapshot.png?t=") for fmt, text in drafts.items()}
    inline = any("data:image/png" in text for text in drafts.values())
    ok = not chromium and not inline
    return ok, (f"snapshot links: {links['markdown']} in markdown, {links['html']} in html; "
                f"inline PNGs: {'yes' if inline else 'none'}; Chromium started while "
                f"drafting: {'YES' if chromium else 'no'}")


def _index(db: sqlite3.Connection, create: bool) -> None:
    if create:
        db.execute(CANDIDATE_INDEX[1])
        db.execute("ANALYZE frustrations")
    else:
        db.execute(f"DROP INDEX {CANDIDATE_INDEX[0]}")


async def index_ab(data_dir: Path, incident_id: str, reps: int) -> dict[str, Any] | None:
    """Warm drafts and raw SQL without and with CANDIDATE_INDEX, alternating each repeat (the
    machine's noise hits both alike); the index is dropped at the end. None when the schema
    already has it."""
    path = data_dir / "replayhub.db"
    admin = sqlite3.connect(path, isolation_level=None)
    if admin.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?",
                     (CANDIDATE_INDEX[0],)).fetchone():
        admin.close()
        return None
    settings = hub_settings(data_dir)
    since, until = window(settings)
    hub, db = make_hub(data_dir), raw_connection(path)
    times: dict[str, list[float]] = {f"{step} {side}": [] for step in ("markdown", "html", "raw")
                                     for side in ("without", "with")}
    created = False
    try:
        incident = await open_incident(hub, incident_id)
        for _ in range(reps + 1):  # the first round warms up
            for side in ("without", "with"):
                if created != (side == "with"):
                    _index(admin, created := side == "with")
                for fmt in ("markdown", "html"):
                    started = time.perf_counter()
                    await render_postmortem(hub, incident, fmt)
                    times[f"{fmt} {side}"].append(time.perf_counter() - started)
                times[f"raw {side}"].append(
                    raw_run(path, since, until, settings.incidents.max_replays, db)[0])
    finally:
        if created:
            _index(admin, False)
        admin.close()
        db.close()
        await hub.stop()
    p50 = {name: percentile(values[1:], 50) for name, values in times.items()}
    print(f"\nwith and without {CANDIDATE_INDEX[1]} (made ad hoc, dropped after), "
          f"alternating, {reps} warm repeats")
    rows = [[step, f"{_ms(p50[f'{step} without'])}", f"{_ms(p50[f'{step} with'])}",
             f"{p50[f'{step} without'] / p50[f'{step} with']:.1f}x",
             f"{p50[f'{step} with'] / p50['raw with']:.1f}" if step != "raw" else "1.0"]
            for step in ("raw", "markdown", "html")]
    print(table(["warm p50", "without ms", "with ms", "gain", "with: /raw"], rows))
    return {"sql": CANDIDATE_INDEX[1], "p50_ms": {k: _ms(v) for k, v in p50.items()}}


def report(result: dict[str, Any], facts: dict[str, Any], sessions: int,
           title: str) -> dict[str, Any]:
    times = result["times"]
    p50 = {name: percentile(values, 50) for name, values in times.items()}
    rows = []
    for name in ("raw", "context", "markdown", "html"):
        cold, warm = p50.get(f"cold {name}"), p50[f"warm {name}"]
        label = {"raw": "baseline: raw SQL aggregates (sqlite3)",
                 "context": "postmortem_context (figures only)",
                 "markdown": 'render_postmortem "markdown"',
                 "html": 'render_postmortem "html"'}[name]
        goal = "" if name in ("raw", "context") else (
            "ok" if max(cold or 0, warm) < GOAL_SECONDS else "OVER")
        rows.append([label, f"{_ms(cold)}" if cold is not None else "-", f"{_ms(warm)}",
                     f"{_ms(percentile(times[f'warm {name}'], 95))}",
                     f"{cold / p50['cold raw']:.1f}" if cold is not None else "-",
                     f"{warm / p50['warm raw']:.1f}", goal])
    print(f"\n{title}")
    print(table(["step", "cold p50 ms", "warm p50 ms", "warm p95 ms", "cold/raw", "warm/raw",
                 "< 2 s"], rows))
    ctx = result["context"]
    print(f"\nfigures: {ctx.impact.errors:,} errors, {ctx.impact.affected_sessions:,} affected "
          f"sessions, {ctx.impact.affected_users:,} users, {len(ctx.impact.error_groups)} "
          f"error groups ({ctx.impact.spiked_groups} spiked), {len(ctx.chart.buckets)} buckets "
          f"of {ctx.chart.bucket_minutes} min, {len(ctx.evidence)} evidence replays")
    ok, snapshots = snapshot_check(result["drafts"], result["chromium"])
    print(snapshots + (" (not rendered: nothing to exclude)" if ok else
                       " (RENDERED: Chromium's time is inside the figures above)"))
    if result["mismatches"]:
        print("FIGURES DIFFER from the hand-written SQL:")
        for line in result["mismatches"]:
            print(f"    {line}")
    else:
        print("the draft's figures equal the hand-written SQL's")
    print(f"data: {sessions:,} base sessions (built once in {facts.get('base_build_seconds')} s, "
          f"cached), incident data added in {facts.get('incident_build_seconds')} s")
    worst = max(p50["cold markdown"], p50["cold html"], p50["warm markdown"], p50["warm html"])
    print(f"goal: draft under {GOAL_SECONDS:.0f} s on SQLite: "
          f"{'met' if worst < GOAL_SECONDS else 'MISSED'} (slowest p50 {_ms(worst)} ms)")
    return {
        "p50_ms": {name: _ms(value) for name, value in p50.items()},
        "p95_ms": {name: _ms(percentile(values, 95)) for name, values in times.items()},
        "ratios": {f"warm {fmt} / warm raw": round(p50[f"warm {fmt}"] / p50["warm raw"], 1)
                   for fmt in ("markdown", "html")},
        "snapshots": snapshots, "mismatches": result["mismatches"],
        "draft_bytes": {fmt: len(text) for fmt, text in result["drafts"].items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20,000 sessions, few repeats")
    parser.add_argument("--sessions", type=int, help="base sessions (default 1,000,000)")
    parser.add_argument("--reps", type=int, help="warm repeats (default 7)")
    parser.add_argument("--cold-reps", type=int, help="drafts from a new Hub (default 3)")
    parser.add_argument("--rebuild", action="store_true",
                        help="rebuild the cached incident copy (not the base database)")
    parser.add_argument("--index", action="store_true",
                        help=f"measure again with {CANDIDATE_INDEX[0]} created ad hoc")
    args = parser.parse_args()
    sessions = args.sessions or (20_000 if args.quick else 1_000_000)
    reps = args.reps or (3 if args.quick else 7)
    cold_reps = args.cold_reps or (1 if args.quick else 3)
    configure_logging("warning", "console")

    print(f"post-mortem benchmark: {machine()}, {sessions:,} sessions, {reps} warm and "
          f"{cold_reps} cold repeats")
    data_dir, facts = cached_database(sessions, args.rebuild)
    result = asyncio.run(measure(data_dir, facts["incident_id"], reps, cold_reps))
    summary = report(result, facts, sessions, "the schema as migrated")
    payload = {"sessions": sessions, "reps": reps, "cold_reps": cold_reps,
               "database": str(data_dir), "data": facts, **summary}
    if args.index:
        payload["index"] = asyncio.run(index_ab(data_dir, facts["incident_id"], reps))
        if payload["index"] is None:
            print(f"\n{CANDIDATE_INDEX[0]} is already in the schema: nothing to compare")
    path = save_result("postmortem", payload)
    print(f"results: {path}")


if __name__ == "__main__":
    main()
