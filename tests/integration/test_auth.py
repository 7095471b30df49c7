"""Tokens and roles: who may call what; problem documents on refusal."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from tests.helpers import NO_AUTH, make_app, send, tiny_batch


async def test_health_needs_no_token(client: AsyncTestClient[Any]) -> None:
    response = await client.get("/health", headers=NO_AUTH)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_openapi_document_lists_the_routes(client: AsyncTestClient[Any]) -> None:
    response = await client.get("/schema/openapi.json", headers=NO_AUTH)
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in ("/api/v1/ingest", "/api/v1/sessions", "/api/v1/errors", "/api/v1/apps"):
        assert path in paths


async def test_missing_token_is_a_401_problem(client: AsyncTestClient[Any]) -> None:
    response = await client.get("/api/v1/sessions", headers=NO_AUTH)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 401
    assert "Bearer" in body["detail"]


async def test_unknown_token_is_refused(client: AsyncTestClient[Any]) -> None:
    response = await client.get("/api/v1/sessions", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401


async def test_viewer_reads_but_cannot_create_apps(client: AsyncTestClient[Any]) -> None:
    from replayhub.security import create_token

    hub = client.hub
    viewer = await create_token(hub.db, "reader", "viewer")
    headers = {"Authorization": f"Bearer {viewer}"}
    assert (await client.get("/api/v1/sessions", headers=headers)).status_code == 200
    refused = await client.post("/api/v1/apps", json={"name": "x"}, headers=headers)
    assert refused.status_code == 403
    assert "admin" in refused.json()["detail"]


async def test_tokens_are_stored_hashed(client: AsyncTestClient[Any]) -> None:
    from sqlalchemy import select

    from replayhub.db.models import ApiToken, App
    from tests.conftest import ADMIN

    _, key = await make_app(client)
    async with client.hub.db.read() as tx:
        hashes = (await tx.execute(select(ApiToken.token_hash))).scalars().all()
        keys = (await tx.execute(select(App.ingest_key_hash))).scalars().all()
    assert ADMIN not in hashes and len(hashes) == 1
    assert key not in keys and len(keys) == 1


async def test_ingest_key_writes_but_reads_nothing(client: AsyncTestClient[Any]) -> None:
    _, key = await make_app(client)
    accepted = await send(client, key, tiny_batch("sess-key-only-1", 0, 1_790_000_000_000))
    assert accepted.status_code == 202
    for path in ("/api/v1/sessions", "/api/v1/sessions/sess-key-only-1", "/api/v1/errors"):
        response = await client.get(path, headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 401, path


async def test_app_creation_validates_the_body(client: AsyncTestClient[Any]) -> None:
    response = await client.post("/api/v1/apps", json={"name": ""})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
