"""Outbox dispatch against a stand-in Zendesk that enforces 1,200 requests/min with 429s.

Part 1 sends 2,000 notes through the dispatcher (hub paced at 1,200/min): achieved rate as a
ratio of the limit (goal >= 0.95), 429s provoked (goal: none after the first minute), notes
lost or duplicated (must be 0). Part 2 measures webhook-to-note latency through the whole hub
(signed webhook → inbox → outbox → note on the stand-in) when the limit does not bind.

    .venv/bin/python bench/dispatch.py [--notes 2000] [--webhooks 40]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from litestar import Litestar, Request, Response, get, post, put

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from replayhub.app import create_app  # noqa: E402
from replayhub.config import OutboxSettings, Settings  # noqa: E402
from replayhub.hub import Hub  # noqa: E402
from replayhub.outbox.actions import TICKET_NOTE, marker_for  # noqa: E402
from replayhub.outbox.store import enqueue, new_delivery_id  # noqa: E402

LIMIT_PER_MINUTE = 1200
LATENCY_S = 0.05
SECRET = "bench-webhook-secret"
ADMIN = "rh_bench_admin_token_0123456789abcdef"


class StandIn:
    """Zendesk's few endpoints the connector uses, a sliding 60 s limit, 50 ms answers."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.window: deque[float] = deque()
        self.started = time.monotonic()
        self.ok_times: list[float] = []
        self.limited_times: list[float] = []
        self.notes: dict[str, list[str]] = {}
        self.note_arrivals: dict[str, float] = {}
        self.comments: dict[str, list[dict[str, Any]]] = {}
        self.ids = 1000

    def admit(self) -> float | None:
        """None if the request may proceed, else the seconds to wait (Retry-After)."""
        now = time.monotonic()
        while self.window and self.window[0] <= now - 60:
            self.window.popleft()
        if len(self.window) >= self.limit:
            self.limited_times.append(now - self.started)
            return max(self.window[0] + 60 - now, 0.0)
        self.window.append(now)
        self.ok_times.append(now - self.started)
        return None

    def app(self) -> Litestar:
        stand_in = self

        async def gate() -> Response[Any] | None:
            wait = stand_in.admit()
            await asyncio.sleep(LATENCY_S)
            if wait is None:
                return None
            return Response({"error": "TooManyRequests"}, status_code=429,
                            headers={"Retry-After": str(int(wait) + 1)})

        @get("/api/v2/users/me")
        async def me() -> Response[Any]:
            return await gate() or Response({"user": {"id": 1, "name": "bench"}})

        @put("/api/v2/tickets/{ticket_id:str}")
        async def update(ticket_id: str, request: Request[Any, Any, Any]) -> Response[Any]:
            limited = await gate()
            if limited:
                return limited
            ticket = (await request.json())["ticket"]
            events = []
            if "comment" in ticket:
                stand_in.ids += 1
                html = ticket["comment"]["html_body"]
                stand_in.comments.setdefault(ticket_id, []).append(
                    {"id": stand_in.ids, "html_body": html, "body": html})
                stand_in.notes.setdefault(ticket_id, []).append(html)
                stand_in.note_arrivals.setdefault(ticket_id, time.time())
                events.append({"id": stand_in.ids, "type": "Comment"})
            return Response({"ticket": {"id": int(ticket_id), "requester_id": 1},
                             "audit": {"id": 1, "events": events}})

        @put("/api/v2/tickets/{ticket_id:str}/tags")
        async def tags(ticket_id: str) -> Response[Any]:
            return await gate() or Response({"tags": ["replay_attached"]})

        @get("/api/v2/tickets/{ticket_id:str}/comments")
        async def comments(ticket_id: str) -> Response[Any]:
            return await gate() or Response({"comments": stand_in.comments.get(ticket_id, [])})

        @post("/api/v2/uploads", status_code=201)
        async def upload() -> Response[Any]:
            return await gate() or Response({"upload": {"token": "tok"}}, status_code=201)

        return Litestar([me, update, tags, comments, upload], logging_config=None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_in_thread(app: Any) -> tuple[str, uvicorn.Server]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error",
                                           access_log=False, lifespan="on"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server


def settings(data_dir: str, zendesk_url: str, **outbox: Any) -> Settings:
    return Settings(
        data_dir=data_dir, admin_token=ADMIN, log_level="warning",
        outbox=OutboxSettings(**outbox),
        connectors={"zendesk": {"enabled": True, "subdomain": "bench", "base_url": zendesk_url,
                                "email": "bench@example.test", "api_token": "t",
                                "webhook_secret": SECRET,
                                "rate_limit_per_minute": LIMIT_PER_MINUTE}})


async def throughput(notes: int) -> dict[str, Any]:
    stand_in = StandIn(LIMIT_PER_MINUTE)
    url, server = serve_in_thread(stand_in.app())
    hub = Hub.from_settings(settings(tempfile.mkdtemp(), url, dispatcher=False,
                                     concurrency=32))
    await hub.start()
    connector = hub.connectors["zendesk"]
    ids = []
    for number in range(notes):
        delivery_id = new_delivery_id()
        ids.append(delivery_id)
        html = f"<p>note {number}</p><p>{marker_for(delivery_id)}</p>"
        await enqueue(hub.db, delivery_id=delivery_id, connector="zendesk",
                      account=connector.account, action=TICKET_NOTE,
                      payload={"ticket_id": str(number + 1), "html_body": html},
                      key=f"bench:{number}", now_ms=int(time.time() * 1000))
    started = time.monotonic()
    task = asyncio.create_task(hub.dispatcher.run_forever())
    while len(stand_in.notes) < notes and time.monotonic() - started < 600:  # noqa: ASYNC110
        await asyncio.sleep(0.5)
    await asyncio.sleep(1.0)
    task.cancel()
    elapsed = time.monotonic() - started
    await hub.stop()
    server.should_exit = True
    markers = [html for htmls in stand_in.notes.values() for html in htmls]
    per_delivery = {i: sum(marker_for(i) in html for html in markers) for i in ids}
    first_ok, last_ok = stand_in.ok_times[0], stand_in.ok_times[-1]
    span_minutes = max(last_ok - first_ok, 1e-9) / 60
    return {
        "notes": notes, "elapsed_s": round(elapsed, 1),
        "achieved_per_minute": round((len(stand_in.ok_times) - 1) / span_minutes, 1),
        "ratio_of_limit": round((len(stand_in.ok_times) - 1) / span_minutes
                                / LIMIT_PER_MINUTE, 3),
        "429s_total": len(stand_in.limited_times),
        "429s_after_first_minute": sum(1 for t in stand_in.limited_times if t > 60),
        "lost": sum(1 for n in per_delivery.values() if n == 0),
        "duplicated": sum(1 for n in per_delivery.values() if n > 1),
    }


def zendesk_headers(body: bytes) -> dict[str, str]:
    stamp = str(int(time.time()))
    mac = hmac.new(SECRET.encode(), stamp.encode() + body, hashlib.sha256).digest()
    return {"X-Zendesk-Webhook-Signature": base64.b64encode(mac).decode(),
            "X-Zendesk-Webhook-Signature-Timestamp": stamp,
            "Content-Type": "application/json"}


async def ingest_one_session(http: httpx.AsyncClient, email: str) -> None:
    answer = await http.post("/api/v1/apps", json={"name": "bench"},
                             headers={"Authorization": f"Bearer {ADMIN}"})
    key = answer.json()["ingest_key"]
    recording = json.loads((ROOT / "tests/fixtures/recordings/broken.json").read_text())
    shift = int(time.time() * 1000) - 600_000 - recording["batches"][0]["events"][0]["timestamp"]
    for batch in recording["batches"]:
        batch = {**batch, "session_id": "bench-session", "user": {"id": "u1", "email": email}}
        batch.pop("app_key", None)
        for event in batch["events"]:
            event["timestamp"] += shift
        response = await http.post(f"/api/v1/ingest?key={key}", json=batch)
        response.raise_for_status()


async def latency(webhooks: int, spacing_s: float, snapshots: bool) -> dict[str, Any]:
    stand_in = StandIn(LIMIT_PER_MINUTE)
    zendesk_url, zendesk_server = serve_in_thread(stand_in.app())
    hub_settings = settings(tempfile.mkdtemp(), zendesk_url)
    hub_settings.session_quiet_seconds = 1
    if not snapshots:
        hub_settings.snapshots.chromium_path = "/nonexistent/chromium"
    hub_url, hub_server = serve_in_thread(create_app(hub_settings))
    sent_at: dict[str, float] = {}
    async with httpx.AsyncClient(base_url=hub_url, timeout=30) as http:
        await ingest_one_session(http, "alan@example.com")
        await asyncio.sleep(12)  # the session closes (quiet) and is searchable as indexed
        for number in range(webhooks):
            ticket = str(50_000 + number)
            body = json.dumps({"ticket_id": ticket, "requester_email": "alan@example.com",
                               "requester_external_id": ""}).encode()
            sent_at[ticket] = time.time()
            answer = await http.post("/webhooks/zendesk", content=body,
                                     headers=zendesk_headers(body))
            answer.raise_for_status()
            await asyncio.sleep(spacing_s)
        deadline = time.time() + 60
        while len(stand_in.note_arrivals) < webhooks and time.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
    hub_server.should_exit = True
    zendesk_server.should_exit = True
    waits = sorted((stand_in.note_arrivals[t] - sent_at[t]) * 1000
                   for t in sent_at if t in stand_in.note_arrivals)
    return {"webhooks": webhooks, "notes": len(waits),
            "p50_ms": round(statistics.median(waits), 1) if waits else None,
            "p95_ms": round(waits[int(0.95 * (len(waits) - 1))], 1) if waits else None,
            "snapshots": snapshots, "429s": len(stand_in.limited_times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=2000)
    parser.add_argument("--webhooks", type=int, default=40)
    parser.add_argument("--spacing", type=float, default=0.5,
                        help="seconds between webhooks in the latency part")
    parser.add_argument("--only", choices=["throughput", "latency"], default=None)
    options = parser.parse_args()
    if options.only != "latency":
        first = asyncio.run(throughput(options.notes))
        print("throughput:", json.dumps(first))
    if options.only == "throughput":
        return
    for snapshots in (False, True):
        second = asyncio.run(latency(options.webhooks, options.spacing, snapshots))
        print("latency:", json.dumps(second))


if __name__ == "__main__":
    main()
