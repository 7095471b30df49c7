"""The ticket-sidebar app: Zendesk's signed POST opens a page that lists the requester's
sessions through a short-lived token of the hub's own."""

from __future__ import annotations

import re
import time
from typing import Any

import jwt
import pytest
from litestar.testing import AsyncTestClient

from tests.helpers import NO_AUTH
from tests.integration.zendesk.conftest import ingest_as, zendesk_table
from tests.integration.zendesk.fake import FakeZendesk

SHARED = "sidebar-shared-secret-0123456789abcdef"
AUD = "https://acme.zendesk.com/api/v2/apps/installations/987.json"


@pytest.fixture
def zendesk_settings() -> dict[str, Any]:
    return zendesk_table(sidebar_shared_secret=SHARED)


def app_jwt(secret: str = SHARED, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": "acme.zendesk.com", "aud": AUD, "iat": now, "exp": now + 300, **claims}
    return jwt.encode(body, secret, algorithm="HS256")


async def open_sidebar(client: AsyncTestClient[Any], token: str | None) -> Any:
    return await client.post("/zendesk/sidebar?origin=https://acme.zendesk.com&app_guid=g1",
                             data={"token": token} if token else {}, headers=NO_AUTH)


def page_token(html: str) -> str:
    found = re.search(r'"token": "([^"]+)"', html)
    assert found, html
    return found.group(1)


async def test_the_sidebar_lists_the_requesters_sessions(
        client: AsyncTestClient[Any], fake: FakeZendesk, shop: str) -> None:
    broken = await ingest_as(client, shop, "broken", email="alan@example.com",
                             user_id="user-alan", hours_ago=2)
    calm = await ingest_as(client, shop, "checkout", email="alan@example.com",
                           user_id="user-alan", hours_ago=1)
    await ingest_as(client, shop, "checkout", email="grace@example.com", user_id="user-grace")
    await ingest_as(client, shop, "broken", email="alan@example.com", user_id="user-alan",
                    hours_ago=30)  # older than lookback_hours (24)

    page = await open_sidebar(client, app_jwt())
    assert page.status_code == 200, page.text
    csp = page.headers["content-security-policy"]
    assert "https://static.zdassets.com" in csp and "frame-ancestors https://*.zendesk.com" in csp
    assert "zaf_sdk.min.js" in page.text
    token = page_token(page.text)
    assert token.count(".") == 1  # the hub's own signed token, not an API token

    for query in ({"email": "Alan@Example.com"}, {"external_id": "user-alan"}):
        response = await client.get("/zendesk/sidebar/sessions", params=query,
                                    headers={**NO_AUTH, "X-ReplayHub-Sidebar": token})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["lookback_hours"] == 24
        assert [item["id"] for item in body["items"]] == [calm, broken]  # newest first
        first = body["items"][1]
        assert first["errors"] and first["replay_url"].startswith(
            "https://hub.example.test/share/")
        assert first["thumbnail_url"].startswith(
            "https://hub.example.test/zendesk/sidebar/thumbnails/")
        shared = await client.get(first["replay_url"].removeprefix("https://hub.example.test"),
                                  headers=NO_AUTH)
        assert shared.status_code == 200

    wider = await client.get("/zendesk/sidebar/sessions",
                             params={"email": "alan@example.com", "lookback_hours": 48},
                             headers={**NO_AUTH, "X-ReplayHub-Sidebar": token})
    assert len(wider.json()["items"]) == 2  # never further back than lookback_hours
    assert wider.json()["lookback_hours"] == 24
    nobody = await client.get("/zendesk/sidebar/sessions", params={"email": "x@example.com"},
                              headers={**NO_AUTH, "X-ReplayHub-Sidebar": token})
    assert nobody.json()["items"] == []
    assert fake.calls == []


@pytest.mark.parametrize("token", [
    None,
    "not-a-jwt",
    app_jwt(secret="someone-else-0123456789abcdef0123"),
    app_jwt(iat=int(time.time()) - 3600, exp=int(time.time()) - 3000),
    app_jwt(aud="https://evil.zendesk.com/api/v2/apps/installations/987.json"),
], ids=["missing", "garbage", "bad-signature", "expired", "wrong-audience"])
async def test_a_bad_jwt_gets_a_401_page_and_no_data(client: AsyncTestClient[Any],
                                                     token: str | None) -> None:
    response = await open_sidebar(client, token)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("text/html")
    assert "cannot show replays" in response.text
    assert '"token"' not in response.text and "sessions?" not in response.text


async def test_the_data_routes_need_the_hubs_sidebar_token(
        client: AsyncTestClient[Any], shop: str) -> None:
    await ingest_as(client, shop, "broken", email="alan@example.com", user_id="user-alan")
    for headers in ({}, {"X-ReplayHub-Sidebar": "forged.token"},
                    {"Authorization": "Bearer rh_test_admin_token_0123456789"}):
        response = await client.get("/zendesk/sidebar/sessions",
                                    params={"email": "alan@example.com"},
                                    headers={**NO_AUTH, **headers})
        assert response.status_code == 401
    thumbnail = await client.get("/zendesk/sidebar/thumbnails/forged.token", headers=NO_AUTH)
    assert thumbnail.status_code == 401
