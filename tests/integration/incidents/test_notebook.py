"""The post-mortem notebook: sections edited through the API (optimistic concurrency, 404, 403),
edits in every output (Markdown, HTML, the page) that survive the draft being generated again,
safe Markdown, and the incident's comment thread (mentions, idempotent retries, imports)."""

from __future__ import annotations

import re
import secrets
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from replayhub.config import PersonSettings, Settings
from replayhub.connector import VendorComment
from replayhub.db.models import App, Delivery
from replayhub.notebook import find_mentions, import_incident_comments, markdown_html
from replayhub.security import create_token, hash_secret
from tests.integration.incidents.test_impact import (  # noqa: F401 (the fixture)
    CHECKOUT,
    START,
    seeded,
    session,
)
from tests.integration.incidents.test_postmortem import markdown, parse_html

SECTIONS = ["summary", "impact", "timeline", "root_cause", "evidence", "stakeholders",
            "action_items", "open_questions"]
PEOPLE = [PersonSettings(email="alice@example.com", name="Alice Smith"),
          PersonSettings(email="bob@example.com", name="Bob Stone"),
          PersonSettings(email="bobby@example.com", name="Bob Jones")]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.people = list(PEOPLE)
    # the seeded sessions are on a fixed day long ago: no retention tick may purge them
    settings.scheduler.enabled = False
    return settings


def sections_url(incident: str, name: str = "") -> str:
    return f"/api/v1/incidents/{incident}/postmortem/sections" + (f"/{name}" if name else "")


async def sections(client: AsyncTestClient[Any], incident: str) -> dict[str, Any]:
    response = await client.get(sections_url(incident))
    assert response.status_code == 200, response.text
    return {item["name"]: item for item in response.json()["items"]}


async def token(client: AsyncTestClient[Any], name: str, role: str) -> dict[str, str]:
    value = await create_token(client.hub.db, name, role)  # type: ignore[attr-defined]
    return {"Authorization": f"Bearer {value}"}


async def deliveries(client: AsyncTestClient[Any]) -> list[Delivery]:
    async with client.hub.db.read() as tx:  # type: ignore[attr-defined]
        return list((await tx.execute(select(Delivery).order_by(Delivery.idempotency_key)))
                    .scalars())


async def test_sections_are_listed_in_order_with_their_generated_text(
        client: AsyncTestClient[Any], seeded: dict[str, Any]) -> None:  # noqa: F811
    found = await sections(client, seeded["incident"])
    assert list(found) == SECTIONS
    summary = found["summary"]
    assert summary["title"] == "Summary" and summary["version"] == 0
    assert not summary["edited"] and summary["edited_by"] is None
    assert summary["body"] == summary["generated"]
    assert "5 errors, 4 affected sessions and 4 affected users" in summary["body"]
    assert found["impact"]["body"].startswith("| Figure | Value |")
    assert found["root_cause"]["body"].startswith("_To fill: what failed")


async def test_an_edit_shows_in_markdown_html_and_the_page(
        client: AsyncTestClient[Any], seeded: dict[str, Any]) -> None:  # noqa: F811
    incident = seeded["incident"]
    agent = await token(client, "Alice Smith", "agent")
    text = ("The **payment provider** rotated its keys.\n\n- cart.js read `cart.id`\n"
            "- <script>alert(1)</script> [bad](javascript:alert(1))")
    response = await client.put(sections_url(incident, "root_cause"), headers=agent,
                                json={"body": text, "version": 0})
    assert response.status_code == 200, response.text
    edited = response.json()
    assert (edited["version"], edited["edited"], edited["edited_by"]) == (1, True, "Alice Smith")
    assert edited["body"] == text and edited["generated"].startswith("_To fill: what failed")

    md = await markdown(client, incident)
    root = md.split("## Root cause\n")[1].split("## Evidence")[0]
    assert root.startswith("\nThe **payment provider** rotated its keys.")
    assert re.search(r"_Edited by Alice Smith on \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\._", root)
    assert "_To fill: what failed" not in md
    assert re.findall(r"^## (.+)$", md, flags=re.MULTILINE)[3] == "Root cause"

    html = (await client.get(f"/api/v1/incidents/{incident}/postmortem",
                             params={"format": "html"})).text
    document = parse_html(html)  # still well-formed
    [section] = [s for s in document.iter("section") if s.get("id") == "root-cause"]
    assert section.get("class") == "edited"
    assert section.find("h2").text == "Root cause"
    assert section.find("p/strong").text == "payment provider"
    assert [li.findtext("code") for li in section.iter("li")] == ["cart.id", None]
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "javascript:" not in "".join(a.get("href", "") for a in document.iter("a"))
    assert "Edited by Alice Smith" in "".join(section.itertext())
    # the other sections are still the generated ones, the chart included
    assert [h.text for h in document.iter("h2")][1] == "Impact"
    assert len(list(document.iter("{http://www.w3.org/2000/svg}svg"))) == 1

    listed = await sections(client, incident)
    assert listed["root_cause"]["edited"] and listed["root_cause"]["version"] == 1
    assert not listed["summary"]["edited"]


async def test_a_stale_version_is_a_conflict_and_unknown_names_404(
        client: AsyncTestClient[Any], seeded: dict[str, Any]) -> None:  # noqa: F811
    incident = seeded["incident"]
    first = await client.put(sections_url(incident, "summary"),
                             json={"body": "One.", "version": 0})
    assert first.status_code == 200 and first.json()["version"] == 1
    stale = await client.put(sections_url(incident, "summary"),
                             json={"body": "Two.", "version": 0})
    assert stale.status_code == 409
    assert stale.headers["content-type"].startswith("application/problem+json")
    assert stale.json()["current_version"] == 1 and "version 1" in stale.json()["detail"]
    assert (await sections(client, incident))["summary"]["body"] == "One."
    second = await client.put(sections_url(incident, "summary"),
                              json={"body": "Two.", "version": 1})
    assert second.status_code == 200 and second.json()["version"] == 2

    missing = await client.put(sections_url(incident, "lessons"),
                               json={"body": "x", "version": 0})
    assert missing.status_code == 404 and "lessons" in missing.json()["detail"]
    assert (await client.delete(sections_url(incident, "lessons"))).status_code == 404
    no_incident = await client.put(sections_url("inc_nope", "summary"),
                                   json={"body": "x", "version": 0})
    assert no_incident.status_code == 404
    bad = await client.put(sections_url(incident, "summary"), json={"body": "x"})
    assert bad.status_code == 400
    negative = await client.put(sections_url(incident, "summary"),
                                json={"body": "x", "version": -1})
    assert negative.status_code == 400
    assert (await sections(client, incident))["summary"]["version"] == 2


async def test_viewers_read_but_cannot_edit(client: AsyncTestClient[Any],
                                            seeded: dict[str, Any]) -> None:  # noqa: F811
    incident = seeded["incident"]
    viewer = await token(client, "reader", "viewer")
    assert (await client.get(sections_url(incident), headers=viewer)).status_code == 200
    refused = await client.put(sections_url(incident, "summary"), headers=viewer,
                               json={"body": "x", "version": 0})
    assert refused.status_code == 403
    assert (await client.delete(sections_url(incident, "summary"),
                                headers=viewer)).status_code == 403
    comment = await client.post(f"/api/v1/incidents/{incident}/comments", headers=viewer,
                                json={"body": "hi"})
    assert comment.status_code == 403
    anonymous = await client.put(sections_url(incident, "summary"),
                                 headers={"Authorization": ""},
                                 json={"body": "x", "version": 0})
    assert anonymous.status_code == 401
    assert (await sections(client, incident))["summary"]["version"] == 0


async def test_edits_survive_regeneration_and_reset_brings_the_figures_back(
        client: AsyncTestClient[Any], seeded: dict[str, Any]) -> None:  # noqa: F811
    incident = seeded["incident"]
    await client.put(sections_url(incident, "summary"),
                     json={"body": "Checkout failed for card payments.", "version": 0})
    before = await markdown(client, incident)
    assert "| Errors | 5 |" in before
    # a session recorded later shows one more error in the window: the figures refresh
    await more_errors(client, seeded)
    after = await markdown(client, incident)
    assert "| Errors | 6 |" in after and "| Affected sessions | 5 |" in after
    summary = after.split("## Summary\n")[1].split("## Impact")[0]
    assert "Checkout failed for card payments." in summary
    assert "affected sessions" not in summary  # the generated sentence stays replaced

    reset = await client.delete(sections_url(incident, "summary"), params={"version": 0})
    assert reset.status_code == 409
    reset = await client.delete(sections_url(incident, "summary"), params={"version": 1})
    assert reset.status_code == 200, reset.text
    assert (reset.json()["edited"], reset.json()["version"]) == (False, 2)
    restored = await markdown(client, incident)
    assert "Checkout failed for card payments." not in restored
    assert "6 errors, 5 affected sessions and 5 affected users" in restored
    assert "Edited by" not in restored


async def more_errors(client: AsyncTestClient[Any], seeds: dict[str, Any]) -> None:
    """One more failing checkout in the Shop app (through a fresh ingest key of it)."""
    key = f"rhk_{secrets.token_urlsafe(24)}"
    async with client.hub.db.write() as tx:  # type: ignore[attr-defined]
        await tx.execute(update(App).where(App.id == seeds["shop_id"])
                         .values(ingest_key_hash=hash_secret(key)))
    await session(client, key, START + 12 * 60_000, user="ivan", url=CHECKOUT,
                  errors=[(1000, "late failure")])
    await client.hub.ingestor.close_quiet_sessions(quiet_ms=0)  # type: ignore[attr-defined]


async def test_comments_mention_people_and_a_retry_adds_nothing(
        client: AsyncTestClient[Any], seeded: dict[str, Any],  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    pushed: list[Any] = []

    async def push(_hub: Any, comment: Any) -> None:
        pushed.append(comment)

    monkeypatch.setattr("replayhub.publishing.push_incident_comment", push)
    incident = seeded["incident"]
    agent = await token(client, "Alice Smith", "agent")
    body = ("@bob@example.com and @Bob Jones: the <b>cart</b> fails; "
            "@alice knows, @nobody does not.")
    url = f"/api/v1/incidents/{incident}/comments"
    first = await client.post(url, headers={**agent, "Idempotency-Key": "k-1"},
                              json={"body": body})
    assert first.status_code == 201, first.text
    item = first.json()
    assert (item["author"], item["author_email"], item["source"]) == (
        "Alice Smith", "alice@example.com", "hub")
    assert item["mentions"] == ["bob@example.com", "bobby@example.com", "alice@example.com"]
    assert '<span class="mention">@bob@example.com</span>' in item["html"]
    assert '<span class="mention">@Bob Jones</span>' in item["html"]
    assert "@nobody" in item["html"] and "&lt;b&gt;cart&lt;/b&gt;" in item["html"]
    assert item["url"] == (f"https://hub.example.test/incidents/{incident}/postmortem"
                           f"#comment-{item['id']}")

    again = await client.post(url, headers={**agent, "Idempotency-Key": "k-1"},
                              json={"body": body})
    assert again.status_code == 200 and again.json()["id"] == item["id"]
    reused = await client.post(url, headers={**agent, "Idempotency-Key": "k-1"},
                               json={"body": "something else"})
    assert reused.status_code == 422

    thread = (await client.get(url)).json()["items"]
    assert [c["id"] for c in thread] == [item["id"]]
    mails = await deliveries(client)
    # one e-mail per person mentioned, never to the author, however often the POST came
    assert [d.idempotency_key for d in mails] == [
        f"email:mention:{item['id']}:bob@example.com",
        f"email:mention:{item['id']}:bobby@example.com"]
    assert {(d.connector, d.action) for d in mails} == {("email", "email")}
    assert len(pushed) == 2 and {c.id for c in pushed} == {item["id"]}


async def test_imported_comments_are_stored_once_and_notify_no_one(
        client: AsyncTestClient[Any], seeded: dict[str, Any],  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    pushed: list[Any] = []

    async def push(_hub: Any, comment: Any) -> None:
        pushed.append(comment)

    monkeypatch.setattr("replayhub.publishing.push_incident_comment", push)
    incident = seeded["incident"]
    hub = client.hub  # type: ignore[attr-defined]
    comments = [
        VendorComment("c-1", "Carol", START + 3_600_000, "Thanks @alice, the fix is out."),
        VendorComment("c-2", "Dan", START + 3_700_000, "Root cause confirmed."),
        VendorComment("c-3", "ReplayHub", START + 3_800_000,
                      "From the hub\nreplayhub-delivery:dlv_0123"),
    ]
    assert await import_incident_comments(hub, incident, "confluence", "page-9",
                                          comments) == 2
    assert await import_incident_comments(hub, incident, "confluence", "page-9",
                                          comments) == 0
    thread = (await client.get(f"/api/v1/incidents/{incident}/comments")).json()["items"]
    assert [(c["external_id"], c["source"], c["target_id"], c["author"]) for c in thread] == [
        ("c-1", "confluence", "page-9", "Carol"), ("c-2", "confluence", "page-9", "Dan")]
    assert thread[0]["mentions"] == ["alice@example.com"]
    assert await deliveries(client) == [] and pushed == []


def test_mentions_resolve_names_emails_and_short_names() -> None:
    found = find_mentions("@alice, @Alice Smith. @BOB@example.com @bob @bobby (@carol) "
                          "mail@alice.org @alice@elsewhere.org", PEOPLE)
    assert [(written, person.email) for written, person in found] == [
        ("@alice", "alice@example.com"), ("@Alice Smith", "alice@example.com"),
        ("@BOB@example.com", "bob@example.com"), ("@bobby", "bobby@example.com")]
    # "bob" is both Bob Stone's address and Bob Jones's first name: it names neither


def test_markdown_is_rendered_safely() -> None:
    html = str(markdown_html('<img src=x onerror="alert(1)"> [a](javascript:alert(1)) '
                             "[b](https://example.com) ![c](data:image/svg+xml;base64,AA) "
                             "[d](data:text/html;base64,AA)\n\n| a |\n|---|\n| 1 |"))
    assert "<img src=x" not in html and "&lt;img src=x" in html
    assert 'href="javascript' not in html and 'href="data:' not in html
    assert '<a href="https://example.com" rel="noopener noreferrer">b</a>' in html
    assert '<img src="data:image/svg+xml;base64,AA" alt="c" />' in html
    assert "<table>" in html


async def sign_in(client: AsyncTestClient[Any], token_value: str, path: str) -> None:
    login = await client.post("/login", data={"token": token_value, "next": path},
                              headers={"Authorization": ""}, follow_redirects=False)
    assert login.status_code == 303
    cookie = re.match(r"replayhub_session=([^;]+)", login.headers["set-cookie"])
    assert cookie
    client.cookies.set("replayhub_session", cookie.group(1))


async def test_the_page_forms_edit_keep_a_stale_text_and_comment(
        client: AsyncTestClient[Any], seeded: dict[str, Any]) -> None:  # noqa: F811
    incident = seeded["incident"]
    path = f"/incidents/{incident}/postmortem"
    value = await create_token(client.hub.db, "Alice Smith", "agent")  # type: ignore[attr-defined]
    await sign_in(client, value, path)
    browser = {"Authorization": "", "Sec-Fetch-Site": "same-origin"}
    saved = await client.post(f"{path}/sections/summary", headers=browser,
                              data={"body": "Card payments failed.", "version": "0"},
                              follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == f"{path}#section-summary"
    stale = await client.post(f"{path}/sections/summary", headers=browser,
                              data={"body": "My later text", "version": "0"})
    assert stale.status_code == 409
    assert "Someone changed this section" in stale.text
    assert ">My later text</textarea>" in stale.text  # kept, with the new version to send
    assert '<input type="hidden" name="version" value="1">' in stale.text
    cross_site = await client.post(f"{path}/sections/summary",
                                   headers={"Authorization": "", "Sec-Fetch-Site": "cross-site"},
                                   data={"body": "x", "version": "1"})
    assert cross_site.status_code == 403
    commented = await client.post(f"{path}/comments", headers=browser,
                                  data={"body": "@bob@example.com look", "key": "form-1"},
                                  follow_redirects=False)
    assert commented.status_code == 303 and "#comment-icm_" in commented.headers["location"]
    again = await client.post(f"{path}/comments", headers=browser,
                              data={"body": "@bob@example.com look", "key": "form-1"},
                              follow_redirects=False)
    assert again.headers["location"] == commented.headers["location"]
    page = await client.get(path, headers={"Authorization": ""})
    assert page.text.count('class="comment"') == 1
    assert '<span class="mention">@bob@example.com</span>' in page.text
    assert "Card payments failed." in page.text and "Reset to generated text" in page.text

    viewer = await create_token(client.hub.db, "Reader", "viewer")  # type: ignore[attr-defined]
    await sign_in(client, viewer, path)
    read_only = await client.get(path, headers={"Authorization": ""})
    assert read_only.status_code == 200 and "Card payments failed." in read_only.text
    assert 'class="nb-edit"' not in read_only.text and "comment-form" not in read_only.text
    refused = await client.post(f"{path}/sections/summary", headers=browser,
                                data={"body": "x", "version": "1"})
    assert refused.status_code == 403
