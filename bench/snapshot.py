"""Snapshot renders: cold start, warm p50/p95 against the same Chromium screenshotting static HTML.

    .venv/bin/python bench/snapshot.py [--renders 30]

Recordings: the checkout fixture (small) and the same padded with attribute mutations to
about 2 MB. Baseline, same run and same browser: `set_content` of a static HTML page of
similar size, then a screenshot. Goals: warm p50 under 3x the baseline; cold start under 3 s.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import msgspec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from replayhub.config import Settings  # noqa: E402
from replayhub.db.models import ReplaySession  # noqa: E402
from replayhub.hub import Hub  # noqa: E402
from replayhub.ingest.decode import decode_body  # noqa: E402
from replayhub.logs import configure_logging  # noqa: E402
from replayhub.replay.events import stream_events  # noqa: E402
from replayhub.replay.moments import render_moment  # noqa: E402
from replayhub.security import create_app  # noqa: E402

RECORDING = ROOT / "tests" / "fixtures" / "recordings" / "checkout.json"
PAD_TARGET_BYTES = 2 * 1024 * 1024
BATCH_EVENTS = 4000
WARM_GOAL = 3.0
COLD_GOAL_SECONDS = 3.0


def padded(recording: dict[str, Any], target: int) -> dict[str, Any]:
    """The recording plus attribute mutations (on the h1) until its events weigh `target`."""
    recording = copy.deepcopy(recording)
    events = [event for batch in recording["batches"] for event in batch["events"]]
    start = min(event["timestamp"] for event in events)
    padding, size, index = [], len(json.dumps(events)), 0
    while size < target:
        event = {
            "type": 3,
            "timestamp": start + 100 + index % 5000,
            "data": {
                "source": 0,
                "texts": [],
                "removes": [],
                "adds": [],
                "attributes": [{"id": 24, "attributes": {"data-pad": f"{index:08d}" + "x" * 180}}],
            },
        }
        padding.append(event)
        size += len(json.dumps(event)) + 1
        index += 1
    base = recording["batches"]
    chunks = [padding[i : i + BATCH_EVENTS] for i in range(0, len(padding), BATCH_EVENTS)]
    recording["batches"] = [base[0], *({**base[0], "events": chunk} for chunk in chunks), *base[1:]]
    return recording


async def ingest(hub: Hub, app_id: str, recording: dict[str, Any]) -> ReplaySession:
    session_id = str(uuid.uuid4())
    for seq, batch in enumerate(recording["batches"]):
        body = msgspec.json.encode({**batch, "session_id": session_id, "seq": seq})
        await hub.ingestor.ingest(app_id, decode_body(body, "", hub.settings.limits))
    await hub.ingestor.close_quiet_sessions(quiet_ms=0)
    async with hub.db.read() as tx:
        session = await tx.get(ReplaySession, session_id)
    assert session is not None
    return session


def static_page(size: int) -> str:
    """A static HTML page like the checkout one, padded to about `size` bytes."""
    form = "".join(f'<label>Field {i}<input value="{"*" * 12}"></label><br>' for i in range(5))
    head = (
        f"<!doctype html><html><head><style>body{{font-family:sans-serif;margin:32px 384px}}"
        f"</style></head><body><h1>Checkout</h1><p>1 x poster - 24.00 EUR</p>{form}"
        "<button>Place order</button>"
    )
    filler = "<!-- " + "x" * max(0, size - len(head) - 40) + " -->"
    return head + filler + "</body></html>"


async def baseline(browser: Any, html: str, renders: int) -> list[float]:
    page = await browser.new_page(viewport={"width": 1280, "height": 720})
    times = []
    for _ in range(renders):
        started = time.perf_counter()
        await page.set_content(html)
        await page.screenshot(type="png")
        times.append(time.perf_counter() - started)
    await page.close()
    return times


async def warm(hub: Hub, session: ReplaySession, renders: int) -> list[float]:
    times = []
    for index in range(renders):
        t = session.duration_ms - (index * 37) % max(1, session.duration_ms // 2)
        started = time.perf_counter()
        await render_moment(hub, session, t, 1280)
        times.append(time.perf_counter() - started)
    return times


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def line(name: str, times: list[float], base: list[float]) -> tuple[str, float]:
    p50, p95, base50 = statistics.median(times), percentile(times, 0.95), statistics.median(base)
    ratio = p50 / base50
    verdict = "ok" if ratio < WARM_GOAL else "OVER GOAL"
    return (
        f"{name:<22} p50 {p50 * 1000:7.1f} ms  p95 {p95 * 1000:7.1f} ms  "
        f"baseline p50 {base50 * 1000:7.1f} ms  ratio {ratio:4.2f}x  "
        f"(goal < {WARM_GOAL}x: {verdict})"
    ), ratio


async def run(renders: int) -> int:
    configure_logging("warning", "console")
    recording = json.loads(RECORDING.read_text())
    big = padded(recording, PAD_TARGET_BYTES)
    with tempfile.TemporaryDirectory() as folder:
        hub = Hub.from_settings(Settings(data_dir=str(Path(folder) / "var"), log_level="warning"))
        await hub.start()
        try:
            app, _ = await create_app(hub.db, "Bench")
            small_session = await ingest(hub, app.id, recording)
            big_session = await ingest(hub, app.id, big)
            started = time.perf_counter()
            await render_moment(hub, small_session, small_session.duration_ms, 1280)
            cold = time.perf_counter() - started
            results = []
            for name, session in (
                ("small recording", small_session),
                ("~2 MB recording", big_session),
            ):
                size = sum(
                    [len(chunk) async for chunk in stream_events(hub.db, hub.blobs, session.id)]
                )
                times = await warm(hub, session, renders)
                base = await baseline(hub.snapshots._browser, static_page(size), renders)
                results.append(line(f"{name} ({size // 1024} KB)", times, base))
        finally:
            await hub.stop()
    print(
        f"cold start (launch to first PNG): {cold:.2f} s  "
        f"(goal < {COLD_GOAL_SECONDS} s: {'ok' if cold < COLD_GOAL_SECONDS else 'OVER GOAL'})"
    )
    for text, _ in results:
        print(text)
    ok = cold < COLD_GOAL_SECONDS and all(ratio < WARM_GOAL for _, ratio in results)
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=30, help="Warm renders per case.")
    sys.exit(asyncio.run(run(parser.parse_args().renders)))


if __name__ == "__main__":
    main()
