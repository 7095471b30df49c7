"""Teams alerts through the outbox: a timeout after sending never posts the card twice, and
teams whose Slack channel has no enabled Slack connector get no Slack delivery."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import respx
from litestar.testing import AsyncTestClient
from structlog.testing import capture_logs

from replayhub.alerts import alerts_tick
from replayhub.config import Settings
from replayhub.outbox.dispatcher import Dispatcher
from tests.conftest import ADMIN
from tests.contract.test_teams_cards import check_body
from tests.helpers import make_app
from tests.integration.test_alerts import DIRECTORY, HOUR, MINUTE, NEW, WEBHOOK, deliveries, ingest
from tests.integration.zendesk.conftest import FakeClock, Snapshots, drain


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    directory = {**DIRECTORY, "connectors": {"teams": {"enabled": True}},
                 "outbox": {"dispatcher": False, "max_attempts": 5}}
    return msgspec.convert({"data_dir": str(tmp_path / "var"), "database_url": database_url,
                            "admin_token": ADMIN, "alerts": [NEW], **directory}, Settings)


async def test_a_card_whose_answer_was_lost_is_not_posted_again(
        client: AsyncTestClient[Any]) -> None:
    hub = client.hub  # type: ignore[attr-defined]
    clock = FakeClock()
    dispatcher = Dispatcher(hub.db, hub.connectors, hub.settings.outbox, Snapshots(),
                            clock=clock.time, sleep=clock.sleep, hub=hub)
    now = int(time.time() * 1000)
    _, key = await make_app(client)
    assert await alerts_tick(hub, now - 2 * HOUR) == 0
    await ingest(client, key, "broken", now - 2 * HOUR)
    with capture_logs() as logs:
        await alerts_tick(hub, now - 2 * HOUR + MINUTE)
    rows = await deliveries(client)
    chat = [row for row in rows if row.action == "chat_alert"]
    assert [row.connector for row in chat] == ["teams"]  # Slack is off: no Slack delivery
    assert [e["connector"] for e in logs if e["event"] == "alerts.connector_disabled"] == [
        "slack"]
    posted: list[dict[str, Any]] = []

    def lost_answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        check_body(body)
        posted.append(body)
        raise httpx.ReadTimeout("timed out after sending", request=request)

    with respx.mock(assert_all_called=False) as router:
        router.post(WEBHOOK).mock(side_effect=lost_answer)
        router.route().pass_through()  # anything else (the mail server) is not Teams
        with capture_logs() as logs:
            await drain(dispatcher, clock)
    assert len(posted) == 1
    [row] = [r for r in await deliveries(client) if r.action == "chat_alert"]
    assert row.status == "sent" and (row.external_id or "").startswith("replayhub-delivery:")
    assert any(e["event"] == "chat.may_not_have_arrived" for e in logs)
    assert "TopSecret" not in repr(logs) and "TopSecret" not in (row.payload or "")
