"""Fixtures of the integration tests that send through the outbox: a clock the test moves,
a stand-in snapshot renderer, and a dispatcher using both."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from replayhub.outbox.dispatcher import Dispatcher
from tests.helpers import FakeClock, Snapshots


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def snapshots() -> Snapshots:
    return Snapshots()


@pytest.fixture
async def dispatcher(client: AsyncTestClient[Any], clock: FakeClock,
                     snapshots: Snapshots) -> Dispatcher:
    hub = client.hub  # type: ignore[attr-defined]
    return Dispatcher(hub.db, hub.connectors, hub.settings.outbox, snapshots,
                      clock=clock.time, sleep=clock.sleep, hub=hub)
