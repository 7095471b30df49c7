"""A weekly report over 1,000,000 synthetic sessions on SQLite: time to the rendered e-mail
against the raw SQL aggregates alone, measured in the same run; and a refresh of 100
saved-search playlists.

The data is bench/postmortem.py's incident database (bench/search.py's generator, plus
frustration signals and an incident on 2025-12-30), copied once into bench/results/reports-db/
so this benchmark's writes (playlists) never touch another benchmark's cache.

Timed: `report_content` + the chart (matplotlib, PNG and SVG, in a thread) + `render_email`
(Jinja2, CSS inlined) for an app's weekly report ending 2026-01-01 00:00 UTC, cold (a new
Hub) and warm; snapshots are off (Chromium is not SQL work, see --snapshots in the README).
Baseline: the same figures by hand-written SQL on a plain sqlite3 connection. Goal: the
e-mail under 3x the raw SQL. Then `refresh_playlists(hub, now)` over 100 saved searches
(users, URL substrings, error groups, frustration kinds, apps), first and second refresh.
Goal: under 5 s.

    python bench/reports.py [--quick] [--sessions N] [--reps N] [--rebuild]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import postmortem as incident_data
import search as base_data
from _common import RESULTS, machine, percentile, save_result, table

from replayhub import playlists, reports
from replayhub.blobs import LocalBlobStore
from replayhub.config import ReportSettings, Settings
from replayhub.db.engine import Database
from replayhub.db.models import Playlist, PlaylistItem, PlaylistWatcher, Report
from replayhub.hub import Hub
from replayhub.index.errors import DAY
from replayhub.index.impact import SESSION_SPAN
from replayhub.ingest.store import Ingestor
from replayhub.logs import configure_logging
from replayhub.signing import load_secret_key

APP_ID = base_data.APP_ID
FIRE = base_data.END  # 2026-01-01T00:00:00Z: the week before holds the incident
PLAYLISTS = 100
REPORT_GOAL = 3.0
REFRESH_GOAL_SECONDS = 5.0
OWNER = "bench-reports"


# --- the data ------------------------------------------------------------------------------


def cached_copy(sessions: int, rebuild: bool) -> tuple[Path, dict[str, Any]]:
    """A copy of the post-mortem benchmark's database (built or reused by it)."""
    source_dir, facts = incident_data.cached_database(sessions, rebuild=False)
    data_dir = RESULTS / "reports-db" / source_dir.name
    if (data_dir / "replayhub.db").exists() and not rebuild:
        print(f"  using the cached copy {data_dir}")
        return data_dir, facts
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    source = sqlite3.connect(source_dir / "replayhub.db")
    source.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    source.close()
    print(f"  copying {source_dir} into {data_dir}")
    shutil.copyfile(source_dir / "replayhub.db", data_dir / "replayhub.db")
    return data_dir, facts


def make_hub(data_dir: Path) -> Hub:
    """A Hub without connectors (nothing is sent) and without snapshots."""
    settings = Settings(data_dir=str(data_dir), log_level="warning",
                        reports=ReportSettings(snapshots=False))
    db = Database.from_settings(settings)
    blobs = LocalBlobStore(settings.data_path / "blobs")
    return Hub(settings, db, blobs, Ingestor(db, blobs),
               secret_key=load_secret_key(settings.secret_key, settings.data_path))


def weekly_report() -> Report:
    return Report(id="rpt_bench", name="Shop weekly", owner=OWNER,
                  filters=f'{{"app_id": "{APP_ID}"}}', schedule="0 0 * * 4", timezone="UTC",
                  period="P7D", deliver='[{"email": "team@example.com"}]', skip_empty=True,
                  created_at=0, updated_at=0)


# --- the baseline: the same figures by hand-written SQL --------------------------------------

SESSIONS = """
SELECT count(*), count(DISTINCT coalesce(user_id, user_email, id)),
       sum(error_count > 0),
       sum(rage_click_count > 0 OR dead_click_count > 0 OR error_click_count > 0)
FROM sessions WHERE app_id = :app AND started_at >= :a AND started_at < :b"""
IN_PERIOD = """
FROM error_events e WHERE e.t >= :since AND e.t < :until
  AND e.group_id IN (SELECT id FROM error_groups WHERE app_id = :app)"""
SIGNALS = """
FROM sessions s JOIN frustrations f ON f.session_id = s.id
WHERE s.app_id = :app AND s.started_at >= :since - :span AND s.started_at < :until
  AND s.ended_at >= :since
  AND (s.rage_click_count > 0 OR s.dead_click_count > 0 OR s.error_click_count > 0)
  AND f.t >= :since AND f.t < :until"""
QUERIES = {
    "groups": f"""
        SELECT e.group_id, count(*), count(DISTINCT e.session_id), count(DISTINCT e.user_key)
        {IN_PERIOD} GROUP BY e.group_id""",
    "before_groups": """
        SELECT DISTINCT group_id FROM error_events
        WHERE t >= :previous AND t < :since
          AND group_id IN (SELECT id FROM error_groups WHERE app_id = :app)""",
    "days": f"""
        SELECT (e.t - :since) / :day, count(*), count(DISTINCT e.user_key) {IN_PERIOD}
        GROUP BY 1""",
    "pages": f"""
        SELECT f.url, count(*) AS n, count(DISTINCT f.session_id) {SIGNALS}
        GROUP BY f.url ORDER BY n DESC, f.url LIMIT 5""",
    "elements": f"""
        SELECT f.selector, f.url, count(*) AS n, count(DISTINCT f.session_id) {SIGNALS}
        GROUP BY f.selector, f.url ORDER BY n DESC, f.selector, f.url LIMIT 5""",
    "replays": """
        SELECT id, coalesce(user_id, user_email, id) FROM sessions
        WHERE app_id = :app AND started_at >= :since AND started_at < :until
          AND (error_count > 0 OR rage_click_count > 0 OR dead_click_count > 0
               OR error_click_count > 0)
        ORDER BY error_count + rage_click_count + dead_click_count + 2 * error_click_count DESC,
                 started_at DESC, id LIMIT 30""",
}


def raw_connection(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    for pragma in ("busy_timeout=10000", "cache_size=-65536", "temp_store=MEMORY"):
        db.execute(f"PRAGMA {pragma}")
    return db


def raw_figures(db: sqlite3.Connection) -> dict[str, Any]:
    """Every aggregate of the report, each from one SQL statement."""
    since, previous = FIRE - 7 * DAY, FIRE - 14 * DAY
    params = {"app": APP_ID, "since": since, "until": FIRE, "previous": previous,
              "span": SESSION_SPAN, "day": DAY}
    figures = {"now": db.execute(SESSIONS, {**params, "a": since, "b": FIRE}).fetchone(),
               "before": db.execute(SESSIONS, {**params, "a": previous, "b": since}).fetchone()}
    for name, sql in QUERIES.items():
        figures[name] = db.execute(sql, params).fetchall()
    return figures


def compare(raw: dict[str, Any], content: reports.ReportContent) -> list[str]:
    wrong = []
    ours = [(int(f.value), int(f.previous)) for f in content.figures[:3]]
    theirs = [(raw["now"][i], raw["before"][i]) for i in range(3)]
    if ours != theirs:
        wrong.append(f"figures: report {ours} != SQL {theirs}")
    total = sum(row[1] for row in raw["groups"])
    if content.total_errors != total:
        wrong.append(f"errors: report {content.total_errors} != SQL {total}")
    days = sum(d.errors for d in content.days)
    if days != total:
        wrong.append(f"chart: report {days} errors != SQL {total}")
    pages = [(p.url, p.count) for p in content.pages]
    if pages != [(row[0], row[1]) for row in raw["pages"]]:
        wrong.append(f"pages: report {pages} != SQL {raw['pages']}")
    return wrong


# --- timing --------------------------------------------------------------------------------


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


async def rendered_email(hub: Hub, report: Report) -> tuple[reports.ReportContent, str]:
    """What a run does before it enqueues: the content, the chart, the e-mail."""
    content = await reports.report_content(hub, report, reports.window_of(report, None, FIRE))
    png, _svg = await reports.draw_chart(content)
    mail = reports.render_email(content, png, {}, "https://hub.example.test/reports/x/runs/y",
                                "https://hub.example.test/unsubscribe/token")
    return content, mail.html


def raw_run(db: sqlite3.Connection) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    figures = raw_figures(db)
    return time.perf_counter() - started, figures


async def measure_report(data_dir: Path, reps: int) -> dict[str, Any]:
    path = data_dir / "replayhub.db"
    report = weekly_report()
    times: dict[str, list[float]] = {"cold email": [], "cold raw": [], "warm email": [],
                                     "warm content": [], "warm chart": [], "warm raw": []}
    for _ in range(2):
        hub = make_hub(data_dir)
        try:
            started = time.perf_counter()
            await rendered_email(hub, report)
            times["cold email"].append(time.perf_counter() - started)
        finally:
            await hub.stop()
        db = raw_connection(path)
        times["cold raw"].append(raw_run(db)[0])
        db.close()
    hub, db = make_hub(data_dir), raw_connection(path)
    try:
        content, html = await rendered_email(hub, report)
        raw = raw_run(db)[1]
        for _ in range(reps):
            started = time.perf_counter()
            await rendered_email(hub, report)
            times["warm email"].append(time.perf_counter() - started)
            started = time.perf_counter()
            await reports.report_content(hub, report, reports.window_of(report, None, FIRE))
            times["warm content"].append(time.perf_counter() - started)
            started = time.perf_counter()
            await reports.draw_chart(content)
            times["warm chart"].append(time.perf_counter() - started)
            times["warm raw"].append(raw_run(db)[0])
    finally:
        db.close()
        await hub.stop()
    return {"times": times, "content": content, "html_bytes": len(html),
            "mismatches": compare(raw, content)}


def playlist_filters(facts: dict[str, Any], rng: random.Random) -> list[dict[str, str]]:
    """100 saved searches like people make: users, pages, errors, frustration, an app."""
    urls, groups = facts["urls"], facts["groups"]
    found: list[dict[str, str]] = []
    kinds = ["user", "url", "error", "frustration", "url+frustration", "app+error"]
    for index in range(PLAYLISTS):
        kind = kinds[index % len(kinds)]
        if kind == "user":
            found.append({"user_email": f"user{rng.randrange(base_data.USERS)}@example.com"})
        elif kind == "url":
            found.append({"url": rng.choice(urls).rsplit("/", 1)[-1] or "/checkout"})
        elif kind == "error":
            found.append({"error": rng.choice(groups)[0]})
        elif kind == "frustration":
            found.append({"frustration": rng.choice(["rage_click", "dead_click", "any"])})
        elif kind == "url+frustration":
            found.append({"url": "/checkout", "frustration": "any"})
        else:
            found.append({"app_id": APP_ID, "error": rng.choice(groups)[2].split()[0]})
    return found


async def measure_refresh(data_dir: Path, facts: dict[str, Any]) -> dict[str, Any]:
    """Create the playlists, refresh twice (the second looks for new matches), delete them."""
    hub = make_hub(data_dir)
    rng = random.Random(11)
    try:
        await delete_playlists(hub)
        kinds = {}
        for index, filters in enumerate(playlist_filters(facts, rng)):
            made = await playlists.create_playlist(hub, name=f"bench {index}", owner=OWNER,
                                                   filters=filters)
            kinds[made.id] = "+".join(sorted(filters))
        now = int(time.time() * 1000)
        first = await timed_tick(hub, now)
        second = await timed_tick(hub, now + 300_000)
        by_kind: dict[str, float] = {}
        async with hub.db.read() as tx:  # every saved search counted in full once, timed
            from sqlalchemy import select

            made_ones = list((await tx.execute(select(Playlist).where(
                Playlist.owner == OWNER))).scalars())
        for playlist in made_ones:
            started = time.perf_counter()
            await playlists.refresh_playlist(hub, playlist, now + 600_000, count_in_full=True)
            kind = kinds[playlist.id]
            by_kind[kind] = by_kind.get(kind, 0.0) + time.perf_counter() - started
        steady = await timed_tick(hub, now + 900_000)
        return {"first": first, "second": second, "steady": steady,
                "full_counts": sum(by_kind.values()), "by_filter": by_kind}
    finally:
        await delete_playlists(hub)
        await hub.stop()


async def timed_tick(hub: Hub, now: int) -> float:
    """One refresh tick over every saved search, as the scheduler runs it."""
    started = time.perf_counter()
    assert await playlists.refresh_playlists(hub, now) == PLAYLISTS
    return time.perf_counter() - started


async def delete_playlists(hub: Hub) -> None:
    from sqlalchemy import delete, select

    async with hub.db.write() as tx:
        ids = list((await tx.execute(select(Playlist.id).where(Playlist.owner == OWNER)))
                   .scalars())
        for model in (PlaylistItem, PlaylistWatcher):
            await tx.execute(delete(model).where(model.playlist_id.in_(ids)))
        await tx.execute(delete(Playlist).where(Playlist.id.in_(ids)))


def print_report(result: dict[str, Any], refresh: dict[str, Any]) -> dict[str, Any]:
    times = result["times"]
    p50 = {name: percentile(values, 50) for name, values in times.items()}
    rows = [["baseline: raw SQL aggregates (sqlite3)", _ms(p50["cold raw"]), _ms(p50["warm raw"]),
             "1.0", "1.0", ""],
            ["report_content (figures only)", "-", _ms(p50["warm content"]), "-",
             f"{p50['warm content'] / p50['warm raw']:.1f}", ""],
            ["the chart alone (PNG + SVG, matplotlib)", "-", _ms(p50["warm chart"]), "-",
             f"{p50['warm chart'] / p50['warm raw']:.1f}", ""],
            ["content + chart + rendered e-mail", _ms(p50["cold email"]),
             _ms(p50["warm email"]), f"{p50['cold email'] / p50['cold raw']:.1f}",
             f"{p50['warm email'] / p50['warm raw']:.1f}",
             "ok" if p50["warm email"] / p50["warm raw"] < REPORT_GOAL else "OVER"]]
    print("\nweekly report of one app, 2025-12-25 to 2026-01-01")
    print(table(["step", "cold p50 ms", "warm p50 ms", "cold/raw", "warm/raw", "< 3x"], rows))
    content = result["content"]
    print(f"figures: {', '.join(f'{f.name} {f.value:g}' for f in content.figures)}; "
          f"{content.total_errors:,} errors, {len(content.errors)} new/regressed groups, "
          f"{len(content.days)} days; e-mail HTML {result['html_bytes']:,} bytes")
    print("FIGURES DIFFER: " + "; ".join(result["mismatches"]) if result["mismatches"]
          else "the report's figures equal the hand-written SQL's")
    ticks = ("first", "second", "steady")
    ok = all(refresh[tick] < REFRESH_GOAL_SECONDS for tick in ticks)
    print(f"\nrefresh tick over {PLAYLISTS} saved-search playlists (new matches for all, full "
          f"counts for {playlists.COUNTS_PER_TICK} a tick): "
          + ", ".join(f"{tick} {_ms(refresh[tick])} ms" for tick in ticks)
          + f" (goal < {REFRESH_GOAL_SECONDS:.0f} s: {'met' if ok else 'MISSED'})")
    print(f"counting every saved search in full once (spread over "
          f"{PLAYLISTS // playlists.COUNTS_PER_TICK} ticks): {_ms(refresh['full_counts'])} ms")
    print(table(["saved searches filtering on", "full counts ms"],
                [[kind, _ms(seconds)] for kind, seconds in sorted(
                    refresh["by_filter"].items(), key=lambda item: -item[1])]))
    return {"p50_ms": {name: _ms(value) for name, value in p50.items()},
            "ratio_warm_email_to_raw": round(p50["warm email"] / p50["warm raw"], 2),
            "ratio_cold_email_to_raw": round(p50["cold email"] / p50["cold raw"], 2),
            "refresh_ms": {"first": _ms(refresh["first"]), "second": _ms(refresh["second"]),
                           "steady": _ms(refresh["steady"]),
                           "full_counts": _ms(refresh["full_counts"]),
                           **{f"full count, {k}": _ms(v)
                              for k, v in refresh["by_filter"].items()}},
            "mismatches": result["mismatches"]}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20,000 sessions, few repeats")
    parser.add_argument("--sessions", type=int, help="base sessions (default 1,000,000)")
    parser.add_argument("--reps", type=int, help="warm repeats (default 7)")
    parser.add_argument("--rebuild", action="store_true", help="copy the database again")
    args = parser.parse_args()
    sessions = args.sessions or (20_000 if args.quick else 1_000_000)
    reps = args.reps or (3 if args.quick else 7)
    configure_logging("warning", "console")
    print(f"reports benchmark: {machine()}, {sessions:,} sessions, {reps} warm repeats")
    data_dir, _ = cached_copy(sessions, args.rebuild)
    _, base_facts = base_data.cached_database(sessions, rebuild=False)
    result = asyncio.run(measure_report(data_dir, reps))
    refresh = asyncio.run(measure_refresh(data_dir, base_facts))
    summary = print_report(result, refresh)
    path = save_result("reports", {"sessions": sessions, "reps": reps,
                                   "database": str(data_dir), **summary})
    print(f"results: {path}")


if __name__ == "__main__":
    main()
