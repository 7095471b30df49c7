"""Playlists: saved searches equal to the search API, collections, refresh, built-ins, pages."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from replayhub import playlists
from replayhub.db.models import Playlist, PlaylistWatcher, ReplaySession
from replayhub.playlists import refresh_playlists
from replayhub.replay.views import record_view
from replayhub.retention import retention_tick
from replayhub.security import create_token
from tests.helpers import NO_AUTH, make_app, move_staged, send, tiny_batch

START = 1_790_000_000_000
DAY = 86_400_000


async def seed(client: AsyncTestClient[Any]) -> str:
    """Five sessions: three of ann@example.com, two of bob@example.com."""
    _, key = await make_app(client)
    users = ["ann@example.com", "bob@example.com", "ann@example.com", "ann@example.com",
             "bob@example.com"]
    for index, email in enumerate(users):
        batch = tiny_batch(f"sess-playlist-{index:04d}", 0, START + index * 60_000,
                           user={"email": email})
        assert (await send(client, key, batch)).status_code == 202
    return key


async def all_pages(client: AsyncTestClient[Any], url: str, **params: Any) -> list[str]:
    ids, cursor = [], None
    while True:
        query = {**params, "limit": 2, **({"cursor": cursor} if cursor else {})}
        body = (await client.get(url, params=query)).json()
        ids += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            return ids


async def test_saved_search_lists_what_the_search_api_lists(client: AsyncTestClient[Any]) -> None:
    await seed(client)
    created = await client.post("/api/v1/playlists", json={
        "name": "Ann's sessions", "filters": {"user_email": "ann@example.com"}})
    assert created.status_code == 201, created.text
    playlist = created.json()
    assert playlist["kind"] == "search" and playlist["filters"] == {"user_email": "ann@example.com"}
    listed = await all_pages(client, f"/api/v1/playlists/{playlist['id']}/sessions")
    searched = await all_pages(client, "/api/v1/sessions", user_email="ann@example.com")
    assert listed == searched == ["sess-playlist-0003", "sess-playlist-0002",
                                  "sess-playlist-0000"]
    first = (await client.get(f"/api/v1/playlists/{playlist['id']}/sessions")).json()["items"][0]
    summary = (await client.get("/api/v1/sessions", params={"limit": 1})).json()["items"][0]
    assert set(summary) <= set(first)


async def test_a_collection_keeps_moments_and_notes(client: AsyncTestClient[Any]) -> None:
    await seed(client)
    created = await client.post("/api/v1/playlists", json={
        "name": "Checkout bugs", "session_ids": ["sess-playlist-0001"]})
    playlist_id = created.json()["id"]
    put = await client.put(f"/api/v1/playlists/{playlist_id}/sessions/sess-playlist-0004",
                           json={"t": 1500, "note": "the spinner never stops"})
    assert put.status_code == 200 and put.json()["count"] == 2
    items = (await client.get(f"/api/v1/playlists/{playlist_id}/sessions")).json()["items"]
    assert [(i["id"], i["t"], i["note"]) for i in items] == [
        ("sess-playlist-0004", 1500, "the spinner never stops"), ("sess-playlist-0001", 0, "")]
    gone = await client.delete(f"/api/v1/playlists/{playlist_id}/sessions/sess-playlist-0001")
    assert gone.status_code == 204
    again = await client.delete(f"/api/v1/playlists/{playlist_id}/sessions/sess-playlist-0001")
    assert again.status_code == 404
    changed = await client.patch(f"/api/v1/playlists/{playlist_id}",
                                 json={"filters": {"user_email": "x@example.com"}})
    assert changed.status_code == 422 and "collection" in changed.json()["detail"]


@pytest.mark.parametrize(("body", "fix"), [
    ({"name": "both", "filters": {"url": "x"}, "session_ids": []}, "not both"),
    ({"name": "neither"}, "either filters"),
    ({"name": "odd", "filters": {"colour": "red"}}, "unknown filter 'colour'"),
    ({"name": "odd", "filters": {"frustration": "sad"}}, "frustration"),
    ({"name": "odd", "filters": {"since": "last tuesday"}}, "since"),
    ({"name": "empty", "filters": {}}, "at least one filter"),
    ({"name": "ghost", "session_ids": ["sess-nowhere"]}, "no session 'sess-nowhere'"),
    ({"name": "", "filters": {"url": "x"}}, "needs a name"),
    ({"name": "w", "filters": {"url": "x"}, "watchers": ["not an address"]}, "watcher"),
])
async def test_bad_playlists_are_refused_whole(client: AsyncTestClient[Any], body: dict[str, Any],
                                               fix: str) -> None:
    response = await client.post("/api/v1/playlists", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert fix in response.json()["detail"]
    async with client.hub.db.read() as tx:  # type: ignore[attr-defined]
        assert list((await tx.execute(select(Playlist))).scalars()) == []


async def test_adding_to_a_saved_search_is_refused(client: AsyncTestClient[Any]) -> None:
    await seed(client)
    playlist_id = (await client.post("/api/v1/playlists", json={
        "name": "Bob", "filters": {"user_email": "bob@example.com"}})).json()["id"]
    response = await client.put(f"/api/v1/playlists/{playlist_id}/sessions/sess-playlist-0000")
    assert response.status_code == 409 and "filters" in response.json()["detail"]


async def test_viewers_read_but_cannot_write(client: AsyncTestClient[Any]) -> None:
    viewer = await create_token(client.hub.db, "Vic", "viewer")  # type: ignore[attr-defined]
    headers = {"Authorization": f"Bearer {viewer}"}
    assert (await client.get("/api/v1/playlists", headers=headers)).status_code == 200
    refused = await client.post("/api/v1/playlists", headers=headers,
                                json={"name": "x", "filters": {"url": "x"}})
    assert refused.status_code == 403
    assert (await client.get("/api/v1/playlists", headers=NO_AUTH)).status_code == 401


async def test_refresh_counts_new_matches_and_unwatched(client: AsyncTestClient[Any],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    key = await seed(client)
    hub: Any = client.hub  # type: ignore[attr-defined]
    told: list[tuple[str, list[str], list[str]]] = []

    async def tell(hub: Any, playlist: Playlist, new_ids: list[str], watchers: list[str],
                   now: int) -> None:
        told.append((playlist.name, new_ids, watchers))

    monkeypatch.setattr(playlists, "tell_watchers", tell)
    playlist_id = (await client.post("/api/v1/playlists", json={
        "name": "Ann", "filters": {"user_email": "ann@example.com"},
        "watchers": ["val@example.com", "team:checkout"]})).json()["id"]
    person = await client.post("/api/v1/people", json={"email": "val@example.com",
                                                       "name": "Val Viewer"})
    assert person.status_code == 201, person.text
    await record_view(hub.db, "sess-playlist-0000", "Val Viewer", "page")
    async with hub.db.read() as tx:
        latest = max((await tx.execute(select(ReplaySession.created_at))).scalars())
    assert await refresh_playlists(hub, latest + 1) == 1
    first = (await client.get(f"/api/v1/playlists/{playlist_id}")).json()
    assert (first["count"], first["new_sessions"], told) == (3, 0, [])
    assert {w["watcher"]: w["unwatched"] for w in first["watchers"]} == {
        "team:checkout": None, "val@example.com": 2}
    now = int(time.time() * 1000)
    batch = tiny_batch("sess-playlist-0009", 0, now, user={"email": "ann@example.com"})
    assert (await send(client, key, batch)).status_code == 202
    async with hub.db.read() as tx:
        latest = max((await tx.execute(select(ReplaySession.created_at))).scalars())
    await refresh_playlists(hub, latest + 1)  # too soon: stored less than a minute ago
    assert (await client.get(f"/api/v1/playlists/{playlist_id}")).json()["new_sessions"] == 0
    await refresh_playlists(hub, latest + 60_001)
    second = (await client.get(f"/api/v1/playlists/{playlist_id}")).json()
    assert (second["count"], second["new_sessions"]) == (4, 1)
    assert told == [("Ann", ["sess-playlist-0009"], ["team:checkout", "val@example.com"])]
    async with hub.db.read() as tx:
        watchers = list((await tx.execute(select(PlaylistWatcher))).scalars())
    assert {w.watcher: w.unwatched for w in watchers}["val@example.com"] == 3


async def test_built_in_playlists(client: AsyncTestClient[Any]) -> None:
    await seed(client)
    hub: Any = client.hub  # type: ignore[attr-defined]
    await record_view(hub.db, "sess-playlist-0002", "bootstrap admin", "page")
    await client.post("/api/v1/sessions/sess-playlist-0001/comments",
                      json={"body": "@bootstrap admin have a look"})
    await client.post("/api/v1/sessions/sess-playlist-0003/comments", json={"body": "seen it"})
    listed = (await client.get("/api/v1/playlists")).json()["items"]
    assert [p["id"] for p in listed[:3]] == ["builtin:watched", "builtin:mentions",
                                             "builtin:commented"]

    async def ids(name: str) -> list[str]:
        items = (await client.get(f"/api/v1/playlists/builtin:{name}/sessions")).json()["items"]
        return [item["id"] for item in items]

    assert await ids("watched") == ["sess-playlist-0002"]
    assert await ids("mentions") == ["sess-playlist-0001"]
    assert await ids("commented") == ["sess-playlist-0003", "sess-playlist-0001"]
    assert (await client.get("/api/v1/playlists/builtin:nope/sessions")).status_code == 404


async def test_retention_keeps_sessions_in_a_collection(client: AsyncTestClient[Any]) -> None:
    await seed(client)
    await client.post("/api/v1/playlists", json={"name": "Keep",
                                                 "session_ids": ["sess-playlist-0002"]})
    await client.post("/api/v1/playlists", json={"name": "Search",
                                                 "filters": {"user_email": "ann@example.com"}})
    hub: Any = client.hub  # type: ignore[attr-defined]
    await move_staged(client)
    assert await retention_tick(hub, START + 60 * DAY) == 4
    async with hub.db.read() as tx:
        left = list((await tx.execute(select(ReplaySession.id))).scalars())
    assert left == ["sess-playlist-0002"]


async def test_playlist_pages_play_one_session_after_another(
        client: AsyncTestClient[Any]) -> None:
    await seed(client)
    playlist_id = (await client.post("/api/v1/playlists", json={
        "name": "Bob's visits", "filters": {"user_email": "bob@example.com"}})).json()["id"]
    login = await client.post("/login", data={"token": client.headers["Authorization"][7:]},
                              headers=NO_AUTH, follow_redirects=False)
    assert login.status_code == 303
    first = await client.get(f"/playlists/{playlist_id}", headers=NO_AUTH)
    assert first.status_code == 200
    assert "1 of 2" in first.text and f"/playlists/{playlist_id}?i=1" in first.text
    assert '"session_id":"sess-playlist-0004"' in first.text
    second = await client.get(f"/playlists/{playlist_id}?i=1", headers=NO_AUTH)
    assert "2 of 2" in second.text and '"session_id":"sess-playlist-0001"' in second.text
    listing = await client.get("/playlists", headers=NO_AUTH)
    assert "Bob&#39;s visits" in listing.text or "Bob's visits" in listing.text
    client.cookies.clear()
    assert (await client.get(f"/playlists/{playlist_id}", headers=NO_AUTH,
                             follow_redirects=False)).status_code == 303
    share = await client.post(f"/api/v1/playlists/{playlist_id}/share", json={})
    assert share.status_code == 201
    shared = await client.get(urlsplit(share.json()["url"]).path, headers=NO_AUTH)
    assert shared.status_code == 200 and "1 of 2" in shared.text
    assert '"events_url":"/share/' in shared.text
    forged = await client.get("/share/playlists/abc.def", headers=NO_AUTH)
    assert forged.status_code == 403


async def test_a_playlist_a_report_is_made_from_cannot_be_deleted(
        client: AsyncTestClient[Any]) -> None:
    await seed(client)
    playlist_id = (await client.post("/api/v1/playlists", json={
        "name": "Ann", "filters": {"user_email": "ann@example.com"}})).json()["id"]
    report = await client.post("/api/v1/reports", json={
        "name": "Ann weekly", "schedule": "0 9 * * 1", "timezone": "UTC",
        "playlist_id": playlist_id, "deliver": [{"email": "pm@example.com"}]})
    assert report.status_code == 201, report.text
    refused = await client.delete(f"/api/v1/playlists/{playlist_id}")
    assert refused.status_code == 409 and "Ann weekly" in refused.json()["detail"]
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["title"] == "Playlist in use"
    assert (await client.get(f"/api/v1/playlists/{playlist_id}")).status_code == 200
