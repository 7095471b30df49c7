"""Peak RSS of the hub while it ingests one ~50 MB recording, and while it streams it back.

A synthetic recording: a Meta event and a full snapshot of a large page (tens of thousands of
nodes), then incremental events (DOM mutations that add and remove subtrees, change text and
attributes, mouse moves, inputs) until the JSON is ~50 MB. It is sent to a real
`replayhub serve` (SQLite, fresh data dir) in batches of ~1 MB, one after another as the SDK
does; psutil samples the server's RSS every 10 ms. The baseline is the idle server's RSS in the
same run. Then GET /api/v1/sessions/{id}/events streams it back (time and peak RSS).

Goal: peak RSS under 200 MB while ingesting.

    python bench/ingest_memory.py [--quick] [--mb 50] [--batch-mb 1]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    ADMIN,
    RssSampler,
    create_app,
    hub_server,
    machine,
    save_result,
    table,
    temp_dir,
)

MB = 1_000_000
T0 = 1_767_000_000_000
WORDS = [
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "incididunt",
    "ut",
    "labore",
    "et",
    "dolore",
    "magna",
    "aliqua",
    "product",
    "price",
    "cart",
    "checkout",
]


class Page:
    """Node ids and a few element ids of the page, for events that refer to them."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.next_id = 1
        self.elements: list[int] = []
        self.texts: list[int] = []
        self.inputs: list[int] = []
        self.added: list[int] = []
        self.grid_id = 0

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def sentence(self, words: int) -> str:
        return " ".join(self.rng.choice(WORDS) for _ in range(words))

    def text(self) -> dict[str, Any]:
        node_id = self.new_id()
        self.texts.append(node_id)
        return {"type": 3, "textContent": self.sentence(self.rng.randint(2, 12)), "id": node_id}

    def element(
        self, tag: str, attrs: dict[str, str], children: list[dict[str, Any]], remember: bool = True
    ) -> dict[str, Any]:
        node_id = self.new_id()
        if remember:
            self.elements.append(node_id)
        if tag == "input":
            self.inputs.append(node_id)
        return {
            "type": 2,
            "tagName": tag,
            "attributes": attrs,
            "childNodes": children,
            "id": node_id,
        }

    def card(self, index: int) -> dict[str, Any]:
        """A product card: ~12 nodes, ~1 KB of JSON."""
        rng = self.rng
        return self.element(
            "div",
            {
                "class": f"card card-{index % 7} grid-item",
                "data-sku": f"sku-{rng.randrange(10**6)}",
            },
            [
                self.element(
                    "img",
                    {
                        "src": f"https://cdn.example.test/img/{index}.jpg",
                        "alt": self.sentence(3),
                        "loading": "lazy",
                    },
                    [],
                ),
                self.element("h3", {"class": "card-title"}, [self.text()]),
                self.element("p", {"class": "card-description"}, [self.text(), self.text()]),
                self.element("span", {"class": "price"}, [self.text()]),
                self.element(
                    "button",
                    {"class": "btn btn-primary add-to-cart", "type": "button"},
                    [self.text()],
                ),
                self.element(
                    "input",
                    {"type": "number", "name": f"qty-{index}", "value": "1", "class": "qty"},
                    [],
                ),
            ],
        )

    def snapshot(self, cards: int) -> dict[str, Any]:
        self.next_id = 0
        doc_id = self.new_id()
        doctype = {"type": 1, "name": "html", "publicId": "", "systemId": "", "id": self.new_id()}
        head = self.element(
            "head",
            {},
            [
                self.element(
                    "title", {}, [{"type": 3, "textContent": "Big catalogue", "id": self.new_id()}]
                ),
                self.element(
                    "style",
                    {},
                    [
                        {
                            "type": 3,
                            "textContent": ".card{display:grid}" * 200,
                            "isStyle": True,
                            "id": self.new_id(),
                        }
                    ],
                ),
            ],
        )
        grid = self.element(
            "main", {"id": "grid", "class": "grid"}, [self.card(index) for index in range(cards)]
        )
        self.grid_id = grid["id"]
        body = self.element("body", {"class": "catalogue"}, [grid])
        html = self.element("html", {"lang": "en"}, [head, body])
        return {"type": 0, "childNodes": [doctype, html], "id": doc_id}


def incremental(page: Page, t: int) -> dict[str, Any]:
    rng = page.rng
    roll = rng.random()
    if roll < 0.30:  # mouse moves: a batch of positions
        data: dict[str, Any] = {
            "source": 1,
            "positions": [
                {
                    "x": rng.randrange(1280),
                    "y": rng.randrange(4000),
                    "id": rng.choice(page.elements),
                    "timeOffset": -offset * 50,
                }
                for offset in range(rng.randint(5, 20))
            ],
        }
    elif roll < 0.45:  # an input in a quantity field
        data = {
            "source": 5,
            "text": str(rng.randrange(1, 20)),
            "isChecked": False,
            "id": rng.choice(page.inputs),
            "userTriggered": True,
        }
    elif roll < 0.50:  # scroll
        data = {"source": 3, "id": 1, "x": 0, "y": rng.randrange(20_000)}
    else:  # a DOM mutation: new cards in, old added ones out, text and attribute changes
        adds, removes = [], []
        for _ in range(rng.randint(1, 3)):
            card = page.card(rng.randrange(10**5))
            page.added.append(card["id"])
            adds.append({"parentId": page.grid_id, "nextId": None, "node": card})
        while len(page.added) > 400:
            removes.append({"parentId": page.grid_id, "id": page.added.pop(0)})
        texts = [
            {"id": rng.choice(page.texts[:2000]), "value": page.sentence(4)}
            for _ in range(rng.randint(0, 4))
        ]
        attributes = [
            {
                "id": rng.choice(page.elements[:2000]),
                "attributes": {"class": f"card highlighted-{rng.randrange(9)}"},
            }
            for _ in range(rng.randint(0, 3))
        ]
        data = {
            "source": 0,
            "adds": adds,
            "removes": removes,
            "texts": texts,
            "attributes": attributes,
        }
    return {"type": 3, "data": data, "timestamp": t}


def synthesize(total_mb: float, batch_mb: float, seed: int = 5) -> tuple[str, list[bytes], int]:
    """Request bodies of one session: ~`total_mb` of events in ~`batch_mb` batches."""
    rng = random.Random(seed)
    page = Page(rng)
    session_id = f"bench-mem-{uuid.uuid4()}"
    cards = max(50, int(total_mb * 80))  # ~4000 cards (~50k nodes, ~4 MB) for 50 MB
    t = T0
    meta = {
        "type": 4,
        "data": {"href": "https://shop.example.test/catalogue", "width": 1280, "height": 800},
        "timestamp": t,
    }
    snapshot = {
        "type": 2,
        "data": {"node": page.snapshot(cards), "initialOffset": {"left": 0, "top": 0}},
        "timestamp": t + 5,
    }
    metadata = {"user_agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/124.0", "sdk": "bench"}
    user = {"id": "user-mem", "email": "mem@example.com"}

    def body(seq: int, events: list[dict[str, Any]]) -> bytes:
        return msgspec.json.encode(
            {
                "session_id": session_id,
                "seq": seq,
                "events": events,
                "user": user,
                "metadata": metadata,
            }
        )

    bodies = [body(0, [meta, snapshot])]
    total = len(bodies[0])
    events: list[dict[str, Any]] = []
    size = 0
    t += 100
    while total + size < total_mb * MB:
        t += rng.randint(5, 120)
        event = incremental(page, t)
        events.append(event)
        size += len(msgspec.json.encode(event)) + 1
        if size >= batch_mb * MB:
            bodies.append(body(len(bodies), events))
            total += len(bodies[-1])
            events, size = [], 0
    if events:
        bodies.append(body(len(bodies), events))
    return session_id, bodies, page.next_id


def idle_rss(sampler: RssSampler, seconds: float = 1.0) -> int:
    values = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        values.append(sampler.rss())
        time.sleep(0.02)
    return max(values)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a 5 MB recording")
    parser.add_argument("--mb", type=float, help="recording size in MB (default 50)")
    parser.add_argument("--batch-mb", type=float, default=1.0)
    args = parser.parse_args()
    total_mb = args.mb or (5 if args.quick else 50)

    print(f"ingest memory benchmark: {machine()}")
    started = time.perf_counter()
    session_id, bodies, nodes = synthesize(total_mb, args.batch_mb)
    sent_bytes = sum(len(body) for body in bodies)
    print(
        f"  synthesized {sent_bytes / MB:.1f} MB in {len(bodies)} batches "
        f"(snapshot batch {len(bodies[0]) / MB:.1f} MB, {nodes:,} node ids) "
        f"in {time.perf_counter() - started:.1f} s"
    )

    with temp_dir("rh-bench-mem-") as tmp, hub_server(Path(tmp) / "hub", "memory-hub") as hub:
        hub.wait_ready()
        key = create_app(hub)
        sampler = RssSampler(hub.pid)
        httpx.get(f"{hub.url}/health").raise_for_status()
        time.sleep(0.5)
        baseline = idle_rss(sampler)

        latencies = []
        with RssSampler(hub.pid) as during_ingest, httpx.Client(timeout=300) as client:
            started = time.perf_counter()
            for body in bodies:
                sent = time.perf_counter()
                response = client.post(
                    f"{hub.url}/api/v1/ingest?key={key}",
                    content=body,
                    headers={"Content-Type": "text/plain;charset=UTF-8"},
                )
                latencies.append(time.perf_counter() - sent)
                if response.status_code != 202:
                    raise SystemExit(f"ingest failed: {response.status_code} {response.text[:500]}")
            ingest_seconds = time.perf_counter() - started
        after_ingest = idle_rss(sampler, 0.5)

        received = 0
        with RssSampler(hub.pid) as during_stream, httpx.Client(timeout=300) as client:
            started = time.perf_counter()
            first_byte = None
            with client.stream(
                "GET",
                f"{hub.url}/api/v1/sessions/{session_id}/events",
                headers={"Authorization": f"Bearer {ADMIN}"},
            ) as response:
                response.raise_for_status()
                for chunk in response.iter_raw():
                    if first_byte is None:
                        first_byte = time.perf_counter() - started
                    received += len(chunk)
            stream_seconds = time.perf_counter() - started

    mib = 1024 * 1024
    peak_ingest, peak_stream = during_ingest.peak, during_stream.peak
    rows = [
        ["idle server (baseline)", f"{baseline / mib:.0f}", "1.00", "", ""],
        [
            "ingest: peak",
            f"{peak_ingest / mib:.0f}",
            f"{peak_ingest / baseline:.2f}",
            f"{ingest_seconds:.1f}",
            f"{sent_bytes / MB / ingest_seconds:.2f}",
        ],
        [
            "after ingest (idle)",
            f"{after_ingest / mib:.0f}",
            f"{after_ingest / baseline:.2f}",
            "",
            "",
        ],
        [
            "stream back: peak",
            f"{peak_stream / mib:.0f}",
            f"{peak_stream / baseline:.2f}",
            f"{stream_seconds:.2f}",
            f"{received / MB / stream_seconds:.1f}",
        ],
    ]
    print()
    print(table(["phase", "RSS MiB", "x idle", "seconds", "MB/s"], rows))
    first_batch = latencies[0]
    latencies.sort()
    print(
        f"batches: {len(bodies)}, per-batch latency p50 {latencies[len(latencies) // 2]:.3f} s,"
        f" max {latencies[-1]:.3f} s (the first batch, with the snapshot: {first_batch:.3f} s)"
    )
    print(f"stream: {received / MB:.1f} MB back, first byte after {first_byte or 0:.3f} s")
    verdict = "meets" if peak_ingest < 200 * mib else "MISSES"
    print(f"ingest peak RSS {peak_ingest / mib:.0f} MiB ({verdict} the goal of < 200 MB)")
    path = save_result(
        "ingest_memory",
        {
            "sent_mb": round(sent_bytes / MB, 2),
            "batches": len(bodies),
            "idle_rss_mib": round(baseline / mib, 1),
            "ingest_peak_rss_mib": round(peak_ingest / mib, 1),
            "after_ingest_rss_mib": round(after_ingest / mib, 1),
            "stream_peak_rss_mib": round(peak_stream / mib, 1),
            "ingest_seconds": round(ingest_seconds, 2),
            "stream_seconds": round(stream_seconds, 3),
            "stream_first_byte_seconds": round(first_byte or 0, 3),
            "received_mb": round(received / MB, 2),
            "batch_latency_s": {
                "p50": round(latencies[len(latencies) // 2], 3),
                "max": round(latencies[-1], 3),
            },
        },
    )
    print(f"results: {path}")


if __name__ == "__main__":
    main()
