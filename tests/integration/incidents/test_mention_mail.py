"""A mentioned person whose directory e-mail is malformed is skipped with a warning: the comment
is stored (201), the other people mentioned are mailed, and publishing still gets it."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from structlog.testing import capture_logs

from replayhub.db.models import Delivery, Person


async def add_person(client: AsyncTestClient[Any], email: str, name: str) -> None:
    """Straight into the directory table: older rows were stored without address checks."""
    async with client.hub.db.write() as tx:  # type: ignore[attr-defined]
        tx.add(Person(email=email, name=name, source="api", created_at=1, updated_at=1))


async def test_a_malformed_address_is_skipped_and_the_rest_completes(
        client: AsyncTestClient[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    pushed: list[Any] = []

    async def push(_hub: Any, comment: Any) -> None:
        pushed.append(comment)

    monkeypatch.setattr("replayhub.publishing.push_incident_comment", push)
    await add_person(client, "carol.example.com", "Carol Day")  # no @: not an address
    await add_person(client, "dave@example.com", "Dave Hill")
    created = await client.post("/api/v1/incidents", json={
        "title": "Checkout down", "started_at": "2026-01-05T10:00:00Z"})
    assert created.status_code == 201, created.text
    incident = created.json()["id"]
    with capture_logs() as logs:
        response = await client.post(f"/api/v1/incidents/{incident}/comments",
                                     json={"body": "@Carol Day and @Dave Hill: please look"})
    assert response.status_code == 201, response.text
    item = response.json()
    assert item["mentions"] == ["carol.example.com", "dave@example.com"]
    async with client.hub.db.read() as tx:  # type: ignore[attr-defined]
        keys = list((await tx.execute(select(Delivery.idempotency_key))).scalars())
    assert keys == [f"email:mention:{item['id']}:dave@example.com"]
    assert [c.id for c in pushed] == [item["id"]]
    [warning] = [entry for entry in logs if entry["event"] == "notebook.mention_not_mailed"]
    assert (warning["log_level"], warning["comment"], warning["person"]) == (
        "warning", item["id"], "Carol Day")
