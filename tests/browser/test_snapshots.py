"""Snapshots in real Chromium: reference pictures, cursor and click ring, masking, no outside
requests. Recordings are ingested through the API; under CI=true a missing Chromium fails."""

from __future__ import annotations

import copy
import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from replayhub.config import SnapshotSettings
from replayhub.replay.snapshot import SnapshotRenderer, SnapshotUnavailable, check_chromium
from tests.browser.conftest import ARTIFACTS, unavailable
from tests.conftest import FIXTURES, recording, recording_names
from tests.helpers import ingest_recording, make_app

Image = pytest.importorskip("PIL.Image", reason="Pillow is in the dev extra")
ImageChops = pytest.importorskip("PIL.ImageChops")
ImageStat = pytest.importorskip("PIL.ImageStat")

REFERENCES = FIXTURES / "snapshots"
MAX_DIFFERENCE = 4.0
"""Largest mean absolute difference (0-255) of any tile, after downscaling to 320 px wide."""
TILES = (16, 9)
CURSOR_FILL = (17, 24, 39)
RING = (244, 63, 94)
PLACEHOLDER = (229, 231, 235)


@pytest.fixture(autouse=True)
def chromium_here() -> None:
    try:
        check_chromium(SnapshotSettings())
    except SnapshotUnavailable as error:
        unavailable(str(error))


def picture(data: bytes) -> Any:
    return Image.open(io.BytesIO(data)).convert("RGB")


def difference(a: Any, b: Any) -> float:
    """Perceptual distance: the worst tile's mean absolute difference of 320 px thumbnails.

    Tiles keep a changed heading or button from vanishing into a mostly white page.
    """
    assert a.size == b.size, (a.size, b.size)
    size = (320, max(TILES[1], round(320 * a.height / a.width)))
    diff = ImageChops.difference(a.resize(size, Image.BILINEAR), b.resize(size, Image.BILINEAR))
    tile_w, tile_h = size[0] // TILES[0], size[1] // TILES[1]
    return max(sum(ImageStat.Stat(diff.crop((x, y, x + tile_w, y + tile_h))).mean) / 3
               for x in range(0, tile_w * TILES[0], tile_w)
               for y in range(0, tile_h * TILES[1], tile_h))


def count_colour(image: Any, colour: tuple[int, int, int], box: tuple[int, int, int, int],
                 tolerance: int = 6) -> int:
    region = image.crop(box)
    pixels = region.load()
    width, height = region.size
    return sum(1 for x in range(width) for y in range(height)
               if all(abs(pixels[x, y][i] - colour[i]) <= tolerance for i in range(3)))


def save_artifact(name: str, data: bytes) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / name).write_bytes(data)


async def snapshot(client: AsyncTestClient[Any], session_id: str, **params: Any) -> bytes:
    response = await client.get(f"/api/v1/sessions/{session_id}/snapshot.png", params=params)
    assert response.status_code == 200, response.text
    return response.content


def renderer_of(client: AsyncTestClient[Any]) -> Any:
    return client.app.state.hub.snapshots


def events_of(rec: dict[str, Any]) -> list[dict[str, Any]]:
    return [event for batch in rec["batches"] for event in batch["events"]]


@pytest.mark.parametrize("name", recording_names())
async def test_default_moment_matches_the_reference(client: AsyncTestClient[Any],
                                                    name: str) -> None:
    _, key = await make_app(client)
    session_id = await ingest_recording(client, key, recording(name))
    data = await snapshot(client, session_id)
    save_artifact(f"snapshot-{name}.png", data)
    reference = REFERENCES / f"{name}.png"
    assert reference.is_file(), "run tests/fixtures/make_reference_snapshots.py"
    assert difference(picture(data), Image.open(reference).convert("RGB")) < MAX_DIFFERENCE


def test_the_difference_measure_tells_pages_apart() -> None:
    broken = Image.open(REFERENCES / "broken.png").convert("RGB")
    checkout = Image.open(REFERENCES / "checkout.png").convert("RGB")
    assert difference(broken, checkout) > 3 * MAX_DIFFERENCE
    assert difference(broken, broken) == 0


async def test_cursor_and_click_ring_are_drawn(client: AsyncTestClient[Any]) -> None:
    rec = recording("rage")
    events = events_of(rec)
    start = min(event["timestamp"] for event in events)
    click = next(event for event in events if event["type"] == 3
                 and event["data"]["source"] == 2 and event["data"]["type"] == 2)
    x, y = round(click["data"]["x"]), round(click["data"]["y"])
    _, key = await make_app(client)
    session_id = await ingest_recording(client, key, rec)

    data = await snapshot(client, session_id, t=click["timestamp"] - start + 100)
    save_artifact("snapshot-click.png", data)
    image = picture(data)
    assert count_colour(image, CURSOR_FILL, (x, y, x + 24, y + 32)) >= 20
    assert count_colour(image, RING, (x - 200, y - 60, x + 200, y + 60)) >= 50

    before = picture(await snapshot(client, session_id, t=click["timestamp"] - start - 1))
    assert count_colour(before, RING, (0, 0, before.width, before.height)) == 0


async def test_masked_inputs_stay_masked(client: AsyncTestClient[Any]) -> None:
    _, key = await make_app(client)
    session_id = await ingest_recording(client, key, recording("checkout"))
    stored = await client.get(f"/api/v1/sessions/{session_id}/events")
    start = min(event["timestamp"] for event in stored.json())
    renderer = SnapshotRenderer(SnapshotSettings(pool_size=1))
    try:
        await renderer.render(stored.text, start + 4600, 1280)
        values = await renderer._idle[0].page.evaluate(
            "() => Array.from(document.querySelector('.replayer-wrapper iframe')"
            ".contentDocument.querySelectorAll('input')).map((input) => input.value)")
    finally:
        await renderer.close()
    typed = [value for value in values if value]
    assert len(typed) >= 4
    assert all(set(value) == {"*"} for value in typed), values


class Canary(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        Canary.hits.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def canary() -> Iterator[str]:
    """A local server that must never be asked for anything by the renderer."""
    Canary.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Canary)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def with_images(rec: dict[str, Any], sources: list[str]) -> dict[str, Any]:
    """The recording with <img> nodes (120x80, placed absolutely) added to its body."""
    rec = copy.deepcopy(rec)
    full = next(event for event in events_of(rec) if event["type"] == 2)
    body = find_tag(full["data"]["node"], "body")
    for index, source in enumerate(sources):
        body["childNodes"].append({
            "type": 2, "tagName": "img", "id": 10_000 + index, "childNodes": [],
            "attributes": {"src": source, "width": "120", "height": "80", "alt": "",
                           "style": f"position:absolute;left:{40 + 160 * index}px;top:400px"}})
    return rec


def find_tag(node: dict[str, Any], tag: str) -> dict[str, Any]:
    if node.get("tagName") == tag:
        return node
    for child in node.get("childNodes", []):
        found = find_tag(child, tag)
        if found:
            return found
    return {}


async def test_outside_images_are_never_fetched(client: AsyncTestClient[Any],
                                                canary: str) -> None:
    sources = ["https://images.example.invalid/x.png", f"{canary}/canary.png"]
    _, key = await make_app(client)
    session_id = await ingest_recording(client, key, with_images(recording("broken"), sources))
    data = await snapshot(client, session_id, t=2000)
    save_artifact("snapshot-outside-images.png", data)

    assert Canary.hits == []
    assert renderer_of(client).blocked >= 2
    image = picture(data)
    for index in range(len(sources)):
        left = 40 + 160 * index
        assert count_colour(image, PLACEHOLDER, (left, 400, left + 120, 480), 2) > 0.9 * 120 * 80


def test_references_exist() -> None:
    names = {path.stem for path in Path(REFERENCES).glob("*.png")}
    assert set(recording_names()) <= names
