"""A real hub for browser tests: uvicorn in a background thread on a free port, temp data dir."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from replayhub.app import create_app
from replayhub.config import SchedulerSettings, Settings
from replayhub.hub import Hub


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RunningHub:
    settings: Settings
    base_url: str
    admin_token: str

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=20,
                            headers={"Authorization": f"Bearer {self.admin_token}"})

    def close_sessions(self) -> None:
        """Judge the last clicks and close every session now (the serving loop waits 10 s)."""
        async def run() -> Any:
            hub = Hub.from_settings(self.settings)
            try:
                return await hub.ingestor.close_quiet_sessions(quiet_ms=0)
            finally:
                await hub.stop()

        # Playwright's sync API keeps an event loop on this thread: use another one.
        worker = threading.Thread(target=asyncio.run, args=(run(),))
        worker.start()
        worker.join(timeout=30)


@contextmanager
def running_hub(data_dir: Path, admin_token: str) -> Iterator[RunningHub]:
    port = free_port()
    # No scheduler: retention would purge the recordings (made on a fixed date).
    settings = Settings(data_dir=str(data_dir), admin_token=admin_token, port=port,
                        log_level="warning", scheduler=SchedulerSettings(enabled=False))
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the hub did not start")
        time.sleep(0.05)
    try:
        yield RunningHub(settings, f"http://127.0.0.1:{port}", admin_token)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
