"""POST /api/v1/incidents: an incident entered by hand (agent), listed and read (viewer)."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from replayhub.security import create_token
from tests.helpers import make_app
from tests.integration.incidents.conftest import SHOP_CHECKOUT


async def test_agent_creates_viewer_reads(client: AsyncTestClient[Any]) -> None:
    hub = client.hub  # type: ignore[attr-defined]
    viewer = {"Authorization": f"Bearer {await create_token(hub.db, 'reader', 'viewer')}"}
    agent = {"Authorization": f"Bearer {await create_token(hub.db, 'support', 'agent')}"}
    app_id, _ = await make_app(client, "Payments")
    body = {"title": "Payments slow", "started_at": "2026-01-05T10:00:00Z",
            "app_ids": [app_id], "url_patterns": ["https://pay.example.test/*"]}
    assert (await client.post("/api/v1/incidents", json=body, headers=viewer)).status_code == 403
    response = await client.post("/api/v1/incidents", json=body, headers=agent)
    assert response.status_code == 201, response.text
    created = response.json()
    assert (created["source"], created["status"], created["resolved_at"]) == (
        "manual", "triggered", None)
    assert created["app_ids"] == [app_id]
    assert created["url_patterns"] == ["https://pay.example.test/*"]
    assert created["timeline"] == [{"kind": "triggered", "at": "2026-01-05T10:00:00.000Z"}]
    listed = (await client.get("/api/v1/incidents", headers=viewer)).json()["items"]
    assert [item["id"] for item in listed] == [created["id"]]
    detail = await client.get(f"/api/v1/incidents/{created['id']}", headers=viewer)
    assert detail.status_code == 200 and detail.json()["title"] == "Payments slow"
    assert (await client.get("/api/v1/incidents/inc_missing")).status_code == 404


async def test_service_mapping_fills_the_scope(client: AsyncTestClient[Any]) -> None:
    app_id, _ = await make_app(client, "Shop")
    response = await client.post("/api/v1/incidents", json={
        "title": "API errors", "started_at": 1767607200000, "resolved_at": 1767609000000,
        "service": "API Service"})
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status"] == "resolved"
    assert created["app_ids"] == [app_id] and created["url_patterns"] == [SHOP_CHECKOUT]
    assert [entry["kind"] for entry in created["timeline"]] == ["triggered", "resolved"]


async def test_invalid_bodies_are_400(client: AsyncTestClient[Any]) -> None:
    for body in ({"started_at": "2026-01-05T10:00:00Z"}, {"title": "x", "started_at": "soon"},
                 {"title": "x", "started_at": "2026-01-05T10:00:00Z",
                  "resolved_at": "2026-01-05T09:00:00Z"},
                 {"title": "x", "started_at": 1, "colour": "red"}):
        response = await client.post("/api/v1/incidents", json=body)
        assert response.status_code == 400, body


async def test_unknown_app_ids_are_400_naming_them(client: AsyncTestClient[Any]) -> None:
    app_id, _ = await make_app(client, "Shop")
    response = await client.post("/api/v1/incidents", json={
        "title": "Payments slow", "started_at": "2026-01-05T10:00:00Z",
        "app_ids": [app_id, "app_gone", "app_typo"]})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"] == "unknown app_ids: app_gone, app_typo"
    assert (await client.get("/api/v1/incidents")).json()["items"] == []
