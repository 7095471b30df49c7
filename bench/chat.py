"""Slack alerts through the outbox against a stand-in that allows 1 message/s per channel.

Part 1 sends 600 alerts across 6 channels through the dispatcher (paced per channel at a
little under 1/s): achieved rate per channel as a ratio of the limit (goal >= 0.95), 429s
provoked, messages lost or duplicated (must be 0). Part 2 measures enqueue-to-message latency
(a chat_alert delivery enqueued as alerts.py does → message at the stand-in; the alert tick
that decides and builds the alert is not in it) when the limit does not bind, against a
same-run baseline: one bare chat.postMessage round trip to the stand-in. Part 3 measures
tick-to-message latency: an error is seeded in the index, the alert tick (alerts_tick) is
run and the clock stops when its message arrives at the stand-in (the tick's own work
included; snapshots are left out, as they follow the message into its thread).

    .venv/bin/python bench/chat.py [--alerts 600] [--channels 6] [--latency-alerts 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import msgspec
import uvicorn
from litestar import Litestar, Request, Response, get, post

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from replayhub.config import OutboxSettings, Settings  # noqa: E402
from replayhub.connector import ChatAlert  # noqa: E402
from replayhub.hub import Hub  # noqa: E402
from replayhub.outbox.chat import CHAT_ALERT  # noqa: E402
from replayhub.outbox.store import enqueue, new_delivery_id  # noqa: E402

PER_CHANNEL_PER_SECOND = 1.0
LATENCY_S = 0.02
TOKEN = "xoxb-bench"


class StandIn:
    """chat.postMessage, conversations.history and auth.test; 1 message/s per channel (a
    bucket of one), 429 with Retry-After beyond; 20 ms answers."""

    def __init__(self) -> None:
        self.next_free: dict[str, float] = {}
        self.ok: dict[str, list[float]] = {}
        self.limited = 0
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.arrivals: dict[str, float] = {}
        self.texts: dict[str, float] = {}
        self.counter = 0
        self.updates = 0

    def counter_texts(self) -> dict[str, float]:
        return self.texts

    def arrivals_by_text(self) -> dict[str, float]:
        """Arrival times by the bench error named in the message ("bench error N")."""
        import re

        found: dict[str, float] = {}
        for text, at in self.texts.items():
            match = re.search(r"bench error \d+", text)
            if match:
                found.setdefault(match.group(0), at)
        return found

    def admit(self, channel: str) -> float | None:
        now = time.monotonic()
        free = self.next_free.get(channel, 0.0)
        if now < free:
            self.limited += 1
            return free - now
        self.next_free[channel] = now + 1.0 / PER_CHANNEL_PER_SECOND
        self.ok.setdefault(channel, []).append(now)
        return None

    def app(self) -> Litestar:
        stand_in = self

        @post("/api/chat.postMessage", status_code=200)
        async def post_message(request: Request[Any, Any, Any]) -> Response[Any]:
            form = dict(parse_qsl((await request.body()).decode()))
            channel = form["channel"]
            wait = stand_in.admit(channel)
            await asyncio.sleep(LATENCY_S)
            if wait is not None:
                return Response({"ok": False, "error": "ratelimited"}, status_code=429,
                                headers={"Retry-After": str(max(1, round(wait)))})
            stand_in.counter += 1
            ts = f"1800000000.{stand_in.counter:06d}"
            metadata = json.loads(form.get("metadata", "{}"))
            delivery = (metadata.get("event_payload") or {}).get("delivery_id", "")
            stand_in.messages.setdefault(channel, []).append(
                {"ts": ts, "text": form.get("text", ""), "metadata": metadata})
            stand_in.arrivals.setdefault(delivery, time.time())
            stand_in.texts.setdefault(form.get("text", ""), time.time())
            return Response({"ok": True, "channel": channel, "ts": ts,
                             "message": {"type": "message", "text": "", "ts": ts}})

        @post("/api/chat.update", status_code=200)
        async def update_message(request: Request[Any, Any, Any]) -> Response[Any]:
            form = dict(parse_qsl((await request.body()).decode()))
            stand_in.updates += 1
            await asyncio.sleep(LATENCY_S)
            return Response({"ok": True, "channel": form["channel"], "ts": form["ts"],
                             "text": form.get("text", "")})

        @get("/api/conversations.history")
        async def history(channel: str) -> Response[Any]:
            await asyncio.sleep(LATENCY_S)
            return Response({"ok": True, "messages": list(reversed(
                stand_in.messages.get(channel, []))), "has_more": False})

        @get("/api/auth.test")
        async def auth_test() -> Response[Any]:
            return Response({"ok": True, "user": "bench", "team": "bench", "user_id": "U1"})

        return Litestar([post_message, update_message, history, auth_test],
                        logging_config=None)


def serve_in_thread(app: Any) -> tuple[str, uvicorn.Server]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error",
                                           access_log=False, lifespan="on"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server


def hub_settings(url: str, **outbox: Any) -> Settings:
    return Settings(data_dir=tempfile.mkdtemp(), log_level="warning",
                    public_url="https://hub.example.test", outbox=OutboxSettings(**outbox),
                    connectors={"slack": {"enabled": True, "base_url": f"{url}/api/",
                                          "bot_token": TOKEN, "signing_secret": "s"}})


def channel_name(number: int) -> str:
    return f"C0BENCH{number:03d}"


async def enqueue_alert(hub: Hub, number: int, channel: str) -> str:
    alert = ChatAlert(key=f"bench:{number}", kind="error.new", title=f"Error {number}",
                      summary="Cannot read properties of undefined (reading 'total')",
                      sessions=number, users=1, replay_url="https://hub.example.test/share/x")
    delivery_id = new_delivery_id()
    await enqueue(hub.db, delivery_id=delivery_id, connector="slack", account="slack",
                  action=CHAT_ALERT, key=f"bench:{number}", now_ms=int(time.time() * 1000),
                  payload={"channel": channel, "alert": msgspec.to_builtins(alert),
                           "message_id": None, "thread_of": None})
    return delivery_id


def counted(stand_in: StandIn, ids: list[str]) -> tuple[int, int]:
    seen: dict[str, int] = {}
    for messages in stand_in.messages.values():
        for message in messages:
            delivery = (message["metadata"].get("event_payload") or {}).get("delivery_id")
            seen[delivery] = seen.get(delivery, 0) + 1
    return sum(1 for i in ids if i not in seen), sum(1 for i in ids if seen.get(i, 0) > 1)


async def throughput(alerts: int, channels: int) -> dict[str, Any]:
    stand_in = StandIn()
    url, server = serve_in_thread(stand_in.app())
    hub = Hub.from_settings(hub_settings(url, dispatcher=False, concurrency=64))
    await hub.start()
    ids = [await enqueue_alert(hub, n, channel_name(n % channels)) for n in range(alerts)]
    started = time.monotonic()
    task = asyncio.create_task(hub.dispatcher.run_forever())
    deadline = started + alerts / channels * 3 + 60
    while sum(len(m) for m in stand_in.messages.values()) < alerts \
            and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.5)
    await asyncio.sleep(1.0)
    task.cancel()
    elapsed = time.monotonic() - started
    await hub.stop()
    server.should_exit = True
    rates = [(len(times) - 1) / (times[-1] - times[0]) for times in stand_in.ok.values()
             if len(times) > 1]
    lost, duplicated = counted(stand_in, ids)
    return {"alerts": alerts, "channels": channels, "elapsed_s": round(elapsed, 1),
            "per_channel_per_s": round(statistics.mean(rates), 3),
            "ratio_of_limit": round(min(rates) / PER_CHANNEL_PER_SECOND, 3),
            "ratio_of_limit_mean": round(statistics.mean(rates) / PER_CHANNEL_PER_SECOND, 3),
            "429s": stand_in.limited, "lost": lost, "duplicated": duplicated}


async def baseline_ms(url: str, rounds: int) -> float:
    """A bare chat.postMessage round trip to the stand-in (channels never reused too fast)."""
    waits = []
    async with httpx.AsyncClient(base_url=url) as http:
        for number in range(rounds):
            began = time.perf_counter()
            answer = await http.post("/api/chat.postMessage",
                                     data={"channel": f"C0BASE{number:04d}", "text": "x"})
            answer.raise_for_status()
            waits.append((time.perf_counter() - began) * 1000)
    return statistics.median(waits)


async def latency(alerts: int, channels: int, spacing_s: float) -> dict[str, Any]:
    stand_in = StandIn()
    url, server = serve_in_thread(stand_in.app())
    hub = Hub.from_settings(hub_settings(url, dispatcher=True))
    await hub.start()
    task = asyncio.create_task(hub.dispatcher.run_forever())
    await asyncio.sleep(0.5)
    sent: dict[str, float] = {}
    for number in range(alerts):
        at = time.time()
        delivery_id = await enqueue_alert(hub, number, channel_name(number % channels))
        sent[delivery_id] = at
        hub.dispatcher.notify()
        await asyncio.sleep(spacing_s)
    deadline = time.time() + 30
    while len(stand_in.arrivals) < alerts and time.time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    base = await baseline_ms(url, 20)
    task.cancel()
    await hub.stop()
    server.should_exit = True
    waits = sorted((stand_in.arrivals[i] - at) * 1000 for i, at in sent.items()
                   if i in stand_in.arrivals)
    p50 = statistics.median(waits)
    p95 = waits[int(0.95 * (len(waits) - 1))]
    return {"alerts": alerts, "messages": len(waits), "p50_ms": round(p50, 1),
            "p95_ms": round(p95, 1), "baseline_round_trip_ms": round(base, 1),
            "p50_over_baseline": round(p50 / base, 2), "429s": stand_in.limited}


def tick_settings(url: str) -> Settings:
    """A hub with one alert rule on new errors, owned by a team with a Slack channel."""
    return msgspec.convert({
        "data_dir": tempfile.mkdtemp(), "log_level": "warning",
        "public_url": "https://hub.example.test", "scheduler": {"enabled": False},
        "alerts": [{"name": "bench", "on": "error.new"}],
        "teams": [{"name": "bench", "slack_channel": channel_name(0)}],
        "ownership": [{"name": "all", "owners": ["team:bench"]}],
        "connectors": {"slack": {"enabled": True, "base_url": f"{url}/api/",
                                 "bot_token": TOKEN, "signing_secret": "s"}}}, Settings)


async def seed_app(hub: Hub) -> tuple[str, str]:
    from replayhub.db.models import App, ReplaySession

    now = int(time.time() * 1000)
    async with hub.db.write() as tx:
        tx.add(App(id="app_bench", name="Bench", ingest_key_hash="x", ingest_key_hint="x",
                   created_at=now))
        tx.add(ReplaySession(id="bench-session", app_id="app_bench", started_at=now,
                             ended_at=now, duration_ms=0, first_url="https://shop.test/",
                             last_url="https://shop.test/", user_agent="", browser="", os="",
                             device="", page_count=1, click_count=0, error_count=0,
                             rage_click_count=0, dead_click_count=0, error_click_count=0,
                             event_count=0, size_bytes=0, segment_count=0, indexed_seq=0,
                             needs_close=False, created_at=now, updated_at=now))
    return "app_bench", "bench-session"


async def seed_error(hub: Hub, number: int, app_id: str, session_id: str) -> None:
    """A new error group and its first occurrence, as the indexer writes them."""
    from replayhub.db.models import ErrorEvent, ErrorGroup

    now = int(time.time() * 1000)
    message = f"bench error {number}"
    async with hub.db.write() as tx:
        group = ErrorGroup(app_id=app_id, fingerprint=f"bench{number:027d}", type="TypeError",
                           message=message, first_seen=now, last_seen=now)
        tx.add(group)
        await tx.flush()
        tx.add(ErrorEvent(session_id=session_id, group_id=group.id, t=now, user_key="u1",
                          type="TypeError", message=message, stack="", url="https://shop.test/",
                          source="bench"))


async def tick_latency(alerts: int, spacing_s: float) -> dict[str, Any]:
    from replayhub.alerts import alerts_tick

    stand_in = StandIn()
    url, server = serve_in_thread(stand_in.app())
    hub = Hub.from_settings(tick_settings(url))
    await hub.start()

    async def no_snapshot(session_id: str, t: int) -> bytes | None:
        return None

    hub.dispatcher.snapshot = no_snapshot
    app_id, session_id = await seed_app(hub)
    await alerts_tick(hub)  # the first tick only sets the cursors
    task = asyncio.create_task(hub.dispatcher.run_forever())
    started: dict[int, float] = {}
    for number in range(alerts):
        await seed_error(hub, number, app_id, session_id)
        started[number] = time.time()
        await alerts_tick(hub)
        await asyncio.sleep(spacing_s * 6)  # one channel: the limit does not bind
    deadline = time.time() + 30
    while len(stand_in.counter_texts()) < alerts and time.time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    arrivals = stand_in.arrivals_by_text()
    task.cancel()
    await hub.stop()
    server.should_exit = True
    waits = sorted((arrivals[f"bench error {n}"] - at) * 1000 for n, at in started.items()
                   if f"bench error {n}" in arrivals)
    return {"alerts": alerts, "messages": len(waits),
            "p50_ms": round(statistics.median(waits), 1),
            "p95_ms": round(waits[int(0.95 * (len(waits) - 1))], 1), "429s": stand_in.limited,
            "updates": stand_in.updates}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=600)
    parser.add_argument("--channels", type=int, default=6)
    parser.add_argument("--latency-alerts", type=int, default=30)
    parser.add_argument("--spacing", type=float, default=0.4,
                        help="seconds between alerts in the latency part (each channel gets "
                             "one every spacing x channels seconds: the limit does not bind)")
    parser.add_argument("--only", choices=["throughput", "latency", "tick"], default=None)
    options = parser.parse_args()
    if options.only in (None, "throughput"):
        print("throughput:", json.dumps(asyncio.run(throughput(options.alerts,
                                                               options.channels))))
    if options.only in (None, "latency"):
        print("enqueue_to_message_latency:", json.dumps(asyncio.run(latency(
            options.latency_alerts, options.channels, options.spacing))))
    if options.only in (None, "tick"):
        print("tick_to_message_latency:", json.dumps(asyncio.run(tick_latency(
            options.latency_alerts, options.spacing))))


if __name__ == "__main__":
    main()
