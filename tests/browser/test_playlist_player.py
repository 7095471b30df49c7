"""A playlist plays its sessions one after another in the player, in real Chromium."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.hub_server import RunningHub
from tests.browser.test_replay_ui import login
from tests.conftest import recording
from tests.helpers import renamed

pytestmark = pytest.mark.browser


def ingest(hub: RunningHub, key: str, name: str, session_id: str) -> int:
    """Ingest a recorded journey under `session_id`; its duration in ms."""
    batches = renamed(recording(name), session_id)
    with hub.api() as api:
        for batch in batches:
            response = api.post(f"/api/v1/ingest?key={key}", json=batch)
            assert response.status_code == 202, response.text
    times = [event["timestamp"] for batch in batches for event in batch["events"]]
    return max(times) - min(times)


def test_the_player_moves_to_the_next_session_at_the_end(
        chromium: Any, live_hub: RunningHub) -> None:
    with live_hub.api() as api:
        key = api.post("/api/v1/apps", json={"name": "Playlist shop"}).json()["ingest_key"]
    first = ingest(live_hub, key, "rage", "sess-playlist-first")
    ingest(live_hub, key, "broken", "sess-playlist-second")
    live_hub.close_sessions()
    with live_hub.api() as api:
        playlist = api.post("/api/v1/playlists", json={
            "name": "Frustrated shoppers", "session_ids": ["sess-playlist-second"]}).json()
        # Added last, so played first: open it 300 ms before its end.
        api.put(f"/api/v1/playlists/{playlist['id']}/sessions/sess-playlist-first",
                json={"t": max(0, first - 300), "note": "three clicks on Apply"})
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    login(page, live_hub)
    page.goto(f"{live_hub.base_url}/playlists/{playlist['id']}")
    assert page.locator("#playlist-position").inner_text() == "1 of 2"
    assert page.locator("#playlist-note").inner_text() == "three clicks on Apply"
    page.wait_for_url(f"{live_hub.base_url}/playlists/{playlist['id']}?i=1", timeout=30_000)
    assert page.locator("#playlist-position").inner_text() == "2 of 2"
    assert page.locator("#playlist-previous").get_attribute("href").endswith("?i=0")
    assert page.locator("#playlist-next").count() == 0
    assert '"sess-playlist-second"' in page.content()
    assert problems == []
    context.close()
