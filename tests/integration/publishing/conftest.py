"""A hub with Confluence and PagerDuty on (fakes behind respx), an incident that came from
PagerDuty with two affected sessions, and a test dispatcher on a fake clock."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from replayhub.config import OutboxSettings, Settings
from replayhub.connector import IncidentUpdate
from replayhub.db.models import Delivery
from replayhub.incidents import record_incident_update
from replayhub.outbox.dispatcher import Dispatcher
from tests.conftest import ADMIN
from tests.helpers import make_app
from tests.integration.incidents.test_impact import CART_ERROR, CHECKOUT, MINUTE, session
from tests.integration.publishing.fake import (
    PAGERDUTY_API,
    SITE,
    SPACE_ID,
    FakeConfluence,
    FakePagerDuty,
)
from tests.integration.zendesk.conftest import FakeClock

CONFLUENCE_TOKEN = "atl_token_that_must_not_leak"
PD_TOKEN = "pd_rest_token_that_must_not_leak"
PD_INCIDENT = "PT4KHLK"
HUB = "https://hub.example.test"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=str(tmp_path / "var"), database_url=database_url, admin_token=ADMIN,
        public_url=HUB, outbox=OutboxSettings(dispatcher=False, max_attempts=5),
        connectors={
            "confluence": {"enabled": True, "base_url": SITE, "email": "bot@acme.test",
                           "api_token": CONFLUENCE_TOKEN, "space_id": SPACE_ID,
                           "rate_limit_per_minute": 60000},
            "pagerduty": {"enabled": True, "webhook_secret": "pd_webhook_secret_0123456789",
                          "api_token": PD_TOKEN, "from_email": "oncall@acme.test",
                          "base_url": PAGERDUTY_API, "rate_limit_per_minute": 60000},
        })


@pytest.fixture
def confluence() -> Iterator[FakeConfluence]:
    fake = FakeConfluence()
    with fake.router():
        yield fake


@pytest.fixture
def pagerduty() -> Iterator[FakePagerDuty]:
    fake = FakePagerDuty()
    with fake.router():
        yield fake


@pytest.fixture
async def incident(client: AsyncTestClient[Any]) -> str:
    """A resolved PagerDuty incident over two sessions with errors on the checkout page."""
    _, key = await make_app(client, "Shop")
    start = (int(time.time() * 1000) // MINUTE - 90) * MINUTE
    await session(client, key, start + 2 * MINUTE, user="alice", url=CHECKOUT,
                  errors=[(1000, CART_ERROR)])
    await session(client, key, start + 5 * MINUTE, user="bob", url=CHECKOUT,
                  errors=[(2000, CART_ERROR)])
    hub = client.hub  # type: ignore[attr-defined]
    await hub.ingestor.close_quiet_sessions(quiet_ms=0)
    return await record_incident_update(hub, "pagerduty", IncidentUpdate(
        event_key="evt-1", external_id=PD_INCIDENT, status="resolved", occurred_at=start
        + 30 * MINUTE, title="Checkout broken", started_at=start, resolved_at=start
        + 30 * MINUTE, url=f"https://acme.pagerduty.com/incidents/{PD_INCIDENT}"))


async def deliveries(client: AsyncTestClient[Any], action: str | None = None) -> list[Delivery]:
    query = select(Delivery).order_by(Delivery.created_at, Delivery.id)
    if action:
        query = query.where(Delivery.action == action)
    async with client.hub.db.read() as tx:  # type: ignore[attr-defined]
        return list((await tx.execute(query)).scalars())


async def drain(dispatcher: Dispatcher, clock: FakeClock, rounds: int = 20) -> None:
    """Attempt until nothing is left to send, moving the clock past each backoff."""
    for _ in range(rounds):
        if not await dispatcher.run_until_idle():
            clock.advance(dispatcher.settings.backoff_max_seconds + 1)
            if not await dispatcher.run_until_idle():
                return


async def publish(client: AsyncTestClient[Any], incident_id: str,
                  body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = await client.post(f"/api/v1/incidents/{incident_id}/publish",
                                 json=body if body is not None else {"targets": ["confluence"]})
    assert response.status_code == 202, response.text
    return response.json()  # type: ignore[no-any-return]
