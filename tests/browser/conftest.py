"""Browser-test fixtures: Chromium (a failure under CI=true when missing), a running hub."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from replayhub.config import SnapshotSettings
from replayhub.replay.snapshot import CHROMIUM_ARGS, chromium_path
from tests.browser.hub_server import RunningHub, running_hub
from tests.conftest import ADMIN, IN_CI

CHROMIUM = os.environ.get("REPLAYHUB_CHROMIUM") or chromium_path(SnapshotSettings())
ARGS = CHROMIUM_ARGS  # the same flags the hub's snapshot renderer uses
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"Chromium is required under CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        unavailable(f"playwright is not installed: {error}")
    if not Path(CHROMIUM).exists():
        unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        except Exception as error:
            unavailable(f"cannot launch Chromium: {error}")
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def live_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    with running_hub(tmp_path_factory.mktemp("hub") / "var", ADMIN) as hub:
        yield hub


@pytest.fixture(scope="module")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
