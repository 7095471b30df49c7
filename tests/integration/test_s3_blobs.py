"""The S3-compatible blob store, against a local S3 server (moto): segments, snapshots, purge."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from replayhub.app import create_app
from replayhub.blobs import BlobNotFound, S3BlobStore, blob_store
from replayhub.config import BlobSettings, Settings
from replayhub.hub import Hub
from tests.conftest import ADMIN
from tests.helpers import make_app, move_staged, send, tiny_batch

pytestmark = pytest.mark.sqlite_only
START = 1_790_000_000_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A local S3 server (moto's), started for this module."""
    port = _free_port()
    server = Path(sys.executable).parent / "moto_server"
    process = subprocess.Popen([str(server), "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(endpoint, timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


def bucket_settings(endpoint: str, bucket: str) -> BlobSettings:
    httpx.put(f"{endpoint}/{bucket}").raise_for_status()
    return BlobSettings(backend="s3", bucket=bucket, prefix="hub-a", endpoint=endpoint,
                        region="us-east-1", access_key_id="test", secret_access_key="test")


async def test_put_get_and_delete_by_prefix(s3_endpoint: str, tmp_path: Path) -> None:
    store = blob_store(bucket_settings(s3_endpoint, "unit"), tmp_path)
    assert isinstance(store, S3BlobStore)
    await store.put("sessions/abc/0.json.gz", b"first")
    await store.put("sessions/abc/1.json.gz", b"second")
    await store.put("sessions/abcd/0.json.gz", b"neighbour")
    assert await store.get("sessions/abc/1.json.gz") == b"second"
    await store.delete_prefix("sessions/abc")
    with pytest.raises(BlobNotFound):
        await store.get("sessions/abc/0.json.gz")
    assert await store.get("sessions/abcd/0.json.gz") == b"neighbour"


async def test_keys_cannot_leave_the_prefix(s3_endpoint: str, tmp_path: Path) -> None:
    store = blob_store(bucket_settings(s3_endpoint, "escape"), tmp_path)
    with pytest.raises(ValueError):
        await store.put("../other-hub/x", b"no")


async def test_the_hub_stores_and_serves_replays_from_the_bucket(
        s3_endpoint: str, tmp_path: Path) -> None:
    blobs = bucket_settings(s3_endpoint, "hub")
    settings = Settings(data_dir=str(tmp_path / "var"), admin_token=ADMIN, blobs=blobs)
    async with AsyncTestClient(app=create_app(settings)) as client:
        client.headers["Authorization"] = f"Bearer {ADMIN}"
        hub: Any = Hub.from_settings(settings)
        client.hub = hub  # type: ignore[attr-defined]
        try:
            _, key = await make_app(client)
            batch = tiny_batch("sess-in-bucket-01", 0, START)
            assert (await send(client, key, batch)).status_code == 202
            events = await client.get("/api/v1/sessions/sess-in-bucket-01/events")
            assert events.status_code == 200
            assert len(msgspec.json.decode(events.content)) == len(batch["events"])
            assert await move_staged(client) <= 1  # the app's mover may be first
            moved = await client.get("/api/v1/sessions/sess-in-bucket-01/events")
            assert moved.content == events.content
        finally:
            await hub.stop()
    assert not (tmp_path / "var" / "blobs").exists()
    async with httpx.AsyncClient() as http:
        listing = (await http.get(f"{s3_endpoint}/hub", params={"prefix": "hub-a/sessions/"})).text
    assert "sess-in-bucket-01" in listing
