"""GET /api/v1/incidents/{id}/postmortem and the /incidents/{id}/postmortem page, on the incident
of test_impact (an error spike on the checkout page): every section, the exact figures, the
replay deep links and signed share links, well-formed HTML with the SVG chart, template
overrides, and the refusals."""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient

from replayhub.config import PostmortemSettings, Settings
from replayhub.replay.share import read_share_token
from tests.conftest import ADMIN
from tests.helpers import NO_AUTH
from tests.integration.incidents.test_impact import (  # noqa: F401 (the fixture)
    CART_ERROR,
    seeded,
)

SECTIONS = ("Summary", "Impact", "Timeline", "Root cause", "Evidence", "Stakeholders",
            "Action items", "Open questions")
HUB = "https://hub.example.test"
SVG = "{http://www.w3.org/2000/svg}"


async def markdown(client: AsyncTestClient[Any], incident: str) -> str:
    response = await client.get(f"/api/v1/incidents/{incident}/postmortem?format=markdown")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/markdown")
    return response.text


def parse_html(text: str) -> ET.Element:
    """The document as XML: the doctype dropped, everything else must be well-formed."""
    assert text.lstrip().lower().startswith("<!doctype html>")
    return ET.fromstring(re.sub(r"^\s*<!DOCTYPE html>", "", text, flags=re.IGNORECASE))


async def test_markdown_has_every_section_and_the_exact_figures(
        client: AsyncTestClient[Any], seeded: dict[str, Any]) -> None:  # noqa: F811
    text = await markdown(client, seeded["incident"])
    headings = re.findall(r"^## (.+)$", text, flags=re.MULTILINE)
    assert headings == list(SECTIONS)
    assert text.startswith("# Post-mortem: Checkout broken\n")
    assert "| Started | 2026-01-04 10:00:00 UTC |" in text
    assert "| Resolved | 2026-01-04 10:30:00 UTC |" in text
    assert "| Duration | 30:00 |" in text
    assert "| Window measured | 2026-01-04 09:45:00 UTC → 2026-01-04 10:30:00 UTC |" in text
    assert "| Errors | 5 |" in text
    assert "| Affected sessions | 4 |" in text
    assert "| Affected users | 4 |" in text
    assert "| Spiked error groups | 1 of 2 |" in text
    assert re.search(rf"\| \[TypeError: {CART_ERROR}\]\(https://hub\.example\.test/api/v1/"
                     r"sessions\?error=\w+&[^)]*\) \| 4 \| 0\.29 \| 14\.0 \| yes \| 3 \| 3 \|",
                     text)
    assert "| 1 | 1.0 | 1.0 | no | 1 | 1 |" in text  # the quiet error
    assert "5 errors, 4 affected sessions and 4 affected users" in text
    assert '"cart is undefined" (4 occurrences, 14.0 times its baseline)' in text
    assert "![Errors and affected users over time (per 1 min)](data:image/svg+xml;base64," \
        in text

    # the timeline: incident events merged with what the sessions show, in order
    timeline = text.split("## Timeline")[1].split("## Root cause")[0]
    rows = re.findall(r"^\| (2026-\S+ \S+) UTC \| (.+) \|$", timeline, flags=re.MULTILINE)
    assert rows == [
        ("2026-01-04 09:55:04", f"First error in scope: TypeError: {CART_ERROR}"),
        ("2026-01-04 09:55:04",
         f"[First affected session (bob@example.com)]({HUB}/replays/{seeded['bob']})"),
        ("2026-01-04 10:00:00", "Incident triggered (manual)"),
        ("2026-01-04 10:02:00", "Error peak: 2 errors in the 1 minute from here"),
        ("2026-01-04 10:20:01",
         f"[Last affected session (carol@example.com)]({HUB}/replays/{seeded['carol']})"),
        ("2026-01-04 10:30:00", "Incident resolved (manual)"),
    ]
    assert "_To fill: what failed" in text
    assert "_To fill: incident commander" in text
    assert "| _To fill_ |  |  |  |" in text
    assert f'- Why did "{CART_ERROR}" spike (4 in the window against a daily baseline of ' \
        "0.29)?" in text


async def test_evidence_links_open_the_failing_moment(
        client: AsyncTestClient[Any], seeded: dict[str, Any]) -> None:  # noqa: F811
    text = await markdown(client, seeded["incident"])
    evidence = text.split("## Evidence")[1].split("## Stakeholders")[0]
    replays = re.findall(rf"Replay at (\S+): {HUB}/replays/([\w-]+)\?t=(\d+)", evidence)
    assert replays == [("0:01", seeded["alice"], "1000"), ("0:04", seeded["bob"], "4000"),
                       ("0:01", seeded["carol"], "1500"), ("0:05", seeded["dave"], "5000")]
    snapshots = re.findall(rf"\]\({HUB}/api/v1/sessions/([\w-]+)/snapshot\.png\?t=(\d+)\)",
                           evidence)
    assert snapshots == [(sid, t) for _, sid, t in replays]
    tokens = re.findall(rf"Share link: {HUB}/share/(\S+)", evidence)
    assert len(tokens) == 4
    key = client.hub.secret_key  # type: ignore[attr-defined]
    shares = [read_share_token(key, token) for token in tokens]
    assert [(s.session_id, str(s.t)) for s in shares] == [(sid, t) for _, sid, t in replays]
    assert all(29 * 86_400 < s.expires_at - time.time() <= 30 * 86_400 for s in shares)
    # a share link opens the replay without an account
    opened = await client.get(f"/share/{tokens[0]}", headers=NO_AUTH)
    assert opened.status_code == 200


async def test_html_is_well_formed_with_the_svg_chart(
        client: AsyncTestClient[Any], seeded: dict[str, Any]) -> None:  # noqa: F811
    response = await client.get(f"/api/v1/incidents/{seeded['incident']}/postmortem",
                                params={"format": "html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    root = parse_html(response.text)
    assert [h.text for h in root.iter("h2")] == list(SECTIONS)
    [svg] = root.iter(f"{SVG}svg")
    assert svg.find(f"{SVG}title").text == "Errors and affected users over time"
    bars = [rect for rect in svg.iter(f"{SVG}rect") if rect.get("class") == "errors"]
    assert [bar.find(f"{SVG}title").text for bar in bars] == [
        "2026-01-04T09:55:00.000Z: 1 error", "2026-01-04T10:02:00.000Z: 2 errors",
        "2026-01-04T10:20:00.000Z: 2 errors"]
    assert svg.find(f"{SVG}polyline").get("class") == "users"
    assert not list(svg.iter(f"{SVG}script"))
    cells = {row.find("th").text: "".join(row.find("td").itertext())
             for row in root.iter("tr") if row.find("th") is not None
             and row.find("td") is not None}
    assert (cells["Errors"], cells["Affected sessions"], cells["Affected users"]) == (
        "5", "4", "4")
    links = [a.get("href") for a in root.iter("a")]
    assert f"{HUB}/replays/{seeded['alice']}?t=1000" in links
    assert sum(1 for link in links if link.startswith(f"{HUB}/share/")) == 4
    images = [img.get("src") for img in root.iter("img")]
    assert images[0] == f"{HUB}/api/v1/sessions/{seeded['alice']}/snapshot.png?t=1000"


async def test_a_team_template_directory_wins(client: AsyncTestClient[Any], settings: Settings,
                                              seeded: dict[str, Any],  # noqa: F811
                                              tmp_path: Path) -> None:
    folder = tmp_path / "our-templates"
    folder.mkdir()
    (folder / "postmortem.md.j2").write_text(
        '{% extends "builtin/postmortem.md.j2" %}\n'
        "{% block root_cause %}\n## Root cause\n\nOur five whys for {{ incident.id }}: "
        "{{ pm.impact.affected_users }} users.\n{% endblock %}\n")
    (folder / "postmortem.html.j2").write_text(
        "<article><h1>ACME review of {{ incident.title }}</h1></article>\n")
    settings.postmortem = PostmortemSettings(template_dir=str(folder))
    text = await markdown(client, seeded["incident"])
    assert f"Our five whys for {seeded['incident']}: 4 users." in text
    assert "_To fill: what failed" not in text
    assert "## Evidence" in text  # the rest is the built-in template's
    html = (await client.get(f"/api/v1/incidents/{seeded['incident']}/postmortem",
                             params={"format": "html"})).text
    root = parse_html(html)
    assert [h.text for h in root.iter("h1")] == ["ACME review of Checkout broken"]


async def test_unknown_incident_and_bad_format(client: AsyncTestClient[Any],
                                               seeded: dict[str, Any]) -> None:  # noqa: F811
    missing = await client.get("/api/v1/incidents/inc_nope/postmortem")
    assert missing.status_code == 404
    bad = await client.get(f"/api/v1/incidents/{seeded['incident']}/postmortem?format=pdf")
    assert bad.status_code == 400 and "markdown" in bad.text
    unauthenticated = await client.get(
        f"/api/v1/incidents/{seeded['incident']}/postmortem", headers=NO_AUTH)
    assert unauthenticated.status_code == 401


async def test_notebook_page_needs_login_and_renders(
        client: AsyncTestClient[Any], seeded: dict[str, Any]) -> None:  # noqa: F811
    path = f"/incidents/{seeded['incident']}/postmortem"
    anonymous = await client.get(path, headers=NO_AUTH, follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/login?next=")
    login = await client.post("/login", data={"token": ADMIN, "next": path}, headers=NO_AUTH,
                              follow_redirects=False)
    assert login.status_code == 303 and login.headers["location"] == path
    # the hub's public URL is https, so the cookie is Secure: hand it over the test's http
    cookie = re.match(r"replayhub_session=([^;]+)", login.headers["set-cookie"])
    assert cookie and "secure" in login.headers["set-cookie"].lower()
    client.cookies.set("replayhub_session", cookie.group(1))
    page = await client.get(path, headers=NO_AUTH)
    assert page.status_code == 200
    assert "Content-Security-Policy" in page.headers
    assert "<h1>Post-mortem: Checkout broken</h1>" in page.text
    assert 'href="/static/ui/app.css"' in page.text  # inside the site layout
    assert "<svg" in page.text and "Root cause" in page.text
    link = re.search(r'<a class="download" href="([^"]+)"[^>]*>Download Markdown</a>',
                     page.text)
    assert link and link.group(1) == (
        f"/api/v1/incidents/{seeded['incident']}/postmortem?format=markdown")
    download = await client.get(link.group(1), headers=NO_AUTH)  # the login cookie suffices
    assert download.status_code == 200 and download.text.startswith("# Post-mortem:")
    assert (await client.get("/incidents/inc_nope/postmortem", headers=NO_AUTH)
            ).status_code == 404
