"""A hub with the Zendesk connector on, a fake Zendesk behind respx, and a test dispatcher."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from connectors.zendesk.webhooks import zendesk_signature
from replayhub.config import OutboxSettings, Settings
from replayhub.db.models import Delivery
from replayhub.outbox.dispatcher import Dispatcher
from tests.conftest import ADMIN, recording
from tests.helpers import PNG, FakeClock, Snapshots, make_app, renamed, send  # noqa: F401
from tests.integration.zendesk.fake import BASE_URL, FakeZendesk

SECRET = "whsec_test_0123456789"
API_TOKEN = "zd_api_token_do_not_leak"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "zendesk"
FIELD_ID = 360001


def zendesk_table(**extra: Any) -> dict[str, Any]:
    return {"enabled": True, "subdomain": "acme", "base_url": BASE_URL, "email": "bot@acme.test",
            "api_token": API_TOKEN, "webhook_secret": SECRET, "rate_limit_per_minute": 60000,
            "custom_field_id": FIELD_ID, **extra}


@pytest.fixture
def zendesk_settings() -> dict[str, Any]:
    """Override to change the connector's table in one test module."""
    return zendesk_table()


@pytest.fixture
def settings(tmp_path: Path, database_url: str, zendesk_settings: dict[str, Any]) -> Settings:
    return Settings(data_dir=str(tmp_path / "var"), database_url=database_url, admin_token=ADMIN,
                    public_url="https://hub.example.test",
                    outbox=OutboxSettings(dispatcher=False, max_attempts=5),
                    connectors={"zendesk": zendesk_settings})


@pytest.fixture
def fake() -> Iterator[FakeZendesk]:
    zendesk = FakeZendesk()
    with zendesk.router():
        yield zendesk


@pytest.fixture
async def shop(client: AsyncTestClient[Any]) -> str:
    _, key = await make_app(client)
    return key


async def ingest_as(client: AsyncTestClient[Any], key: str, name: str, *, email: str,
                    user_id: str, hours_ago: float = 1.0) -> str:
    """A recording replayed as this user, `hours_ago` hours ago; its session id."""
    data = recording(name)
    first = data["batches"][0]["events"][0]["timestamp"]
    shift = int(time.time() * 1000 - hours_ago * 3_600_000) - first
    batches = renamed(data, shift_ms=shift)
    for batch in batches:
        batch["user"] = {"id": user_id, "email": email, "name": user_id}
        response = await send(client, key, batch)
        assert response.status_code == 202, response.text
    await client.hub.ingestor.close_quiet_sessions(quiet_ms=0)  # type: ignore[attr-defined]
    return str(batches[0]["session_id"])


def signed(body: bytes, *, secret: str = SECRET, at: float | None = None) -> dict[str, str]:
    timestamp = datetime_stamp(time.time() if at is None else at)
    return {"X-Zendesk-Webhook-Signature": zendesk_signature(secret, timestamp, body),
            "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
            "Content-Type": "application/json", "Authorization": ""}


def datetime_stamp(seconds: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fixture(name: str, **changes: Any) -> dict[str, Any]:
    body = json.loads((FIXTURES / name).read_text())
    for path, value in changes.items():
        node = body
        *parents, last = path.split("__")
        for part in parents:
            node = node[part]
        node[last] = value
    return body


async def post_webhook(client: AsyncTestClient[Any], body: dict[str, Any] | bytes,
                       **options: Any) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await client.post("/webhooks/zendesk", content=raw, headers=signed(raw, **options))


async def deliveries(client: AsyncTestClient[Any]) -> list[Delivery]:
    async with client.hub.db.read() as tx:  # type: ignore[attr-defined]
        return list((await tx.execute(select(Delivery).order_by(Delivery.created_at))).scalars())


async def drain(dispatcher: Dispatcher, clock: FakeClock, rounds: int = 20) -> None:
    """Attempt until nothing is left to send, moving the clock past each backoff."""
    for _ in range(rounds):
        if not await dispatcher.run_until_idle():
            clock.advance(dispatcher.settings.backoff_max_seconds + 1)
            if not await dispatcher.run_until_idle():
                return


async def alan_opens_ticket(client: AsyncTestClient[Any], fake: FakeZendesk, shop: str,
                            ticket_id: int = 4242) -> dict[str, str]:
    """Alan had a session with errors and a calm one; he opens a ticket (native event)."""
    broken = await ingest_as(client, shop, "broken", email="alan@example.com",
                             user_id="user-alan", hours_ago=2)
    calm = await ingest_as(client, shop, "checkout", email="alan@example.com",
                           user_id="user-alan", hours_ago=1)
    fake.add_user(5001, "Alan Turing", "alan@example.com", "user-alan")
    fake.add_ticket(ticket_id, 5001)
    body = fixture("ticket_created_event.json", detail__id=str(ticket_id),
                   id=f"evt-created-{ticket_id}")
    response = await post_webhook(client, body)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "accepted"}
    return {"broken": broken, "calm": calm}
