"""Snapshot API: PNGs of moments, the moments list, the cache, bursts, and no Chromium."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from replayhub.app import create_app
from replayhub.config import Settings, SnapshotSettings
from replayhub.hub import Hub
from replayhub.replay.moments import snapshot_key
from replayhub.replay.snapshot import SnapshotUnavailable, check_chromium
from tests.conftest import ADMIN, IN_CI, recording
from tests.helpers import ingest_recording, make_app

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def chromium() -> None:
    """Snapshots need Chromium: a failure under CI=true, a skip elsewhere."""
    try:
        check_chromium(SnapshotSettings())
    except SnapshotUnavailable as error:
        if IN_CI:
            pytest.fail(f"Chromium is required under CI: {error}")
        pytest.skip(str(error))


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def renderer(client: AsyncTestClient[Any]) -> Any:
    return client.app.state.hub.snapshots


async def ingested(client: AsyncTestClient[Any], name: str) -> str:
    _, key = await make_app(client)
    return await ingest_recording(client, key, recording(name))


async def test_png_of_the_error_moment_then_served_from_cache(
        client: AsyncTestClient[Any], chromium: None) -> None:
    session_id = await ingested(client, "broken")
    first = await client.get(f"/api/v1/sessions/{session_id}/snapshot.png")
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "image/png"
    assert png_size(first.content) == (1280, 720)
    assert renderer(client).renders == 1

    again = await client.get(f"/api/v1/sessions/{session_id}/snapshot.png")
    assert again.status_code == 200
    assert again.content == first.content
    assert renderer(client).renders == 1  # a cache hit: Chromium was not asked

    hub: Hub = client.hub  # type: ignore[attr-defined]
    detail = (await client.get(f"/api/v1/sessions/{session_id}")).json()
    error_t = next(entry["t"] for entry in detail["timeline"] if entry["kind"] == "error")
    key = snapshot_key(session_id, error_t - 500, 1280)
    assert key.startswith(f"sessions/{session_id}/")  # dropped with the session's blobs
    assert await hub.blobs.get(key) == first.content
    await hub.blobs.delete_prefix(f"sessions/{session_id}/snapshots")
    third = await client.get(f"/api/v1/sessions/{session_id}/snapshot.png")
    assert third.status_code == 200
    assert renderer(client).renders == 2


async def test_width_scales_the_recorded_viewport(client: AsyncTestClient[Any],
                                                   chromium: None) -> None:
    session_id = await ingested(client, "checkout")
    response = await client.get(f"/api/v1/sessions/{session_id}/snapshot.png",
                                params={"t": 3000, "width": 640})
    assert response.status_code == 200, response.text
    assert png_size(response.content) == (640, 360)


async def test_bad_requests_are_problems(client: AsyncTestClient[Any]) -> None:
    session_id = await ingested(client, "broken")
    url = f"/api/v1/sessions/{session_id}/snapshot.png"
    for params in ({"t": -1}, {"t": "soon"}, {"width": 100}, {"width": 5000}, {"t": 10**9}):
        response = await client.get(url, params=params)
        assert response.status_code == 400, (params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    missing = await client.get("/api/v1/sessions/no-such-session/snapshot.png")
    assert missing.status_code == 404
    assert missing.json()["title"] == "Session not found"
    viewer = await client.get(url, headers={"Authorization": ""})
    assert viewer.status_code == 401


async def test_moments_worth_a_snapshot(client: AsyncTestClient[Any]) -> None:
    broken = await ingested(client, "broken")
    response = await client.get(f"/api/v1/sessions/{broken}/snapshots")
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    kinds = [item["kind"] for item in items]
    assert set(kinds) == {"error", "error_click", "first_page", "last_page"}
    assert kinds[-1] == "last_page" and kinds.count("first_page") == 1
    error = next(item for item in items if "total" in item["label"])
    assert error["kind"] == "error"
    assert error["url"].endswith(f"/api/v1/sessions/{broken}/snapshot.png?t={error['t']}")
    assert [item["t"] for item in items] == sorted(item["t"] for item in items)

    only_errors = (await client.get(f"/api/v1/sessions/{broken}/snapshots",
                                    params={"moments": "errors"})).json()["items"]
    assert {item["kind"] for item in only_errors} == {"error"}

    rage = await ingested(client, "rage")
    frustration = (await client.get(f"/api/v1/sessions/{rage}/snapshots",
                                    params={"moments": "frustration"})).json()["items"]
    assert frustration and {item["kind"] for item in frustration} <= {
        "rage_click", "dead_click", "error_click"}
    bad = await client.get(f"/api/v1/sessions/{rage}/snapshots", params={"moments": "most"})
    assert bad.status_code == 400
    assert (await client.get("/api/v1/sessions/nope/snapshots")).status_code == 404


async def test_a_burst_of_requests_all_complete(client: AsyncTestClient[Any],
                                                chromium: None) -> None:
    session_id = await ingested(client, "rage")
    url = f"/api/v1/sessions/{session_id}/snapshot.png"
    responses = await asyncio.gather(*(client.get(url, params={"t": 100 + 100 * i})
                                       for i in range(20)))
    assert [response.status_code for response in responses] == [200] * 20
    assert all(png_size(response.content) == (1280, 720) for response in responses)
    assert renderer(client).renders == 20


@asynccontextmanager
async def client_with(tmp_path: Path, database_url: str,
                      snapshots: SnapshotSettings) -> AsyncIterator[AsyncTestClient[Any]]:
    settings = Settings(data_dir=str(tmp_path / "var"), database_url=database_url,
                        admin_token=ADMIN, snapshots=snapshots)
    async with AsyncTestClient(app=create_app(settings)) as client:
        client.headers["Authorization"] = f"Bearer {ADMIN}"
        client.hub = Hub.from_settings(settings)  # type: ignore[attr-defined]
        try:
            yield client
        finally:
            await client.hub.stop()  # type: ignore[attr-defined]


async def test_without_chromium_the_hub_answers_503_and_keeps_working(
        tmp_path: Path, database_url: str) -> None:
    missing = SnapshotSettings(chromium_path=str(tmp_path / "no-chromium"))
    async with client_with(tmp_path, database_url, missing) as client:
        session_id = await ingested(client, "broken")
        response = await client.get(f"/api/v1/sessions/{session_id}/snapshot.png")
        assert response.status_code == 503
        assert response.headers["content-type"].startswith("application/problem+json")
        body = response.json()
        assert body["title"] == "Snapshots unavailable"
        assert "apt-get install chromium" in body["detail"]
        assert "chromium_path" in body["detail"]
        assert (await client.get(f"/api/v1/sessions/{session_id}")).status_code == 200
        assert (await client.get(f"/api/v1/sessions/{session_id}/snapshots")).status_code == 200
        assert (await client.get("/health")).status_code == 200


async def test_a_slow_render_is_a_504_and_pages_are_recycled(
        tmp_path: Path, database_url: str, chromium: None) -> None:
    hurried = SnapshotSettings(render_timeout_seconds=0.001, recycle_after=1)
    async with client_with(tmp_path, database_url, hurried) as client:
        session_id = await ingested(client, "rage")
        response = await client.get(f"/api/v1/sessions/{session_id}/snapshot.png")
        assert response.status_code == 504
        assert response.json()["title"] == "Snapshot timed out"
        renderer(client).settings.render_timeout_seconds = 20
        for t in (500, 1000, 1500):
            again = await client.get(f"/api/v1/sessions/{session_id}/snapshot.png",
                                     params={"t": t})
            assert again.status_code == 200, again.text
        assert renderer(client).renders == 3
        assert renderer(client)._idle == []  # each page was closed after its one render
