"""The incidents page: the list, and the form that declares an incident by hand."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from replayhub.config import Settings
from replayhub.db.models import Incident
from replayhub.security import create_token
from tests.conftest import ADMIN

NO_AUTH = {"Authorization": ""}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Served over plain HTTP here, so the login cookie is not marked Secure."""
    return msgspec.structs.replace(settings, public_url="")


async def sign_in(client: AsyncTestClient[Any], token: str = ADMIN) -> dict[str, str]:
    response = await client.post("/login", data={"token": token}, headers=NO_AUTH,
                                 follow_redirects=False)
    assert response.status_code == 303
    return {**NO_AUTH, "Origin": str(client.base_url)}


async def incidents(client: AsyncTestClient[Any]) -> list[Incident]:
    async with client.hub.db.read() as tx:  # type: ignore[attr-defined]
        return list((await tx.execute(select(Incident))).scalars())


async def test_declaring_an_incident_opens_its_post_mortem(client: AsyncTestClient[Any]) -> None:
    headers = await sign_in(client)
    listing = await client.get("/incidents", headers=headers)
    assert listing.status_code == 200 and "Declare an incident" in listing.text
    form = {"title": "Checkout down", "started_at": "2026-01-04T10:00",
            "resolved_at": "2026-01-04T10:30", "service": "API Service",
            "url_patterns": "https://shop.example.test/checkout*\n"}
    declared = await client.post("/incidents", data=form, headers=headers,
                                 follow_redirects=False)
    assert declared.status_code == 303
    [incident] = await incidents(client)
    assert declared.headers["location"] == f"/incidents/{incident.id}/postmortem"
    assert (incident.source, incident.title, incident.status) == ("manual", "Checkout down",
                                                                  "resolved")
    assert incident.started_at == 1_767_520_800_000
    assert incident.url_patterns == '["https://shop.example.test/checkout*"]'
    notebook = await client.get(declared.headers["location"], headers=headers)
    assert notebook.status_code == 200 and "Checkout down" in notebook.text
    again = await client.get("/incidents", headers=headers)
    assert f'data-incident="{incident.id}"' in again.text


async def test_a_bad_form_is_shown_again_and_nothing_is_stored(
        client: AsyncTestClient[Any]) -> None:
    headers = await sign_in(client)
    for form, fix in (({"title": "", "started_at": "2026-01-04T10:00"}, "title"),
                      ({"title": "x", "started_at": "yesterday"}, "started_at"),
                      ({"title": "x", "started_at": "2026-01-04T10:00",
                        "resolved_at": "2026-01-04T09:00"}, "resolved before")):
        response = await client.post("/incidents", data=form, headers=headers)
        assert response.status_code == 400 and fix in response.text
    assert await incidents(client) == []


async def test_viewers_see_the_list_but_cannot_declare(client: AsyncTestClient[Any]) -> None:
    viewer = await create_token(client.hub.db, "Vera", "viewer")  # type: ignore[attr-defined]
    headers = await sign_in(client, viewer)
    listing = await client.get("/incidents", headers=headers)
    assert listing.status_code == 200 and "Declare an incident" not in listing.text
    refused = await client.post("/incidents", headers=headers,
                                data={"title": "x", "started_at": "2026-01-04T10:00"})
    assert refused.status_code == 403
    assert await incidents(client) == []
