"""People, teams and ownership: the directory API, config seeding, owners everywhere."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest
import structlog
from litestar.testing import AsyncTestClient
from sqlalchemy import event, select

from replayhub.config import OutboxSettings, OwnershipRule, PersonSettings, Settings, TeamSettings
from replayhub.db.models import Delivery, ErrorEvent, ErrorGroup, ReplaySession
from replayhub.hub import Hub
from replayhub.people import (
    Owners,
    cached_slack_id,
    chat_people,
    find_person,
    owners_for,
    owners_of_error,
    owners_of_error_groups,
    owners_of_incident,
    owners_of_session,
    remember_slack_id,
    team,
)
from replayhub.security import create_token
from tests.conftest import ADMIN, recording
from tests.helpers import ingest_recording, make_app
from tests.integration.zendesk.conftest import zendesk_table

WEBHOOK = "https://prod-12.westeurope.logic.azure.com/workflows/abc/triggers/manual?sig=SECRET42"
RULES = [
    {"name": "broken pages", "match": {"url": "*/broken*"}, "owners": ["team:Payments"]},
    {"name": "total errors", "match": {"error": "re:reading 'total'"},
     "owners": ["grace@example.com"]},
    {"name": "blog", "match": {"app": "Blog"}, "owners": ["team:Content"], "stop": True},
    {"name": "everything", "owners": ["oncall@example.com"]},
]


def config(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "people": [PersonSettings("ada@example.com", "Ada Lovelace", slack="U0ADA"),
                   PersonSettings("grace@example.com", "Grace Hopper", zendesk="42")],
        "teams": [TeamSettings("Payments", ["ada@example.com", "linus@example.com"],
                               slack_channel="#payments", teams_webhook=WEBHOOK,
                               email="payments@example.com"),
                  TeamSettings("Content")],
        "ownership": msgspec.convert(RULES, list[OwnershipRule]),
    }
    return {**values, **changes}


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=str(tmp_path / "var"), database_url=database_url, admin_token=ADMIN,
                    public_url="https://hub.example.test",
                    outbox=OutboxSettings(dispatcher=False),
                    connectors={"zendesk": zendesk_table()}, **config())


def hub_of(client: AsyncTestClient[Any]) -> Hub:
    return client.hub  # type: ignore[attr-defined,no-any-return]


async def token(client: AsyncTestClient[Any], role: str) -> dict[str, str]:
    value = await create_token(hub_of(client).db, role, role)
    return {"Authorization": f"Bearer {value}"}


async def broken_session(client: AsyncTestClient[Any], app_name: str = "Shop") -> str:
    """The `broken` recording (a TypeError on /broken.html), an hour ago."""
    _, key = await make_app(client, app_name)
    data = recording("broken")
    first = data["batches"][0]["events"][0]["timestamp"]
    return await ingest_recording(client, key, data,
                                  shift_ms=int(time.time() * 1000) - 3_600_000 - first)


def assert_problem(response: Any, status: int, text: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert text in response.json()["detail"]


# --- the directory API --------------------------------------------------------------------


async def test_people_crud(client: AsyncTestClient[Any]) -> None:
    created = await client.post("/api/v1/people", json={
        "email": " Margaret@Example.com ", "name": "Margaret", "slack": "U0MARGARET"})
    assert created.status_code == 201, created.text
    assert created.json() == {"email": "margaret@example.com", "name": "Margaret",
                              "slack": "U0MARGARET", "zendesk": "", "teams": "",
                              "source": "api", "member_of": []}
    changed = await client.patch("/api/v1/people/margaret@example.com",
                                 json={"name": "Margaret H.", "zendesk": "7"})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["zendesk"], changed.json()["slack"]) == (
        "Margaret H.", "7", "U0MARGARET")
    await client.patch("/api/v1/teams/Payments", json={
        "members": ["ada@example.com", "margaret@example.com"]})
    margaret = (await client.get("/api/v1/people/MARGARET@example.com")).json()
    assert (margaret["name"], margaret["member_of"]) == ("Margaret H.", ["Payments"])
    listed = (await client.get("/api/v1/people")).json()["items"]
    assert [p["email"] for p in listed] == ["ada@example.com", "grace@example.com",
                                            "linus@example.com", "margaret@example.com"]
    gone = await client.delete("/api/v1/people/margaret@example.com")
    assert gone.status_code == 204
    assert_problem(await client.get("/api/v1/people/margaret@example.com"), 404, "no person")
    payments = (await client.get("/api/v1/teams/Payments")).json()
    assert payments["members"] == ["ada@example.com"]


async def test_people_refusals_are_problems(client: AsyncTestClient[Any]) -> None:
    assert_problem(await client.post("/api/v1/people", json={"email": "not-an-email"}),
                   422, "not an e-mail address")
    assert_problem(await client.post("/api/v1/people", json={"email": "x@example.com",
                                                               "slack": "bob"}),
                   422, "Slack member id")
    assert_problem(await client.post("/api/v1/people", json={"email": "ADA@example.com"}),
                   409, "already in the directory")
    unknown = await client.post("/api/v1/people", json={"email": "x@example.com", "age": 3})
    assert unknown.status_code == 400
    assert_problem(await client.patch("/api/v1/people/nobody@example.com", json={"name": "N"}),
                   404, "no person")
    assert_problem(await client.patch("/api/v1/people/ada@example.com",
                                      json={"teams": "ada at example"}), 422, "teams")
    assert_problem(await client.delete("/api/v1/people/ada@example.com"), 409, "[[people]]")
    assert (await client.get("/api/v1/people/ada@example.com")).json()["name"] == "Ada Lovelace"
    assert [p["email"] for p in (await client.get("/api/v1/people")).json()["items"]] == [
        "ada@example.com", "grace@example.com", "linus@example.com"]


async def test_teams_crud_and_refusals(client: AsyncTestClient[Any]) -> None:
    body = {"name": "Checkout", "members": ["Grace@example.com"], "slack_channel": "C0CHECKOUT",
            "teams_webhook": "https://example.logic.azure.com/workflows/x?sig=TOPSECRET"}
    created = await client.post("/api/v1/teams", json=body)
    assert created.status_code == 201, created.text
    assert created.json() == {"name": "Checkout", "members": ["grace@example.com"],
                              "slack_channel": "C0CHECKOUT", "teams_webhook_set": True,
                              "email": "", "source": "api"}
    assert_problem(await client.post("/api/v1/teams", json={**body, "name": "checkout"}),
                   409, "already exists")
    assert_problem(await client.post("/api/v1/teams", json={
        "name": "Growth", "members": ["ghost@example.com"]}), 422, "ghost@example.com")
    assert_problem(await client.post("/api/v1/teams", json={"name": "a/b"}), 422, "name")
    assert_problem(await client.post("/api/v1/teams", json={
        "name": "Growth", "teams_webhook": "http://plain.example"}), 422, "https")
    assert (await client.get("/api/v1/teams/Growth")).status_code == 404
    patched = await client.patch("/api/v1/teams/CHECKOUT", json={
        "members": ["ada@example.com", "grace@example.com"], "teams_webhook": ""})
    assert patched.status_code == 200, patched.text
    assert patched.json()["members"] == ["ada@example.com", "grace@example.com"]
    assert patched.json()["teams_webhook_set"] is False
    assert_problem(await client.patch("/api/v1/teams/Checkout", json={
        "members": ["ghost@example.com"]}), 422, "ghost@example.com")
    assert (await client.get("/api/v1/teams/Checkout")).json()["members"] == [
        "ada@example.com", "grace@example.com"]
    assert_problem(await client.delete("/api/v1/teams/Payments"), 409, "[[teams]]")
    assert (await client.delete("/api/v1/teams/Checkout")).status_code == 204
    assert [t["name"] for t in (await client.get("/api/v1/teams")).json()["items"]] == [
        "Content", "Payments"]
    assert "Checkout" not in (await client.get("/api/v1/people/ada@example.com")).json()[
        "member_of"]


async def test_roles(client: AsyncTestClient[Any]) -> None:
    viewer, agent = await token(client, "viewer"), await token(client, "agent")
    assert (await client.get("/api/v1/people", headers=viewer)).status_code == 200
    assert (await client.get("/api/v1/teams/Payments", headers=viewer)).status_code == 200
    explained = await client.post("/api/v1/ownership/test", json={"url": "/x"}, headers=viewer)
    assert explained.status_code == 200
    for headers in (viewer, agent):
        assert (await client.post("/api/v1/people", json={"email": "x@example.com"},
                                  headers=headers)).status_code == 403
        assert (await client.patch("/api/v1/teams/Payments", json={"email": ""},
                                   headers=headers)).status_code == 403
        assert (await client.delete("/api/v1/teams/Content",
                                    headers=headers)).status_code == 403
    anonymous = {"Authorization": ""}
    assert (await client.get("/api/v1/people", headers=anonymous)).status_code == 401
    assert (await client.post("/api/v1/ownership/test", json={},
                              headers=anonymous)).status_code == 401
    assert (await client.get("/api/v1/people/x@example.com")).status_code == 404


async def test_the_teams_webhook_is_never_shown_nor_logged(client: AsyncTestClient[Any]) -> None:
    with structlog.testing.capture_logs() as logs:
        listed = await client.get("/api/v1/teams")
        one = await client.get("/api/v1/teams/payments")
        patched = await client.patch("/api/v1/teams/Payments", json={"email": "pay@example.com"})
        refused = await client.patch("/api/v1/teams/Payments",
                                     json={"teams_webhook": "http://x.example/?sig=OTHERSECRET"})
    assert listed.json()["items"][1]["teams_webhook_set"] is True
    assert one.json()["teams_webhook_set"] is True and "teams_webhook" not in one.json()
    for response in (listed, one, patched, refused):
        assert "SECRET42" not in response.text and "OTHERSECRET" not in response.text
    assert "SECRET42" not in repr(logs) and "OTHERSECRET" not in repr(logs)
    found = await team(hub_of(client), "PAYMENTS")
    assert found is not None and found.teams_webhook == WEBHOOK
    assert "SECRET42" not in repr(found)


# --- config seeding -----------------------------------------------------------------------


async def test_config_seeds_the_directory(client: AsyncTestClient[Any]) -> None:
    payments = (await client.get("/api/v1/teams/Payments")).json()
    assert payments == {"name": "Payments", "members": ["ada@example.com", "linus@example.com"],
                        "slack_channel": "#payments", "teams_webhook_set": True,
                        "email": "payments@example.com", "source": "config"}
    linus = (await client.get("/api/v1/people/linus@example.com")).json()
    assert linus == {"email": "linus@example.com", "name": "", "slack": "", "zendesk": "",
                     "teams": "", "source": "config", "member_of": ["Payments"]}


async def restart(settings: Settings, **changes: Any) -> Hub:
    hub = Hub.from_settings(msgspec.structs.replace(settings, **changes))
    await hub.start()
    return hub


async def test_api_edits_last_until_the_config_entry_changes(
        client: AsyncTestClient[Any], settings: Settings) -> None:
    await client.patch("/api/v1/people/ada@example.com", json={"name": "Countess Ada"})
    await client.patch("/api/v1/teams/Payments", json={"members": ["ada@example.com"]})
    await client.post("/api/v1/people", json={"email": "api@example.com", "name": "Api"})
    hub = await restart(settings)
    try:
        assert (await find_person(hub, "ada@example.com")).name == "Countess Ada"  # type: ignore[union-attr]
        assert (await team(hub, "Payments")).members == ["ada@example.com"]  # type: ignore[union-attr]
    finally:
        await hub.stop()
    changed = config(
        people=[PersonSettings("ada@example.com", "Ada King", slack="U0ADA")],
        teams=[TeamSettings("Payments", ["ada@example.com", "linus@example.com"],
                            slack_channel="#pay")])
    hub = await restart(settings, **changed)
    try:
        ada = await find_person(hub, "ADA@example.com")
        assert ada is not None and (ada.name, ada.source) == ("Ada King", "config")
        payments = await team(hub, "payments")
        assert payments is not None
        assert (payments.slack_channel, payments.teams_webhook) == ("#pay", "")
        assert payments.members == ["ada@example.com", "linus@example.com"]
        assert await find_person(hub, "grace@example.com") is None
        assert await team(hub, "Content") is None
        api = await find_person(hub, "api@example.com")
        assert api is not None and api.source == "api"
    finally:
        await hub.stop()


async def test_a_bad_config_entry_stops_the_start(settings: Settings) -> None:
    from replayhub.config import ConfigError

    hub = Hub.from_settings(msgspec.structs.replace(
        settings, people=[PersonSettings("not an address")]))
    try:
        with pytest.raises(ConfigError, match="not an e-mail"):
            await hub.start()
    finally:
        await hub.stop()


# --- the contract others build on ---------------------------------------------------------


async def test_find_person_chat_people_and_the_slack_cache(client: AsyncTestClient[Any]) -> None:
    hub = hub_of(client)
    assert (await find_person(hub, "@Grace Hopper")).email == "grace@example.com"  # type: ignore[union-attr]
    assert (await find_person(hub, "ada@EXAMPLE.com")).slack == "U0ADA"  # type: ignore[union-attr]
    assert await find_person(hub, "nobody") is None
    await client.post("/api/v1/people", json={"email": "g2@example.com", "name": "grace hopper"})
    assert await find_person(hub, "Grace Hopper") is None  # two people: ambiguous
    assert await cached_slack_id(hub, "Linus@example.com") is None
    await remember_slack_id(hub, "linus@example.com", "")
    assert await cached_slack_id(hub, "linus@example.com") == ""
    await remember_slack_id(hub, "linus@example.com", "U0LIN")
    assert await cached_slack_id(hub, "linus@example.com") == "U0LIN"
    people = await chat_people(hub, ["ada@example.com", "Linus@example.com", "who@example.com"])
    assert [(p.email, p.name, p.slack) for p in people] == [
        ("ada@example.com", "Ada Lovelace", "U0ADA"), ("linus@example.com", "", "U0LIN"),
        ("who@example.com", "", "")]
    await client.patch("/api/v1/people/linus@example.com", json={"slack": ""})
    assert await cached_slack_id(hub, "linus@example.com") is None


# --- owners -------------------------------------------------------------------------------

BROKEN_OWNERS = {"teams": ["Payments"], "emails": ["grace@example.com", "oncall@example.com"],
                 "rules": ["broken pages", "total errors", "everything"]}


async def test_owners_of_a_session_in_the_api(client: AsyncTestClient[Any]) -> None:
    session_id = await broken_session(client)
    detail = await client.get(f"/api/v1/sessions/{session_id}")
    assert detail.status_code == 200
    assert detail.json()["owners"] == BROKEN_OWNERS
    assert detail.json()["timeline"]
    blog = await broken_session(client, "Blog")
    owners = await owners_of_session(hub_of(client), blog)
    assert owners == Owners(["Payments", "Content"], ["grace@example.com"],
                            ["broken pages", "total errors", "blog"])


async def test_owners_of_error_groups_and_incidents_in_the_api(
        client: AsyncTestClient[Any]) -> None:
    await broken_session(client)
    errors = (await client.get("/api/v1/errors")).json()["items"]
    [group] = [g for g in errors if "total" in g["message"]]
    assert group["owners"] == BROKEN_OWNERS
    assert await owners_of_error(hub_of(client), group["fingerprint"]) == msgspec.convert(
        BROKEN_OWNERS, Owners)
    app_id = group["app_id"]
    created = await client.post("/api/v1/incidents", json={
        "title": "Checkout down", "started_at": int(time.time() * 1000) - 60_000,
        "app_ids": [app_id], "url_patterns": ["https://shop.example.test/broken*"]})
    incident = (await client.get(f"/api/v1/incidents/{created.json()['id']}")).json()
    assert incident["owners"] == {"teams": ["Payments"], "emails": ["oncall@example.com"],
                                  "rules": ["broken pages", "everything"]}
    by_service = await client.post("/api/v1/incidents", json={
        "title": "Blog slow", "started_at": int(time.time() * 1000), "service": "blog"})
    owners = await owners_of_incident(hub_of(client), by_service.json()["id"])
    assert owners == Owners(["Content"], [], ["blog"])
    assert await owners_for(hub_of(client), app="Shop", url="https://x/y") == Owners(
        [], ["oncall@example.com"], ["everything"])


async def test_owners_of_fifty_error_groups_take_a_fixed_number_of_queries(
        client: AsyncTestClient[Any]) -> None:
    hub = hub_of(client)
    app_id, _ = await make_app(client)
    now = int(time.time() * 1000)
    async with hub.db.write() as tx:
        tx.add(ReplaySession(id="s1", app_id=app_id, started_at=now, ended_at=now,
                             created_at=now, updated_at=now))
        for n in range(50):
            tx.add(ErrorGroup(app_id=app_id, fingerprint=f"fp{n:02d}", message=f"error {n}",
                              first_seen=now, last_seen=now))
        await tx.flush()
        ids = (await tx.execute(select(ErrorGroup.id))).scalars().all()
        for n, group_id in enumerate(ids):
            tx.add(ErrorEvent(session_id="s1", group_id=group_id, t=now, user_key="u",
                              message="m", url=f"https://shop.example.test/{'broken' * (n % 2)}"))
    statements: list[str] = []
    engine = hub.db.engine.sync_engine

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        owners = await owners_of_error_groups(hub, [f"fp{n:02d}" for n in range(50)])
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(owners) == 50
    assert sum(o.teams == ["Payments"] for o in owners.values()) == 25
    queries = [s for s in statements if s.lstrip().upper().startswith("SELECT")
               and s.strip().upper() != "SELECT 1"]
    assert 1 <= len(queries) <= 3, queries


# --- explanations -------------------------------------------------------------------------


async def test_ownership_test_explains_each_rule(client: AsyncTestClient[Any]) -> None:
    answer = await client.post("/api/v1/ownership/test", json={
        "app": "Blog", "url": "https://blog.example.test/broken/post"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["subject"]["urls"] == ["https://blog.example.test/broken/post"]
    assert [(r["name"], r["matched"], r["tried"]) for r in body["rules"]] == [
        ("broken pages", True, True), ("total errors", False, True), ("blog", True, True),
        ("everything", False, False)]
    assert body["rules"][0]["conditions"] == [{
        "key": "url", "patterns": ["*/broken*"],
        "matched": "https://blog.example.test/broken/post"}]
    assert body["rules"][1]["conditions"][0]["matched"] is None
    assert body["owners"] == {"teams": ["Payments", "Content"], "emails": [],
                              "rules": ["broken pages", "blog"]}


async def test_ownership_test_of_a_session_an_error_and_an_incident(
        client: AsyncTestClient[Any]) -> None:
    session_id = await broken_session(client)
    by_session = (await client.post("/api/v1/ownership/test",
                                    json={"session_id": session_id})).json()
    assert by_session["owners"] == BROKEN_OWNERS
    assert "https://shop.example.test/broken.html" in by_session["subject"]["urls"]
    assert "Shop" in by_session["subject"]["apps"]
    [group] = [g for g in (await client.get("/api/v1/errors")).json()["items"]
               if "total" in g["message"]]
    by_error = (await client.post("/api/v1/ownership/test",
                                  json={"fingerprint": group["fingerprint"]})).json()
    assert by_error["owners"] == BROKEN_OWNERS
    incident = await client.post("/api/v1/incidents", json={
        "title": "Blog", "started_at": int(time.time() * 1000), "service": "Blog"})
    by_incident = (await client.post("/api/v1/ownership/test",
                                     json={"incident_id": incident.json()["id"]})).json()
    assert by_incident["owners"]["rules"] == ["blog"]
    for missing in ({"session_id": "nope"}, {"fingerprint": "nope"}, {"incident_id": "nope"}):
        response = await client.post("/api/v1/ownership/test", json=missing)
        assert response.status_code == 404, missing
    assert (await client.post("/api/v1/ownership/test",
                              json={"tags": "not a list"})).status_code == 400


# --- where owners are read ----------------------------------------------------------------


async def test_the_zendesk_note_names_the_owners(client: AsyncTestClient[Any]) -> None:
    session_id = await broken_session(client)
    response = await client.post(f"/api/v1/sessions/{session_id}/links",
                                 json={"target": "zendesk", "ticket_id": "77"})
    assert response.status_code == 202, response.text
    async with hub_of(client).db.read() as tx:
        delivery = await tx.get(Delivery, response.json()["delivery_id"])
    assert delivery is not None
    html = json.loads(delivery.payload)["html_body"]
    assert "<p>Owners: Payments (team), Grace Hopper, oncall@example.com</p>" in html


async def test_the_postmortem_names_the_owners(client: AsyncTestClient[Any]) -> None:
    created = await client.post("/api/v1/incidents", json={
        "title": "Blog slow", "started_at": int(time.time() * 1000) - 60_000,
        "service": "blog"})
    draft = await client.get(f"/api/v1/incidents/{created.json()['id']}/postmortem")
    assert draft.status_code == 200, draft.text
    assert "Content (owning team)" in draft.text


async def test_the_pages_show_the_owners(client: AsyncTestClient[Any]) -> None:
    session_id = await broken_session(client)
    login = await client.post("/login", data={"token": ADMIN, "next": "/errors"},
                              headers={"Authorization": ""}, follow_redirects=False)
    client.cookies.set("replayhub_session", login.cookies["replayhub_session"])
    errors = await client.get("/errors", headers={"Authorization": ""})
    assert errors.status_code == 200
    assert "Owners: Payments (team), Grace Hopper, oncall@example.com" in errors.text
    replay = await client.get(f"/replays/{session_id}", headers={"Authorization": ""})
    assert replay.status_code == 200
    assert 'id="fact-owners">Payments (team), Grace Hopper, oncall@example.com<' in replay.text
    people = await client.get("/people", headers={"Authorization": ""})
    assert people.status_code == 200
    assert "Grace Hopper" in people.text and "#payments" in people.text
    assert "broken pages" in people.text and "(stop)" in people.text
    assert "SECRET42" not in people.text
