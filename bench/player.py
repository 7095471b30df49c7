"""Player first frame: time from opening /replays/{id} to the replayed page drawn, vs a static page.

Two synthetic recordings (~2 MB and ~20 MB of events JSON): the checkout fixture under a new
session id, its full snapshot padded with rows of a product list (~10% of the target size),
then many incremental DOM mutations (text and attribute changes, rows added and removed) after
its last event. They are ingested through the real API (POST /api/v1/ingest, ~1 MB batches)
into a `replayhub serve` subprocess (SQLite, fresh data dir).

Measured: in a new browser context each time (cookie from POST /login with the admin token),
navigate to `/replays/{id}?t=0` and poll on every animation frame (an init script) until the
iframe inside `.replayer-wrapper` has a body with child elements, i.e. rrweb rebuilt the full
snapshot; the time is `performance.now()` then (from the navigation start). Also recorded: the
time the page sets `body[data-loaded=true]` (all chunks fetched and added).

Baseline, same run, same Chromium, measured the same way: a minimal static page on a local
`python -m http.server` that loads the same rrweb-player bundle and stylesheet, fetches the
same events (saved from GET /api/v1/sessions/{id}/events) as one JSON file and calls
`new rrwebPlayer.Player({target, props: {events, ...}})` with the hub page's props.

    .venv/bin/python bench/player.py [--quick] [--reps 5] [--sizes 2,20]
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import msgspec

from replayhub.replay.snapshot import CHROMIUM_ARGS

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    ADMIN,
    PYTHON,
    RECORDINGS,
    RESULTS,
    ROOT,
    Server,
    create_app,
    free_port,
    hub_server,
    machine,
    median,
    percentile,
    save_result,
    table,
    temp_dir,
)

MB = 1_000_000
CHROMIUM = "/usr/bin/chromium"
ARGS = CHROMIUM_ARGS
VIEWPORT = {"width": 1366, "height": 768}
PLAYER_STATIC = ROOT / "src" / "replayhub" / "web" / "static" / "player"
MAX_BATCH_EVENTS = 4000  # the hub refuses more than 5000 events a batch
WORDS = [
    *["poster", "engine", "lace", "card", "order", "cart", "price", "blue"],
    *["red", "large", "small", "gift", "wrap", "ships", "today"],
]

# Runs in every frame before any page script; only the top page measures.
PROBE = """
(() => {
  if (window.top !== window) return;
  const check = () => {
    const now = performance.now();
    if (window.__benchFirstFrame === undefined) {
      const frame = document.querySelector('.replayer-wrapper iframe');
      const doc = frame && frame.contentDocument;
      if (doc && doc.body && doc.body.childElementCount > 0) window.__benchFirstFrame = now;
    }
    if (window.__benchLoaded === undefined && document.body
        && document.body.dataset.loaded === 'true') window.__benchLoaded = now;
    if (window.__benchFirstFrame === undefined || window.__benchLoaded === undefined) {
      requestAnimationFrame(check);
    }
  };
  requestAnimationFrame(check);
})();
"""

# The baseline: the same bundle and stylesheet, the same events, the hub page's player props.
BASELINE_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>baseline</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/style.css">
<style>body { margin: 16px; font-family: sans-serif; } #player { width: 900px; }</style>
</head><body>
<div id="player"></div>
<script src="/rrweb-player.js"></script>
<script>
  var IMAGE_PLACEHOLDER =
    "img{background:#e5e7eb repeating-linear-gradient(45deg,#e5e7eb 0 8px,#d1d5db 8px 16px);" +
    "min-width:24px;min-height:24px;color:transparent;}";
  fetch("/" + new URLSearchParams(location.search).get("events"))
    .then(function (response) { return response.json(); })
    .then(function (events) {
      var Player = window.rrwebPlayer.Player || window.rrwebPlayer.default;
      var box = document.getElementById("player");
      var width = Math.max(320, box.clientWidth);
      var height = Math.max(240, Math.min(width * 0.6, window.innerHeight - 260));
      window.player = new Player({
        target: box,
        props: {
          events: events, width: Math.round(width), height: Math.round(height) - 80,
          autoPlay: false, skipInactive: true, showWarning: false, mouseTail: false,
          insertStyleRules: [IMAGE_PLACEHOLDER],
        },
      });
      window.player.goto(0, false);
      document.body.dataset.loaded = "true";
    });
</script>
</body></html>
"""


# -- the recordings ---------------------------------------------------------------------------


class Padding:
    """Rows of a product list in the full snapshot, and mutations of them afterwards."""

    def __init__(self, rng: random.Random, next_id: int) -> None:
        self.rng = rng
        self.next_id = next_id
        self.section_id = 0
        self.elements: list[int] = []  # in the snapshot: never removed
        self.texts: list[int] = []
        self.added: list[int] = []

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def words(self, count: int) -> str:
        return " ".join(self.rng.choice(WORDS) for _ in range(count))

    def text(self, remember: bool) -> dict[str, Any]:
        node = {"type": 3, "textContent": self.words(self.rng.randint(2, 8)), "id": self.new_id()}
        if remember:
            self.texts.append(node["id"])
        return node

    def element(
        self, tag: str, attributes: dict[str, str], children: list[dict[str, Any]], remember: bool
    ) -> dict[str, Any]:
        node = {
            "type": 2,
            "tagName": tag,
            "attributes": attributes,
            "childNodes": children,
            "id": self.new_id(),
        }
        if remember:
            self.elements.append(node["id"])
        return node

    def row(self, index: int, remember: bool) -> dict[str, Any]:
        """A list row: 7 nodes, ~500 bytes of JSON."""
        return self.element(
            "div",
            {"class": f"row row-{index % 5}", "data-sku": f"sku-{self.rng.randrange(10**6)}"},
            [
                self.element("span", {"class": "name"}, [self.text(remember)], remember),
                self.element("span", {"class": "price"}, [self.text(remember)], remember),
                self.element(
                    "button", {"type": "button", "class": "add"}, [self.text(remember)], remember
                ),
            ],
            remember,
        )

    def section(self, target_bytes: int) -> dict[str, Any]:
        rows: list[dict[str, Any]] = []
        size = 0
        while size < target_bytes:
            rows.append(self.row(len(rows), remember=True))
            size += len(msgspec.json.encode(rows[-1]))
        node = self.element("section", {"id": "bench-pad", "class": "list"}, rows, remember=False)
        self.section_id = node["id"]
        return node

    def mutation(self, timestamp: int) -> dict[str, Any]:
        rng = self.rng
        data: dict[str, Any] = {
            "source": 0,
            "texts": [],
            "attributes": [],
            "adds": [],
            "removes": [],
        }
        roll = rng.random()
        if roll < 0.4:
            data["texts"] = [
                {"id": rng.choice(self.texts), "value": self.words(rng.randint(3, 10))}
                for _ in range(rng.randint(1, 4))
            ]
        elif roll < 0.7:
            data["attributes"] = [
                {
                    "id": rng.choice(self.elements),
                    "attributes": {"class": f"row highlighted-{rng.randrange(9)}"},
                }
                for _ in range(rng.randint(1, 3))
            ]
        else:
            row = self.row(rng.randrange(10**5), remember=False)
            self.added.append(row["id"])
            data["adds"] = [{"parentId": self.section_id, "nextId": None, "node": row}]
            if len(self.added) > 200:
                data["removes"] = [{"parentId": self.section_id, "id": self.added.pop(0)}]
        return {"type": 3, "timestamp": timestamp, "data": data}


def max_id(node: Any) -> int:
    if isinstance(node, dict):
        own = node.get("id") if isinstance(node.get("id"), int) else 0
        return max([own, *(max_id(child) for child in node.get("childNodes", []))])
    return 0


def find_tag(node: dict[str, Any], tag: str) -> dict[str, Any] | None:
    if node.get("tagName") == tag:
        return node
    for child in node.get("childNodes", []):
        found = find_tag(child, tag)
        if found is not None:
            return found
    return None


def synthesize(
    target_bytes: int, batch_bytes: int = MB, seed: int = 7
) -> tuple[str, list[bytes], int]:
    """Request bodies of one padded checkout session (~`target_bytes` of events JSON)."""
    recording = json.loads((RECORDINGS / "checkout.json").read_text())
    rng = random.Random(seed + target_bytes)
    session_id = f"bench-player-{target_bytes // MB}mb-{uuid.uuid4()}"
    batches = copy.deepcopy(recording["batches"])
    for batch in batches:
        batch.pop("app_key", None)
        batch["session_id"] = session_id
    events = [event for batch in batches for event in batch["events"]]
    snapshot = next(event for event in events if event["type"] == 2)
    padding = Padding(rng, max_id(snapshot["data"]["node"]))
    body = find_tag(snapshot["data"]["node"], "body")
    assert body is not None
    body["childNodes"].append(padding.section(target_bytes // 10))

    encoded = [msgspec.json.encode(batch) for batch in batches]
    size = sum(len(msgspec.json.encode(batch["events"])) for batch in batches)
    template = {key: value for key, value in batches[0].items() if key != "events"}
    timestamp = events[-1]["timestamp"] + 50
    chunk: list[dict[str, Any]] = []
    chunk_bytes = 0
    while size < target_bytes:
        timestamp += rng.randint(1, 4)
        event = padding.mutation(timestamp)
        chunk.append(event)
        grown = len(msgspec.json.encode(event)) + 1
        chunk_bytes += grown
        size += grown
        if chunk_bytes >= batch_bytes or len(chunk) >= MAX_BATCH_EVENTS or size >= target_bytes:
            encoded.append(msgspec.json.encode({**template, "seq": len(encoded), "events": chunk}))
            chunk, chunk_bytes = [], 0
    return session_id, encoded, padding.next_id


def ingest(hub: Server, key: str, bodies: list[bytes]) -> None:
    with httpx.Client(timeout=300) as client:
        for body in bodies:
            response = client.post(
                f"{hub.url}/api/v1/ingest?key={key}",
                content=body,
                headers={"Content-Type": "text/plain;charset=UTF-8"},
            )
            if response.status_code != 202:
                raise SystemExit(f"ingest failed: {response.status_code} {response.text[:500]}")


def stored_events(hub: Server, session_id: str) -> bytes:
    """All the session's events as the hub serves them (waits until the session is indexed)."""
    headers = {"Authorization": f"Bearer {ADMIN}"}
    deadline = time.monotonic() + 60
    with httpx.Client(base_url=hub.url, headers=headers, timeout=300) as api:
        while api.get(f"/api/v1/sessions/{session_id}").status_code != 200:
            if time.monotonic() > deadline:
                raise SystemExit(f"session {session_id} never showed up")
            time.sleep(0.2)
        response = api.get(f"/api/v1/sessions/{session_id}/events")
        response.raise_for_status()
        return response.content


def login_cookie(hub: Server) -> dict[str, Any]:
    """The session cookie from the real login form, for Playwright's add_cookies."""
    response = httpx.post(
        f"{hub.url}/login", data={"token": ADMIN, "next": "/"}, follow_redirects=False
    )
    if response.status_code != 303 or "replayhub_session" not in response.cookies:
        raise SystemExit(f"login failed: {response.status_code} {response.text[:300]}")
    return {
        "name": "replayhub_session",
        "value": response.cookies["replayhub_session"],
        "url": hub.url,
    }


# -- the baseline server ----------------------------------------------------------------------


class StaticServer:
    """`python -m http.server` on a folder, in its own subprocess like the hub."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        RESULTS.mkdir(parents=True, exist_ok=True)
        self._log = (RESULTS / "player-static.log").open("wb")
        self.process = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                "--directory",
                str(folder),
                str(self.port),
            ],
            stdout=self._log,
            stderr=self._log,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(self.url + "/index.html", timeout=1).raise_for_status()
                return
            except httpx.HTTPError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("the static server did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


# -- measuring --------------------------------------------------------------------------------


def first_frame(browser: Any, url: str, cookie: dict[str, Any] | None) -> tuple[float, float]:
    """(first frame, all loaded) in ms from navigation start, in a new context."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        if cookie is not None:
            context.add_cookies([cookie])
        context.add_init_script(PROBE)
        page = context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(str(error)))
        response = page.goto(url, wait_until="commit")
        if response is None or response.status != 200:
            raise SystemExit(f"{url}: {response.status if response else 'no response'}")
        page.wait_for_function(
            "() => window.__benchFirstFrame !== undefined && window.__benchLoaded !== undefined",
            timeout=180_000,
            polling=100,
        )
        times = page.evaluate("() => [window.__benchFirstFrame, window.__benchLoaded]")
        heading = page.evaluate(
            "() => document.querySelector('.replayer-wrapper iframe')"
            ".contentDocument.querySelector('h1').textContent"
        )
        if heading != "Checkout" or problems:
            raise SystemExit(f"{url}: unexpected replay (h1 {heading!r}, errors {problems})")
        return float(times[0]), float(times[1])
    finally:
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="0.5 and 2 MB, 2 reps")
    parser.add_argument("--reps", type=int, help="measurements per case (default 5)")
    parser.add_argument("--sizes", help="recording sizes in MB, comma-separated (default 2,20)")
    args = parser.parse_args()
    reps = args.reps or (2 if args.quick else 5)
    sizes = [float(s) for s in (args.sizes or ("0.5,2" if args.quick else "2,20")).split(",")]

    from playwright.sync_api import sync_playwright

    print(f"player first-frame benchmark: {machine()}")
    with temp_dir("rh-bench-player-") as tmp:
        static_dir = Path(tmp) / "static"
        static_dir.mkdir()
        (static_dir / "index.html").write_text(BASELINE_HTML)
        for name in ("rrweb-player.js", "style.css"):
            shutil.copy(PLAYER_STATIC / name, static_dir / name)

        hub = hub_server(Path(tmp) / "hub", "player-hub", log_level="warning")
        static = StaticServer(static_dir)
        try:
            hub.wait_ready()
            key = create_app(hub)
            cases = []
            for mb in sizes:
                started = time.perf_counter()
                session_id, bodies, nodes = synthesize(int(mb * MB))
                ingest(hub, key, bodies)
                events = stored_events(hub, session_id)
                name = f"events-{len(cases)}.json"
                (static_dir / name).write_bytes(events)
                count = len(msgspec.json.decode(events))
                print(
                    f"  {mb:g} MB case: {len(events) / MB:.2f} MB of events ({count:,} events, "
                    f"{len(bodies)} batches, {nodes:,} node ids), synthesized and ingested in "
                    f"{time.perf_counter() - started:.1f} s"
                )
                cases.append((mb, session_id, name, len(events), count, len(bodies)))
            cookie = login_cookie(hub)

            results = []
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                try:
                    for mb, session_id, name, size, count, batches in cases:
                        hub_url = f"{hub.url}/replays/{session_id}?t=0"
                        base_url = f"{static.url}/index.html?events={name}"
                        first_frame(browser, hub_url, cookie)  # warm-up, not counted
                        first_frame(browser, base_url, None)
                        hub_times, base_times = [], []
                        for _ in range(reps):  # interleaved, so drift hits both alike
                            hub_times.append(first_frame(browser, hub_url, cookie))
                            base_times.append(first_frame(browser, base_url, None))
                        results.append((mb, size, count, batches, hub_times, base_times))
                        print(f"  measured {mb:g} MB ({reps} reps each)")
                finally:
                    browser.close()
        finally:
            static.stop()
            hub.stop()

    rows, record = [], []
    for mb, size, count, batches, hub_times, base_times in results:
        hub_first = [first for first, _ in hub_times]
        hub_loaded = [loaded for _, loaded in hub_times]
        base_first = [first for first, _ in base_times]
        ratio = median(hub_first) / median(base_first)
        rows.append(
            [
                f"{size / MB:.1f} MB ({count:,} events)",
                f"{median(hub_first):.0f}",
                f"{percentile(hub_first, 95):.0f}",
                f"{median(base_first):.0f}",
                f"{percentile(base_first, 95):.0f}",
                f"{ratio:.2f}",
                f"{median(hub_loaded):.0f}",
            ]
        )
        record.append(
            {
                "target_mb": mb,
                "events_bytes": size,
                "events": count,
                "batches": batches,
                "hub_first_frame_ms": [round(v, 1) for v in hub_first],
                "hub_loaded_ms": [round(v, 1) for v in hub_loaded],
                "baseline_first_frame_ms": [round(v, 1) for v in base_first],
                "ratio_p50": round(ratio, 3),
            }
        )
    print()
    print(
        table(
            [
                "recording",
                "hub p50 ms",
                "hub p95 ms",
                "base p50 ms",
                "base p95 ms",
                "hub/base p50",
                "hub loaded p50 ms",
            ],
            rows,
        )
    )
    print(
        "first frame = iframe in .replayer-wrapper has body children, ms from navigation start;"
        f" {reps} reps, new context each, p95 is nearest-rank"
    )
    path = save_result("player", {"reps": reps, "cases": record})
    print(f"saved {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
