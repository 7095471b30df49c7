"""Ingest throughput: events/s through POST /api/v1/ingest against a bare Litestar endpoint.

Both servers run as real uvicorn processes (one worker each) on 127.0.0.1 and are driven by
httpx.AsyncClient at a fixed concurrency with the same request bodies. The hub gets a fresh
SQLite data dir and an app created through the admin API. Two workloads:

  fixture  the real recordings in tests/fixtures/recordings (SDK-sized batches of 1-22 events),
           each copy under a new session id and shifted in time
  large    synthetic sessions in batches of ~500 events (a recording's own events, then its
           incremental events repeated with later timestamps)

The figure that matters is the ratio hub/bare measured in the same run (goal: >= 0.5). A hub
round ends when its last batch is answered and every staged segment is in the blob store.

    python bench/ingest.py [--quick] [--concurrency 8] [--batches N] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import itertools
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import msgspec
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    RESULTS,
    Server,
    bare_server,
    create_app,
    hub_server,
    load_recordings,
    machine,
    percentile,
    save_result,
    table,
    temp_dir,
)

LARGE_BATCH = 500
DATABASE = "replayhub.db"
DAY_MS = 86_400_000


@dataclass
class Session:
    """One session's request bodies, sent in seq order by a single worker."""

    bodies: list[bytes]
    events: int


@dataclass
class Workload:
    name: str
    sessions: list[Session] = field(default_factory=list)

    @property
    def batches(self) -> int:
        return sum(len(session.bodies) for session in self.sessions)

    @property
    def events(self) -> int:
        return sum(session.events for session in self.sessions)

    @property
    def bytes(self) -> int:
        return sum(len(body) for session in self.sessions for body in session.bodies)


def _encode(batch: dict[str, Any]) -> bytes:
    return msgspec.json.encode(batch)


def _renamed(batches: list[dict[str, Any]], shift_ms: int) -> list[dict[str, Any]]:
    session_id = f"bench-{uuid.uuid4()}"
    out = copy.deepcopy(batches)
    for batch in out:
        batch["session_id"] = session_id
        batch.pop("app_key", None)
        for event in batch["events"]:
            event["timestamp"] += shift_ms
    return out


def fixture_workload(
    recordings: dict[str, dict[str, Any]], batches: int, copy_offset: int = 0
) -> Workload:
    """Copies of the real recordings (round robin) until `batches` batches are queued."""
    workload = Workload("fixture")
    cycle = itertools.cycle(sorted(recordings))
    for copy_index in itertools.count(copy_offset):
        if workload.batches >= batches:
            break
        recording = recordings[next(cycle)]
        renamed = _renamed(recording["batches"], -(copy_index % 30) * DAY_MS // 30)
        workload.sessions.append(
            Session(
                [_encode(batch) for batch in renamed],
                sum(len(batch["events"]) for batch in renamed),
            )
        )
    return workload


def synthetic_batches(
    recording: dict[str, Any], per_batch: int, count: int, shift_ms: int
) -> list[dict[str, Any]]:
    """`count` batches of `per_batch` events: the recording's events, then its incremental
    events repeated with timestamps moved past the previous repetition."""
    template = _renamed(recording["batches"], shift_ms)
    first = template[0]
    events = [event for batch in template for event in batch["events"]]
    incremental = [event for event in events if event["type"] == 3]
    start = min(event["timestamp"] for event in incremental)
    span = max(event["timestamp"] for event in incremental) - start + 2_000
    stream = list(events)
    end = max(event["timestamp"] for event in events)
    repeat = 0
    while len(stream) < per_batch * count:
        offset = end - start + 1_000 + repeat * span
        for event in incremental:
            moved = copy.deepcopy(event)
            moved["timestamp"] += offset
            stream.append(moved)
        repeat += 1
    out = []
    for seq in range(count):
        chunk = stream[seq * per_batch : (seq + 1) * per_batch]
        out.append(
            {
                "session_id": first["session_id"],
                "seq": seq,
                "events": chunk,
                "user": first.get("user"),
                "metadata": first.get("metadata"),
            }
        )
    return out


def large_workload(
    recordings: dict[str, dict[str, Any]], batches: int, per_session: int = 4, copy_offset: int = 0
) -> Workload:
    workload = Workload("large")
    cycle = itertools.cycle(sorted(recordings))
    for copy_index in itertools.count(copy_offset):
        if workload.batches >= batches:
            break
        count = min(per_session, batches - workload.batches)
        made = synthetic_batches(
            recordings[next(cycle)], LARGE_BATCH, count, -(copy_index % 30) * DAY_MS // 30
        )
        workload.sessions.append(
            Session([_encode(batch) for batch in made], sum(len(batch["events"]) for batch in made))
        )
    return workload


@dataclass
class Outcome:
    target: str
    workload: str
    batches: int
    events: int
    bytes: int
    seconds: float
    latencies: list[float]
    failures: int
    cpu_seconds: float = 0.0
    """CPU time (user + system, all threads) the server process spent during the run."""

    @property
    def cpu_share(self) -> float:
        """The server's CPU use as a share of one core over the run."""
        return self.cpu_seconds / self.seconds

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds

    def row(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "workload": self.workload,
            "batches": self.batches,
            "events": self.events,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "events_per_s": round(self.events_per_s, 1),
            "batches_per_s": round(self.batches / self.seconds, 1),
            "p50_ms": round(percentile(self.latencies, 50) * 1000, 2),
            "p95_ms": round(percentile(self.latencies, 95) * 1000, 2),
            "failures": self.failures,
            "server_cpu_seconds": round(self.cpu_seconds, 3),
            "server_cpu_ms_per_batch": round(1000 * self.cpu_seconds / self.batches, 3),
        }


def cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return 0.0
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


async def drive(
    url: str, workload: Workload, concurrency: int, target: str, pid: int | None = None
) -> Outcome:
    """Send every session's batches in order; `concurrency` sessions in flight at once."""
    queue: asyncio.Queue[Session] = asyncio.Queue()
    for session in workload.sessions:
        queue.put_nowait(session)
    latencies: list[float] = []
    failures: list[str] = []
    headers = {"Content-Type": "text/plain;charset=UTF-8"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(limits=limits, timeout=120) as client:

        async def worker() -> None:
            while True:
                try:
                    session = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                for body in session.bodies:
                    sent = time.perf_counter()
                    response = await client.post(url, content=body, headers=headers)
                    latencies.append(time.perf_counter() - sent)
                    if response.status_code != 202:
                        failures.append(f"{response.status_code} {response.text[:200]}")

        cpu_before = cpu_seconds(pid)
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
        cpu = cpu_seconds(pid) - cpu_before
    if failures:
        print(f"  {target}: {len(failures)} failed requests, first: {failures[0]}")
    return Outcome(
        target,
        workload.name,
        workload.batches,
        workload.events,
        workload.bytes,
        seconds,
        latencies,
        len(failures),
        cpu,
    )


def wait_until_moved(database: Path, timeout: float = 120.0) -> float:
    """Seconds until the hub has moved every staged segment to its blob store.

    The hub commits a batch with its events staged in the database and writes the blob
    right after (replayhub.ingest.staging); the hub's run ends when that work is done too.
    """
    started = time.perf_counter()
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    try:
        while time.perf_counter() - started < timeout:
            query = "SELECT count(*) FROM segments WHERE staged IS NOT NULL"
            if connection.execute(query).fetchone()[0] == 0:
                break
            time.sleep(0.01)
    finally:
        connection.close()
    return time.perf_counter() - started


def start_profile(pid: int, name: str) -> tuple[subprocess.Popen[bytes], Path] | None:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        print("  --profile: py-spy is not installed (pip install py-spy); skipping")
        return None
    out = RESULTS / f"ingest-profile-{name}.txt"
    process = subprocess.Popen(
        [
            py_spy,
            "record",
            "--pid",
            str(pid),
            "--format",
            "raw",
            "--rate",
            "1000",
            "--gil",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)
    return process, out


def stop_profile(profile: tuple[subprocess.Popen[bytes], Path] | None) -> None:
    if profile is None:
        return
    process, out = profile
    process.send_signal(2)  # SIGINT: py-spy writes the file and exits
    process.wait(timeout=60)
    print(f"  profile: {out}")
    summarize_profile(out)


def summarize_profile(path: Path, top: int = 25) -> None:
    """Print the functions with the most inclusive samples in a py-spy raw (collapsed) file."""
    if not path.exists():
        return
    inclusive: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        for frame in set(stack.split(";")):
            inclusive[frame] = inclusive.get(frame, 0) + count
    rows = sorted(inclusive.items(), key=lambda item: -item[1])[:top]
    print(f"  {total} samples; top frames by inclusive share:")
    for frame, count in rows:
        print(f"    {100 * count / total:5.1f}%  {frame[:150]}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--batches", type=int, help="fixture batches per target and round")
    parser.add_argument("--large-batches", type=int, help="~500-event batches per round")
    parser.add_argument("--rounds", type=int, help="alternating bare/hub rounds (median kept)")
    parser.add_argument(
        "--bare-fsync",
        action="store_true",
        help="the bare endpoint fsyncs each file like the hub's blob store",
    )
    parser.add_argument(
        "--hub-log-level", default="info", help="the hub's log level (info logs one line per batch)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy record the hub during its last round of each workload",
    )
    args = parser.parse_args()
    fixture_batches = args.batches or (120 if args.quick else 3000)
    large_batches = args.large_batches or (12 if args.quick else 240)
    rounds = args.rounds or (1 if args.quick else 3)
    recordings = load_recordings()

    print(f"ingest benchmark: {machine()}, concurrency {args.concurrency}, {rounds} round(s)")
    outcomes: list[Outcome] = []
    with temp_dir("rh-bench-ingest-") as tmp:
        bare = bare_server(Path(tmp) / "bare", fsync=args.bare_fsync)
        hub = hub_server(Path(tmp) / "hub", log_level=args.hub_log_level)
        with bare, hub:
            bare.wait_ready()
            hub.wait_ready()
            key = create_app(hub)
            targets: list[tuple[str, Server, str]] = [
                ("bare", bare, f"{bare.url}/ingest"),
                ("hub", hub, f"{hub.url}/api/v1/ingest?key={key}"),
            ]
            warm = fixture_workload(recordings, 20, copy_offset=10_000)
            for name, _, url in targets:
                asyncio.run(drive(url, warm, args.concurrency, name))
            copy_offset = 0
            for kind, size in (("fixture", fixture_batches), ("large", large_batches)):
                for round_index in range(rounds):
                    build = fixture_workload if kind == "fixture" else large_workload
                    for name, server, url in targets:
                        fresh = build(recordings, size, copy_offset=copy_offset)
                        copy_offset += len(fresh.sessions)
                        profile = None
                        if args.profile and name == "hub" and round_index == rounds - 1:
                            profile = start_profile(server.pid, kind)
                        outcome = asyncio.run(drive(url, fresh, args.concurrency, name, server.pid))
                        if name == "hub":
                            cpu_before = cpu_seconds(server.pid)
                            outcome.seconds += wait_until_moved(Path(tmp) / "hub" / DATABASE)
                            outcome.cpu_seconds += cpu_seconds(server.pid) - cpu_before
                        stop_profile(profile)
                        outcomes.append(outcome)
                        print(
                            f"  {kind:7} round {round_index + 1}  {name:4}  "
                            f"{outcome.events_per_s:9.0f} events/s  "
                            f"{outcome.batches / outcome.seconds:7.1f} batches/s  "
                            f"server cpu {100 * outcome.cpu_share:3.0f}% of a core, "
                            f"{1000 * outcome.cpu_seconds / outcome.batches:.2f} ms/batch"
                        )

    rows, summary = [], {}
    for kind in ("fixture", "large"):
        best: dict[str, Outcome] = {}
        for name in ("bare", "hub"):
            runs = sorted(
                (o for o in outcomes if o.workload == kind and o.target == name),
                key=lambda o: o.events_per_s,
            )
            best[name] = runs[len(runs) // 2]
        ratio = best["hub"].events_per_s / best["bare"].events_per_s
        summary[kind] = round(ratio, 3)
        for name in ("bare", "hub"):
            outcome = best[name]
            rows.append(
                [
                    kind,
                    name,
                    outcome.batches,
                    outcome.events,
                    f"{outcome.events / outcome.batches:.0f}",
                    f"{outcome.events_per_s:,.0f}",
                    f"{outcome.batches / outcome.seconds:,.1f}",
                    f"{percentile(outcome.latencies, 50) * 1000:.1f}",
                    f"{percentile(outcome.latencies, 95) * 1000:.1f}",
                    f"{1000 * outcome.cpu_seconds / outcome.batches:.2f}",
                    f"{100 * outcome.cpu_share:.0f}%",
                    f"{ratio:.2f}" if name == "hub" else "1.00",
                ]
            )
    print()
    print(
        table(
            [
                "workload",
                "target",
                "batches",
                "events",
                "ev/batch",
                "events/s",
                "batches/s",
                "p50 ms",
                "p95 ms",
                "cpu ms/batch",
                "cpu",
                "ratio",
            ],
            rows,
        )
    )
    for kind, ratio in summary.items():
        verdict = "meets" if ratio >= 0.5 else "MISSES"
        runs = [o for o in outcomes if o.workload == kind]
        cpu = {
            name: sum(o.cpu_seconds for o in runs if o.target == name)
            / sum(o.batches for o in runs if o.target == name)
            for name in ("bare", "hub")
        }
        print(
            f"{kind}: hub/bare = {ratio:.2f} events/s ({verdict} the goal of >= 0.5); "
            f"server CPU per batch hub/bare = {cpu['hub'] / max(cpu['bare'], 1e-9):.1f}x "
            f"(the less noisy figure)"
        )
    path = save_result(
        "ingest",
        {"args": vars(args), "ratios": summary, "runs": [outcome.row() for outcome in outcomes]},
    )
    print(f"results: {path}")


if __name__ == "__main__":
    main()
