"""Search latency over 1,000,000 synthetic sessions on SQLite: p50/p95 of each filter.

The database has the real schema (made by the hub's migrations) and is filled directly with
sqlite3 executemany in big transactions: ~5,000 users, ~2,000 distinct URLs, ~5% of sessions
with errors from 300 error groups, rage/dead/error click counters on a few %, start times over
30 days. It is cached under bench/results/search-db/<schema hash>/ so re-runs skip the build.

Queries go through the functions the API uses (`search_sessions`, `error_groups`) on the hub's
own Database (aiosqlite, the hub's pragmas), and then once through the HTTP API of a real
`replayhub serve` for comparison. The baseline, measured in the same run, is a trivial
`SELECT id FROM sessions ORDER BY started_at DESC LIMIT 50`. Goal: p95 < 50 ms per filter.

    python bench/search.py [--quick] [--sessions N] [--reps N] [--explain] [--no-http]
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
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    ADMIN,
    RESULTS,
    hub_server,
    machine,
    percentile,
    save_result,
    table,
)
from sqlalchemy import text
from sqlalchemy.dialects import sqlite as sqlite_dialect

from replayhub.db.engine import Database
from replayhub.db.migrate import upgrade
from replayhub.index.errors import DAY, error_groups
from replayhub.index.sessions import (
    SessionFilters,
    decode_cursor,
    rare_filters,
    search_sessions,
    session_query,
)

GENERATOR_VERSION = 2
"""Bump when the synthetic data changes, so cached databases are rebuilt."""
END = 1_767_225_600_000  # 2026-01-01T00:00:00Z: sessions start in the 30 days before it
SPAN = 30 * DAY
APP_ID = "app_bench"
USERS = 5_000
URLS = 2_000
GROUPS = 300
ERROR_SHARE = 0.05
IDENTIFIED_SHARE = 0.65
RAGE_SHARE, DEAD_SHARE, ERROR_CLICK_SHARE = 0.02, 0.04, 0.01
BROWSERS = [
    ("Chrome", "Windows", "Desktop"),
    ("Chrome", "Mac OS X", "Desktop"),
    ("Safari", "iOS", "Mobile"),
    ("Firefox", "Linux", "Desktop"),
    ("Chrome Mobile", "Android", "Mobile"),
    ("Edge", "Windows", "Desktop"),
]
ERROR_TEMPLATES = [
    ("TypeError", "Cannot read properties of undefined (reading '{word}')"),
    ("TypeError", "{word}.map is not a function"),
    ("ReferenceError", "{word} is not defined"),
    ("NetworkError", "POST /api/{word} failed: 500"),
    ("NetworkError", "GET /api/{word}/items failed: 503"),
    ("Error", "Failed to load chunk {word}"),
    ("console.error", "Unhandled promise rejection in {word}"),
    ("RangeError", "Invalid array length in {word}"),
]
WORDS = [
    "price",
    "cart",
    "checkout",
    "profile",
    "basket",
    "coupon",
    "payment",
    "shipping",
    "address",
    "avatar",
    "search",
    "filters",
    "wishlist",
    "review",
    "inventory",
    "tax",
    "currency",
    "session",
    "locale",
    "banner",
    "carousel",
    "recommendations",
    "stock",
    "order",
    "invoice",
    "refund",
    "voucher",
    "loyalty",
    "newsletter",
    "chat",
]


# --- synthetic data -------------------------------------------------------------------------


def zipf_weights(count: int, exponent: float = 1.0) -> list[float]:
    return [1 / (rank + 1) ** exponent for rank in range(count)]


def make_urls(rng: random.Random) -> list[str]:
    urls = [
        "https://shop.example.test/",
        "https://shop.example.test/cart",
        "https://shop.example.test/checkout",
        "https://shop.example.test/checkout/payment",
        "https://shop.example.test/checkout/done",
        "https://shop.example.test/account",
        "https://shop.example.test/search",
    ]
    sections = [("products", 1400), ("category", 300), ("blog", 200), ("help", 93)]
    for section, count in sections:
        for index in range(count):
            slug = f"{rng.choice(WORDS)}-{rng.choice(WORDS)}-{index}"
            urls.append(f"https://shop.example.test/{section}/{slug}")
    return urls[:URLS]


def make_groups(rng: random.Random) -> list[tuple[str, str, str]]:
    groups = []
    seen = set()
    while len(groups) < GROUPS:
        type_, template = rng.choice(ERROR_TEMPLATES)
        word = rng.choice(WORDS) + (f"_{rng.randrange(100)}" if rng.random() < 0.8 else "")
        message = template.format(word=word)
        if message in seen:
            continue
        seen.add(message)
        fingerprint = hashlib.sha256(f"{type_}\n{message}".encode()).hexdigest()[:16]
        groups.append((fingerprint, type_, message))
    return groups


def build_database(path: Path, sessions: int, seed: int = 7) -> dict[str, Any]:
    """Fill an already migrated SQLite file; returns the facts the queries draw values from."""
    rng = random.Random(seed)
    urls = make_urls(rng)
    url_weights = list(itertools.accumulate(zipf_weights(len(urls), 1.05)))
    groups = make_groups(rng)
    group_weights = list(itertools.accumulate(zipf_weights(len(groups), 1.1)))
    user_weights = list(itertools.accumulate(zipf_weights(USERS, 0.6)))

    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-1048576")
    db.execute("PRAGMA temp_store=MEMORY")
    db.execute("PRAGMA foreign_keys=OFF")
    # Drop the secondary indexes for the load and recreate them from their stored SQL after.
    indexes = db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
    ).fetchall()
    for name, _ in indexes:
        db.execute(f'DROP INDEX "{name}"')

    db.execute("BEGIN")
    db.execute(
        "INSERT INTO apps (id, name, ingest_key_hash, ingest_key_hint, created_at) "
        "VALUES (?, 'Bench shop', ?, 'rhk_benc', ?)",
        (APP_ID, hashlib.sha256(b"bench").hexdigest(), END - SPAN),
    )
    db.executemany(
        "INSERT INTO urls (id, url) VALUES (?, ?)",
        [(index + 1, url) for index, url in enumerate(urls)],
    )
    db.executemany(
        "INSERT INTO error_groups (id, app_id, fingerprint, type, message, "
        "first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (index + 1, APP_ID, fp, type_, message, END - SPAN, END)
            for index, (fp, type_, message) in enumerate(groups)
        ],
    )
    db.execute("COMMIT")

    starts = sorted(END - SPAN + rng.randrange(SPAN) for _ in range(sessions))
    session_sql = (
        "INSERT INTO sessions (id, app_id, started_at, ended_at, duration_ms, user_id, "
        "user_email, user_name, first_url, last_url, user_agent, browser, os, device, "
        "viewport_width, viewport_height, page_count, click_count, error_count, "
        "rage_click_count, dead_click_count, error_click_count, event_count, size_bytes, "
        "segment_count, indexed_seq, needs_close, created_at, updated_at) VALUES "
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    error_sql = (
        "INSERT INTO error_events (session_id, group_id, t, user_key, type, message, "
        "stack, url, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    chunk = 50_000
    url_ids = list(range(1, len(urls) + 1))
    group_ids = list(range(1, len(groups) + 1))
    user_ids = list(range(USERS))
    stack = "at render (https://shop.example.test/static/app.js:1:2345)"
    for offset in range(0, sessions, chunk):
        session_rows, url_rows, error_rows = [], [], []
        for started in starts[offset : offset + chunk]:
            session_id = "%08x-%04x-4%03x-a%03x-%012x" % (  # noqa: UP031
                rng.getrandbits(32),
                rng.getrandbits(16),
                rng.getrandbits(12),
                rng.getrandbits(12),
                rng.getrandbits(48),
            )
            duration = int(rng.expovariate(1 / 240_000)) + 1_000
            user = None
            if rng.random() < IDENTIFIED_SHARE:
                user = rng.choices(user_ids, cum_weights=user_weights)[0]
            pages = 1 + min(11, int(rng.expovariate(1 / 2.5)))
            visited = rng.choices(url_ids, cum_weights=url_weights, k=pages)
            distinct = list(dict.fromkeys(visited))
            has_errors = rng.random() < ERROR_SHARE
            errors = 0
            user_key = f"user-{user}" if user is not None else session_id
            if has_errors:
                errors = 1 + min(4, int(rng.expovariate(1 / 0.8)))
                for _ in range(errors):
                    group = rng.choices(group_ids, cum_weights=group_weights)[0]
                    _, type_, message = groups[group - 1]
                    error_rows.append(
                        (
                            session_id,
                            group,
                            started + rng.randrange(duration),
                            user_key,
                            type_,
                            message,
                            stack,
                            urls[rng.choice(distinct) - 1],
                            "custom",
                        )
                    )
            rage = 1 + int(rng.random() < 0.2) if rng.random() < RAGE_SHARE else 0
            dead = 1 + int(rng.random() < 0.3) if rng.random() < DEAD_SHARE else 0
            error_clicks = 1 if has_errors and rng.random() < ERROR_CLICK_SHARE / ERROR_SHARE else 0
            browser, os_name, device = rng.choice(BROWSERS)
            clicks = int(rng.expovariate(1 / 12)) + rage * 3 + dead
            events = 40 + clicks * 3 + pages * 20 + int(rng.expovariate(1 / 400))
            session_rows.append(
                (
                    session_id,
                    APP_ID,
                    started,
                    started + duration,
                    duration,
                    f"user-{user}" if user is not None else None,
                    f"user{user}@example.com" if user is not None else None,
                    f"User {user}" if user is not None else None,
                    urls[visited[0] - 1],
                    urls[visited[-1] - 1],
                    f"Mozilla/5.0 ({os_name}) {browser}",
                    browser,
                    os_name,
                    device,
                    1280 if device == "Desktop" else 390,
                    720 if device == "Desktop" else 844,
                    pages,
                    clicks,
                    errors,
                    rage,
                    dead,
                    error_clicks,
                    events,
                    events * 180,
                    1 + events // 60,
                    events // 60,
                    0,
                    started,
                    started + duration,
                )
            )
            url_rows.extend((url_id, session_id, started) for url_id in distinct)
        db.execute("BEGIN")
        db.executemany(session_sql, session_rows)
        db.executemany(
            "INSERT INTO session_urls (url_id, session_id, started_at) VALUES (?, ?, ?)", url_rows
        )
        db.executemany(error_sql, error_rows)
        db.execute("COMMIT")
        done = min(sessions, offset + chunk)
        print(f"\r  built {done:,}/{sessions:,} sessions", end="", flush=True)
    print()
    for _, sql in indexes:
        db.execute(sql)
    db.execute("ANALYZE")
    db.execute("PRAGMA journal_mode=WAL")
    db.close()
    return {"urls": urls, "groups": groups, "sessions": sessions, "end": END}


async def migrated_schema(path: Path) -> str:
    database = Database(f"sqlite+aiosqlite:///{path}")
    try:
        await upgrade(database)
    finally:
        await database.dispose()
    db = sqlite3.connect(path)
    rows = db.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master "
        "WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"
    ).fetchall()
    db.close()
    return json.dumps(rows)


def cached_database(sessions: int, rebuild: bool) -> tuple[Path, dict[str, Any]]:
    """The data dir of a database for this schema and size, built if it is not cached."""
    with tempfile.TemporaryDirectory(prefix="rh-schema-") as tmp:
        schema = asyncio.run(migrated_schema(Path(tmp) / "schema.db"))
    key = hashlib.sha256(f"{schema}\n{GENERATOR_VERSION}\n{sessions}".encode()).hexdigest()[:16]
    data_dir = RESULTS / "search-db" / f"{sessions}-{key}"
    facts_path = data_dir / "facts.json"
    if facts_path.exists() and not rebuild:
        print(f"  using the cached database {data_dir}")
        return data_dir, json.loads(facts_path.read_text())
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    path = data_dir / "replayhub.db"
    print(f"  building {sessions:,} sessions into {path} (cached for later runs)")
    started = time.perf_counter()
    asyncio.run(migrated_schema(path))
    facts = build_database(path, sessions)
    facts["build_seconds"] = round(time.perf_counter() - started, 1)
    facts_path.write_text(json.dumps(facts))
    print(f"  built in {facts['build_seconds']} s, {path.stat().st_size / 1e6:,.0f} MB")
    return data_dir, facts


# --- queries --------------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    make: Callable[[random.Random], dict[str, Any]]
    """Random parameters for one repetition: filters (and cursor) or an error-group range."""
    kind: str = "sessions"


def cases(facts: dict[str, Any]) -> list[Case]:
    urls, groups = facts["urls"], facts["groups"]
    popular_group, rare_group = groups[0], groups[-1]

    def day_window(rng: random.Random) -> dict[str, Any]:
        start = END - SPAN + rng.randrange(SPAN - DAY)
        return {"since": start, "until": start + DAY}

    def rare_url(rng: random.Random) -> str:
        # A tail product page: its path is unique (the trailing index).
        return urls[rng.randrange(1500, len(urls))].split("/", 3)[3]

    return [
        Case("none", lambda rng: {}),
        Case("user_email", lambda rng: {"user_email": f"user{rng.randrange(USERS)}@example.com"}),
        Case("user_id", lambda rng: {"user_id": f"user-{rng.randrange(USERS)}"}),
        Case(
            "url common (/checkout)",
            lambda rng: {"url": rng.choice(["/checkout", "checkout/pay", "/cart"])},
        ),
        Case("url rare (tail page)", lambda rng: {"url": rare_url(rng)}),
        Case("url no match", lambda rng: {"url": f"/nowhere-{rng.randrange(10**6)}"}),
        Case("error text common", lambda rng: {"error": popular_group[2][-12:]}),
        Case("error text rare", lambda rng: {"error": rng.choice(groups[-50:])[2]}),
        Case("error fingerprint common", lambda rng: {"error": popular_group[0]}),
        Case(
            "error fingerprint rare",
            lambda rng: {
                "error": rng.choice([rare_group[0], *[group[0] for group in groups[-30:]]])
            },
        ),
        Case("frustration rage_click", lambda rng: {"frustration": "rage_click"}),
        Case("frustration dead_click", lambda rng: {"frustration": "dead_click"}),
        Case("frustration error_click", lambda rng: {"frustration": "error_click"}),
        Case("frustration any", lambda rng: {"frustration": "any"}),
        Case("time range (1 day)", day_window),
        Case("page 2 (cursor), none", lambda rng: {"_page2": True}),
        Case("page 2 (cursor), url common", lambda rng: {"_page2": True, "url": "/checkout"}),
        Case(
            "page 2 (cursor), user_email",
            lambda rng: {"_page2": True, "user_email": f"user{rng.randrange(20)}@example.com"},
        ),
        Case("error_groups 1 day", lambda rng: {"range": DAY}, "errors"),
        Case("error_groups 7 days", lambda rng: {"range": 7 * DAY}, "errors"),
    ]


def _filters(params: dict[str, Any]) -> SessionFilters:
    return SessionFilters(
        **{key: value for key, value in params.items() if not key.startswith("_")}
    )


async def first_cursor(db: Database, filters: SessionFilters) -> str | None:
    async with db.read() as tx:
        _, cursor = await search_sessions(tx, filters, 50, None)
    return cursor


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


async def time_case(
    db: Database, case: Case, reps: int, rng: random.Random
) -> tuple[list[float], int]:
    timings: list[float] = []
    rows = 0
    for _ in range(reps):
        params = case.make(rng)
        if case.kind == "errors":
            until = END - rng.randrange(0, DAY)
            started = time.perf_counter()
            async with db.read() as tx:
                found = await error_groups(tx, until - params["range"], until)
            timings.append(time.perf_counter() - started)
            rows = len(found)
            continue
        filters = _filters(params)
        cursor = await first_cursor(db, filters) if params.get("_page2") else None
        started = time.perf_counter()
        async with db.read() as tx:
            found, _ = await search_sessions(tx, filters, 50, cursor)
        timings.append(time.perf_counter() - started)
        rows = len(found)
    return timings, rows


async def time_baseline(db: Database, reps: int) -> list[float]:
    timings = []
    query = text("SELECT id FROM sessions ORDER BY started_at DESC LIMIT 50")
    for _ in range(reps):
        started = time.perf_counter()
        async with db.read() as tx:
            (await tx.execute(query)).all()
        timings.append(time.perf_counter() - started)
    return timings


async def explain(db: Database, path: Path, case: Case, rng: random.Random) -> list[str]:
    """EXPLAIN QUERY PLAN of the session query for one set of parameters (plan the hub picks)."""
    if case.kind == "errors":
        return []
    params = case.make(rng)
    filters = _filters(params)
    async with db.read() as tx:
        rare = await rare_filters(tx, filters)
    query = session_query(filters, rare).limit(51)
    if params.get("_page2"):
        from sqlalchemy import and_, or_

        from replayhub.db.models import ReplaySession

        started, session_id = decode_cursor("MTc2NzIyNTYwMDAwMDp6eg")
        query = query.where(
            or_(
                ReplaySession.started_at < started,
                and_(ReplaySession.started_at == started, ReplaySession.id < session_id),
            )
        )
    sql = str(
        query.compile(dialect=sqlite_dialect.dialect(), compile_kwargs={"literal_binds": True})
    )
    connection = sqlite3.connect(path)
    plan = [row[3] for row in connection.execute("EXPLAIN QUERY PLAN " + sql)]
    connection.close()
    return [f"(rare: {', '.join(sorted(rare))})", *plan] if rare else plan


async def run_direct(
    data_dir: Path, reps: int, facts: dict[str, Any], show_plans: bool
) -> tuple[dict[str, Any], list[float]]:
    db = Database(f"sqlite+aiosqlite:///{data_dir / 'replayhub.db'}")
    rng = random.Random(11)
    results: dict[str, Any] = {}
    try:
        await time_baseline(db, 5)  # warm the pool and the page cache
        baseline = await time_baseline(db, reps)
        for case in cases(facts):
            await time_case(db, case, 2, rng)  # warm-up
            timings, rows = await time_case(db, case, reps, rng)
            results[case.name] = {"timings": timings, "rows": rows}
            if show_plans:
                plan = await explain(db, data_dir / "replayhub.db", case, random.Random(3))
                results[case.name]["plan"] = plan
        baseline += await time_baseline(db, reps)  # before and after, against drift
    finally:
        await db.dispose()
    return results, baseline


def http_params(case: Case, params: dict[str, Any]) -> dict[str, Any]:
    if case.kind == "errors":
        until = END
        return {"since": str(until - params["range"]), "until": str(until)}
    return {key: str(value) for key, value in params.items() if not key.startswith("_")}


def run_http(data_dir: Path, facts: dict[str, Any], reps: int) -> dict[str, list[float]]:
    """The same cases through `replayhub serve` (one request per repetition)."""
    rng = random.Random(11)
    out: dict[str, list[float]] = {"baseline /health": []}
    with hub_server(data_dir, log_name="search-hub", log_level="warning") as server:
        server.wait_ready()
        headers = {"Authorization": f"Bearer {ADMIN}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
            for _ in range(reps):
                started = time.perf_counter()
                client.get("/health").raise_for_status()
                out["baseline /health"].append(time.perf_counter() - started)
            for case in cases(facts):
                timings = []
                for _ in range(reps + 1):
                    params = case.make(rng)
                    path = "/api/v1/errors" if case.kind == "errors" else "/api/v1/sessions"
                    query = http_params(case, params)
                    if params.get("_page2"):
                        first = client.get(path, params=query)
                        first.raise_for_status()
                        query["cursor"] = first.json()["next_cursor"] or ""
                    started = time.perf_counter()
                    response = client.get(path, params=query)
                    timings.append(time.perf_counter() - started)
                    response.raise_for_status()
                out[case.name] = timings[1:]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="20,000 sessions, few repetitions")
    parser.add_argument("--sessions", type=int)
    parser.add_argument("--reps", type=int, help="timed repetitions per filter")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN QUERY PLAN")
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP comparison")
    parser.add_argument("--rebuild", action="store_true", help="ignore the cached database")
    args = parser.parse_args()
    sessions = args.sessions or (20_000 if args.quick else 1_000_000)
    reps = args.reps or (5 if args.quick else 40)

    print(f"search benchmark: {machine()}, {sessions:,} sessions, {reps} reps per filter")
    data_dir, facts = cached_database(sessions, args.rebuild)
    results, baseline = asyncio.run(run_direct(data_dir, reps, facts, args.explain))
    http = {} if args.no_http else run_http(data_dir, facts, max(3, reps // 4))

    base_p50 = percentile(baseline, 50)
    rows = [
        [
            "baseline: SELECT id ... LIMIT 50",
            "",
            f"{_ms(base_p50)}",
            f"{_ms(percentile(baseline, 95))}",
            "1.0",
            "",
            "",
            "",
        ]
    ]
    misses = []
    for name, result in results.items():
        timings = result["timings"]
        p50, p95 = percentile(timings, 50), percentile(timings, 95)
        if p95 >= 0.050:
            misses.append(name)
        http_p50 = f"{_ms(percentile(http[name], 50))}" if name in http else "-"
        rows.append(
            [
                name,
                result["rows"],
                f"{_ms(p50)}",
                f"{_ms(p95)}",
                f"{p50 / base_p50:.1f}",
                f"{p95 / base_p50:.1f}",
                http_p50,
                "ok" if p95 < 0.050 else "MISS",
            ]
        )
    print()
    print(
        table(
            [
                "query",
                "rows",
                "p50 ms",
                "p95 ms",
                "p50/base",
                "p95/base",
                "http p50 ms",
                "p95<50ms",
            ],
            rows,
        )
    )
    if http:
        print(
            f"http baseline (GET /health) p50: {_ms(percentile(http['baseline /health'], 50))} ms"
        )
    if args.explain:
        print()
        for name, result in results.items():
            if result.get("plan"):
                print(f"{name}:")
                for line in result["plan"]:
                    print(f"    {line}")
    print("all filters meet p95 < 50 ms" if not misses else f"MISSES p95 < 50 ms: {misses}")
    path = save_result(
        "search",
        {
            "sessions": sessions,
            "reps": reps,
            "database": str(data_dir),
            "build_seconds": facts.get("build_seconds"),
            "baseline_ms": {"p50": _ms(base_p50), "p95": _ms(percentile(baseline, 95))},
            "queries": {
                name: {
                    "rows": result["rows"],
                    "p50_ms": _ms(percentile(result["timings"], 50)),
                    "p95_ms": _ms(percentile(result["timings"], 95)),
                    "plan": result.get("plan"),
                }
                for name, result in results.items()
            },
            "http_p50_ms": {name: _ms(percentile(values, 50)) for name, values in http.items()},
        },
    )
    print(f"results: {path}")


if __name__ == "__main__":
    main()
