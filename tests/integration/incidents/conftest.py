"""A hub with the incident connectors on (PagerDuty, incident.io, Opsgenie, the generic webhook),
service mappings to the Shop app, and signing helpers shared by the tests."""

from __future__ import annotations

import base64
import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from connectors.incidentio.webhooks import svix_signature
from connectors.incidents.webhooks import signature_header
from connectors.pagerduty.webhooks import pagerduty_signature
from replayhub.config import (
    IncidentServiceMapping,
    OutboxSettings,
    SchedulerSettings,
    Settings,
)
from replayhub.db.models import Incident, IncidentEvent, WebhookDelivery
from tests.conftest import ADMIN

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
PD_SECRET = "pd_webhook_secret_0123456789"
PD_OLD_SECRET = "pd_webhook_secret_old_0123456789"
IIO_SECRET = "whsec_" + base64.b64encode(b"incident-io-secret-0123456789").decode()
OPSGENIE_TOKEN = "og_token_0123456789abcdef"
GENERIC_SECRET = "rh_generic_secret_0123456789"
NO_AUTH = {"Authorization": ""}
SHOP_CHECKOUT = "https://shop.example.test/checkout*"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=str(tmp_path / "var"), database_url=database_url, admin_token=ADMIN,
        public_url="https://hub.example.test", outbox=OutboxSettings(dispatcher=False),
        scheduler=SchedulerSettings(enabled=False),
        incident_services=[
            IncidentServiceMapping(service="API Service", apps=["Shop"], urls=[SHOP_CHECKOUT]),
            IncidentServiceMapping(service="Product", apps=["Sho?"]),
            IncidentServiceMapping(service="checkout-*", apps=["Shop"]),
        ],
        connectors={
            "pagerduty": {"enabled": True, "webhook_secret": PD_SECRET,
                          "previous_webhook_secret": PD_OLD_SECRET},
            "incidentio": {"enabled": True, "webhook_secret": IIO_SECRET},
            "opsgenie": {"enabled": True, "webhook_secret": OPSGENIE_TOKEN},
            "incidents": {"enabled": True, "webhook_secret": GENERIC_SECRET},
        })


def load(relative: str) -> dict[str, Any]:
    return json.loads((FIXTURES / relative).read_text())


def pagerduty_event(event_type: str, event_id: str = "evt-1", *,
                    occurred_at: str = "2020-10-02T18:45:22.169Z",
                    **data: Any) -> dict[str, Any]:
    """The documented envelope around the documented incident, as `event_type`."""
    envelope = copy.deepcopy(load("pagerduty/envelope-incident.priority_updated.json"))
    envelope["event"].update(id=event_id, event_type=event_type, occurred_at=occurred_at,
                             data={**load("pagerduty/event-data-incident.json"), **data})
    return envelope


def pagerduty_headers(body: bytes, *secrets: str) -> dict[str, str]:
    signatures = ",".join(pagerduty_signature(s, body) for s in (secrets or (PD_SECRET,)))
    return {**NO_AUTH, "Content-Type": "application/json", "X-PagerDuty-Signature": signatures}


def incidentio_headers(body: bytes, *, msg_id: str = "msg_1", at: float | None = None,
                       secret: str = IIO_SECRET) -> dict[str, str]:
    timestamp = str(int(time.time() if at is None else at))
    return {**NO_AUTH, "Content-Type": "application/json", "webhook-id": msg_id,
            "webhook-timestamp": timestamp,
            "webhook-signature": svix_signature(secret, msg_id, timestamp, body)}


def generic_headers(body: bytes, *, at: float | None = None,
                    secret: str = GENERIC_SECRET) -> dict[str, str]:
    stamp = int(time.time() if at is None else at)
    return {**NO_AUTH, "Content-Type": "application/json",
            "X-ReplayHub-Signature": signature_header(secret, stamp, body)}


def raw(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


async def incidents(client: AsyncTestClient[Any]) -> list[Incident]:
    async with client.hub.db.read() as tx:  # type: ignore[attr-defined]
        return list((await tx.execute(select(Incident).order_by(Incident.created_at)))
                    .scalars())


async def timeline(client: AsyncTestClient[Any], incident_id: str) -> list[tuple[str, int]]:
    async with client.hub.db.read() as tx:  # type: ignore[attr-defined]
        rows = await tx.execute(select(IncidentEvent.kind, IncidentEvent.at)
                                .where(IncidentEvent.incident_id == incident_id)
                                .order_by(IncidentEvent.at, IncidentEvent.id))
        return [(kind, at) for kind, at in rows]


async def stored_webhooks(client: AsyncTestClient[Any]) -> int:
    async with client.hub.db.read() as tx:  # type: ignore[attr-defined]
        return int((await tx.execute(select(func.count()).select_from(WebhookDelivery)))
                   .scalar_one())


async def assert_nothing_recorded(client: AsyncTestClient[Any]) -> None:
    assert await incidents(client) == []
    assert await stored_webhooks(client) == 0
