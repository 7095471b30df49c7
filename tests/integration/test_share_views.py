"""Share links (expiry, tampering, scope), playback history, pages, and the served bundles."""

from __future__ import annotations

import stat
import time
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from replayhub.replay.share import make_share_token
from replayhub.security import create_token
from replayhub.signing import sign
from replayhub.web import assets
from tests.conftest import ADMIN, recording
from tests.helpers import NO_AUTH, ingest_recording, make_app


async def two_sessions(client: AsyncTestClient[Any]) -> tuple[str, str]:
    _, key = await make_app(client)
    first = await ingest_recording(client, key, recording("checkout"))
    second = await ingest_recording(client, key, recording("rage"))
    return first, second


def path_of(url: str) -> str:
    return "/share/" + url.rsplit("/share/", 1)[1]


async def test_share_link_opens_only_its_session(client: AsyncTestClient[Any]) -> None:
    mine, other = await two_sessions(client)
    response = await client.post(f"/api/v1/sessions/{mine}/share", json={"t": 1200})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["url"].startswith("http://127.0.0.1:8000/share/")
    expires = time.mktime(time.strptime(body["expires_at"][:19], "%Y-%m-%dT%H:%M:%S"))
    assert abs(expires - time.mktime(time.gmtime()) - 7 * 86400) < 120
    link = path_of(body["url"])

    page = await client.get(link, headers=NO_AUTH)
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert f'"session_id":"{mine}"' in page.text and '"t":1200' in page.text
    events = await client.get(f"{link}/events", headers=NO_AUTH)
    stored = await client.get(f"/api/v1/sessions/{mine}/events")
    assert events.status_code == 200 and events.json() == stored.json()
    assert (await client.get(f"/api/v1/sessions/{other}/events", headers=NO_AUTH)
            ).status_code == 401
    # the same signature over another session id does not verify
    token = link.rsplit("/", 1)[1]
    body_part, mac = token.split(".")
    forged = sign(b"not the key", "share", {"s": other, "t": 0, "exp": 2**40})
    for bad in (f"{forged}", f"{forged.split('.')[0]}.{mac}", f"{body_part}.{mac[:-2]}AA"):
        assert (await client.get(f"/share/{bad}", headers=NO_AUTH)).status_code == 403
        assert (await client.get(f"/share/{bad}/events", headers=NO_AUTH)).status_code == 403


async def test_expired_share_link_is_410(client: AsyncTestClient[Any]) -> None:
    mine, _ = await two_sessions(client)
    token, _ = make_share_token(client.hub.secret_key, mine, 0, 60, now=time.time() - 120)
    page = await client.get(f"/share/{token}", headers=NO_AUTH)
    assert page.status_code == 410
    assert "expired" in page.text
    events = await client.get(f"/share/{token}/events", headers=NO_AUTH)
    assert events.status_code == 410
    assert events.headers["content-type"].startswith("application/problem+json")


async def test_share_needs_agent_and_bounds_expiry(client: AsyncTestClient[Any]) -> None:
    mine, _ = await two_sessions(client)
    viewer = await create_token(client.hub.db, "Val", "viewer")
    agent = await create_token(client.hub.db, "Ann", "agent")
    url = f"/api/v1/sessions/{mine}/share"
    refused = await client.post(url, json={}, headers={"Authorization": f"Bearer {viewer}"})
    assert refused.status_code == 403
    allowed = await client.post(url, json={"expires_in": 90 * 86400},
                                headers={"Authorization": f"Bearer {agent}"})
    assert allowed.status_code == 201
    too_long = await client.post(url, json={"expires_in": 91 * 86400})
    assert too_long.status_code == 400
    assert (await client.post("/api/v1/sessions/nope/share", json={})).status_code == 404
    _, key = await make_app(client, "Other")
    assert (await client.post(url, json={}, headers={"Authorization": f"Bearer {key}"})
            ).status_code == 401


async def test_views_record_each_opening(client: AsyncTestClient[Any]) -> None:
    mine, other = await two_sessions(client)
    viewer = await create_token(client.hub.db, "Val the viewer", "viewer")
    login = await client.post("/login", data={"token": viewer, "next": f"/replays/{mine}"},
                              headers=NO_AUTH, follow_redirects=False)
    assert login.status_code == 303 and login.headers["location"] == f"/replays/{mine}"
    page = await client.get(f"/replays/{mine}?t=500", headers=NO_AUTH)
    assert page.status_code == 200
    assert "Val the viewer" in page.text and "Share</button>" not in page.text
    client.cookies.clear()
    shared = await client.post(f"/api/v1/sessions/{mine}/share", json={})
    await client.get(path_of(shared.json()["url"]), headers=NO_AUTH)

    views = (await client.get(f"/api/v1/sessions/{mine}/views")).json()["items"]
    assert [(v["viewer"], v["via"]) for v in views] == [("share link", "share"),
                                                        ("Val the viewer", "page")]
    assert (await client.get(f"/api/v1/sessions/{other}/views")).json() == {"items": []}
    assert (await client.get(f"/api/v1/sessions/{mine}/views", headers=NO_AUTH)
            ).status_code == 401


async def test_pages_need_login_and_api_stays_bearer_only(client: AsyncTestClient[Any]) -> None:
    mine, _ = await two_sessions(client)
    for path in ("/", "/errors", f"/replays/{mine}"):
        response = await client.get(path, headers=NO_AUTH, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")
    bad = await client.post("/login", data={"token": "rh_nope"}, headers=NO_AUTH)
    assert bad.status_code == 401 and "unknown or revoked" in bad.text
    ok = await client.post("/login", data={"token": ADMIN, "next": "https://evil.example/"},
                           headers=NO_AUTH, follow_redirects=False)
    assert ok.headers["location"] == "/"
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert (await client.get("/", headers=NO_AUTH)).status_code == 200
    assert (await client.get("/api/v1/sessions", headers=NO_AUTH)).status_code == 401
    assert (await client.get(f"/api/v1/sessions/{mine}", headers=NO_AUTH)).status_code == 200
    client.cookies.set("replayhub_session", "x" + client.cookies["replayhub_session"])
    assert (await client.get("/", headers=NO_AUTH, follow_redirects=False)).status_code == 303
    await client.post("/logout", headers=NO_AUTH)
    assert (await client.get("/", headers=NO_AUTH, follow_redirects=False)).status_code == 303


async def test_events_paging_keeps_the_default(client: AsyncTestClient[Any]) -> None:
    mine, _ = await two_sessions(client)
    whole = await client.get(f"/api/v1/sessions/{mine}/events")
    assert "x-next-from-seq" not in whole.headers
    events: list[Any] = []
    next_seq: str | None = "0"
    while next_seq is not None:
        page = await client.get(f"/api/v1/sessions/{mine}/events",
                                params={"from_seq": next_seq, "limit_segments": 2})
        assert page.status_code == 200
        events += page.json()
        next_seq = page.headers.get("x-next-from-seq")
    assert events == whole.json()


async def test_snippet_and_player_are_served(client: AsyncTestClient[Any],
                                             monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    if not assets.SNIPPET.is_file():
        pytest.skip("browser bundle not built (npm run build)")
    snippet = await client.get("/sdk/replayhub.js", headers=NO_AUTH)
    assert snippet.status_code == 200
    assert snippet.headers["access-control-allow-origin"] == "*"
    assert "max-age=86400" in snippet.headers["cache-control"]
    assert (await client.get("/static/player/rrweb-player.js", headers=NO_AUTH)
            ).status_code == 200
    assert (await client.get("/static/ui/replay.js", headers=NO_AUTH)).status_code == 200
    assert (await client.get("/static/../hub.py", headers=NO_AUTH)).status_code == 404
    monkeypatch.setattr(assets, "SNIPPET", tmp_path / "missing.js")
    monkeypatch.setattr(assets, "STATIC", tmp_path)
    missing = await client.get("/sdk/replayhub.js", headers=NO_AUTH)
    assert missing.status_code == 503 and "npm run build" in missing.json()["detail"]
    assert (await client.get("/static/player/style.css", headers=NO_AUTH)).status_code == 503


async def test_secret_key_is_generated_private(client: AsyncTestClient[Any]) -> None:
    path = Path(client.hub.settings.data_dir) / "secret-key"
    assert path.is_file() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert client.hub.secret_key == path.read_text().strip().encode()


async def test_cookie_requests_from_another_site_are_refused(
        client: AsyncTestClient[Any]) -> None:
    """CSRF: a state change that relies on the login cookie must come from the hub's pages."""
    _, key = await make_app(client)
    session_id = await ingest_recording(client, key, recording("broken"))
    signed_in = await client.post("/login", data={"token": ADMIN}, headers=NO_AUTH,
                                  follow_redirects=False)
    assert signed_in.status_code == 303
    share = f"/api/v1/sessions/{session_id}/share"
    cross = await client.post(share, json={"t": 0}, headers={
        **NO_AUTH, "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403
    assert cross.headers["content-type"].startswith("application/problem+json")
    sibling = await client.post(share, json={"t": 0}, headers={
        **NO_AUTH, "Origin": "https://app.example.test"})
    assert sibling.status_code == 403
    own = await client.post(share, json={"t": 0}, headers={
        **NO_AUTH, "Origin": "http://testserver.local", "Sec-Fetch-Site": "same-origin"})
    assert own.status_code == 201, own.text
    login_csrf = await client.post("/login", data={"token": ADMIN}, follow_redirects=False,
                                   headers={**NO_AUTH, "Origin": "https://evil.example"})
    assert login_csrf.status_code == 403
    bearer = await client.post(share, json={"t": 0}, headers={"Origin": "https://evil.example"})
    assert bearer.status_code == 201  # API clients with a token are not cookie-borne
