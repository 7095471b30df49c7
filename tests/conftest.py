"""Shared fixtures: a hub on a fresh SQLite file or a fresh PostgreSQL database, and its client."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import structlog
from litestar.testing import AsyncTestClient

from replayhub.app import create_app
from replayhub.config import SchedulerSettings, Settings
from replayhub.hub import Hub
from replayhub.logs import configure_logging
from replayhub.scheduler import Scheduler

FIXTURES = Path(__file__).parent / "fixtures"
RECORDINGS = FIXTURES / "recordings"
POSTGRES = os.environ.get("REPLAYHUB_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
ADMIN = "rh_test_admin_token_0123456789"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def recording(name: str) -> dict[str, Any]:
    return json.loads((RECORDINGS / f"{name}.json").read_text())


def recording_names() -> list[str]:
    return sorted(path.stem for path in RECORDINGS.glob("*.json"))


async def _postgres_available() -> str | None:
    try:
        connection = await asyncpg.connect(f"{POSTGRES}/test", timeout=5)
    except (OSError, asyncpg.PostgresError) as error:
        return str(error)
    await connection.close()
    return None


@pytest.fixture
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """'' (SQLite in the data dir) or a fresh PostgreSQL database dropped afterwards."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        yield ""
        return
    problem = await _postgres_available()
    if problem:
        if IN_CI:
            pytest.fail(f"PostgreSQL at {POSTGRES}/test is required under CI: {problem}")
        pytest.skip(f"PostgreSQL is not reachable: {problem}")
    name = f"rh_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(f"{POSTGRES}/test")
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


# The hub's logging, without caching loggers on first use: structlog.testing.capture_logs
# then sees every module's log lines whichever test ran first.
configure_logging("info", "console")
structlog.configure(cache_logger_on_first_use=False)


@pytest.fixture(autouse=True)
def scheduler_timers_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hub started by a test does not start the scheduler's timers: ticks run only when a
    test calls them, with its own clock (retention would purge fixed-date test data)."""
    monkeypatch.setattr(Scheduler, "start", lambda self: None)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    # The scheduler's ticks run only when a test calls them (with its own clock).
    return Settings(data_dir=str(tmp_path / "var"), database_url=database_url, admin_token=ADMIN,
                    scheduler=SchedulerSettings(enabled=False))


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    """A client of the app; `client.hub` is a second Hub on the same storage, for this loop.

    The app runs on the test client's own event loop, and database connections belong to
    the loop that opened them, so tests reach the database through `client.hub`.
    """
    app = create_app(settings)
    async with AsyncTestClient(app=app) as test_client:
        test_client.headers["Authorization"] = f"Bearer {ADMIN}"
        hub = Hub.from_settings(settings)
        test_client.hub = hub  # type: ignore[attr-defined]
        try:
            yield test_client
        finally:
            await hub.stop()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests under tests/integration run on SQLite and on PostgreSQL (`sqlite_only`: SQLite)."""
    if "database_url" in metafunc.fixturenames and "integration" in str(metafunc.definition.path):
        only_sqlite = metafunc.definition.get_closest_marker("sqlite_only") is not None
        backends = ["sqlite"] if only_sqlite else ["sqlite", "postgresql"]
        metafunc.parametrize("database_url", backends, indirect=True)
