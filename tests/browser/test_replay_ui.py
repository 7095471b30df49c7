"""A recorded checkout replayed in the player, the web UI and share links, in real Chromium."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from replayhub.ingest.store import decompress
from tests.browser.hub_server import RunningHub
from tests.conftest import ADMIN, recording
from tests.helpers import renamed

pytestmark = pytest.mark.browser

CARD = "4242 4242 4242 4242"
CARD_FORMS = (CARD.encode(), CARD.replace(" ", "").encode())
SHOPPER = {"id": "u-grace", "email": "grace@example.com", "name": "Grace Hopper"}
SHOP_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Checkout</title><link rel="icon" href="data:,">
<style>.error { color: #b00020; } input { display: block; margin: 8px 0; }</style>
<script src="HUB/sdk/replayhub.js"></script>
<script>
  ReplayHub.init({ key: "KEY", flushInterval: 400 });
  ReplayHub.identify({ id: "u-grace", email: "grace@example.com", name: "Grace Hopper" });
</script></head>
<body>
<h1>Checkout</h1>
<img id="logo" src="/logo.png" alt="Shop logo" width="48" height="48">
<form id="checkout">
  <label for="full-name">Full name</label><input id="full-name">
  <label for="card-number">Card number</label><input id="card-number" autocomplete="cc-number">
  <button id="coupon" type="button">Apply coupon</button>
  <button id="pay" type="button">Pay</button>
</form>
<p id="form-error" class="error" hidden></p>
<div id="confirmation" hidden>Thank you for your order!</div>
<script>
  document.getElementById("pay").addEventListener("click", function () {
    var error = document.getElementById("form-error");
    error.textContent = "Payment failed, please try again.";
    error.hidden = false;
    setTimeout(function () { throw new TypeError("payment provider unavailable"); }, 0);
  });
</script>
</body></html>
"""


class ShopHandler(BaseHTTPRequestHandler):
    page = b""
    requests: list[str] = []

    def do_GET(self) -> None:
        type(self).requests.append(self.path)
        body, kind = (self.page, "text/html") if self.path.startswith("/checkout") else (
            b"GIF89a", "image/gif")
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture(scope="module")
def ingest_key(live_hub: RunningHub) -> str:
    with live_hub.api() as api:
        response = api.post("/api/v1/apps", json={"name": "Shop"})
        assert response.status_code == 201, response.text
        return str(response.json()["ingest_key"])


@pytest.fixture(scope="module")
def shop_server(live_hub: RunningHub, ingest_key: str) -> Iterator[ThreadingHTTPServer]:
    """The recorded site, on its own origin; `.RequestHandlerClass.requests` logs its hits."""
    handler = type("Shop", (ShopHandler,), {
        "page": SHOP_PAGE.replace("HUB", live_hub.base_url).replace("KEY", ingest_key).encode(),
        "requests": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


@pytest.fixture(scope="module")
def shop(shop_server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{shop_server.server_address[1]}"


@pytest.fixture(scope="module")
def recorded(chromium: Any, live_hub: RunningHub, shop: str) -> dict[str, Any]:
    """A scripted shopper types a card number, rage-clicks, pays and hits an error."""
    context = chromium.new_context(viewport={"width": 1000, "height": 700})
    page = context.new_page()
    page.goto(f"{shop}/checkout")
    page.wait_for_function("() => window.ReplayHub && ReplayHub.sessionId()")
    page.click("#full-name")
    page.keyboard.type("Grace Hopper", delay=10)
    page.click("#card-number")
    page.keyboard.type(CARD, delay=10)
    for _ in range(5):
        page.click("#coupon", delay=5)
    page.wait_for_timeout(300)
    page.click("#pay")
    page.wait_for_selector("#form-error:not([hidden])")
    page.wait_for_timeout(300)
    session_id = page.evaluate("() => ReplayHub.sessionId()")
    page.evaluate("() => ReplayHub.flush()")
    context.close()
    live_hub.close_sessions()
    with live_hub.api() as api:
        detail = api.get(f"/api/v1/sessions/{session_id}")
        assert detail.status_code == 200, detail.text
        return detail.json()


def login(page: Any, hub: RunningHub, token: str = ADMIN) -> None:
    page.goto(f"{hub.base_url}/login")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{hub.base_url}/")


def replayed(page: Any, selector: str, script: str) -> Any:
    """Evaluate `script` (with `el`) on an element of the replayed DOM inside the player."""
    return page.evaluate(
        "([selector, script]) => { const doc = document.querySelector("
        "'.replayer-wrapper iframe').contentDocument; const el = doc.querySelector(selector);"
        " return el === null ? null : new Function('el', script)(el); }", [selector, script])


def test_the_hub_indexes_the_recorded_session(recorded: dict[str, Any]) -> None:
    kinds = {entry["kind"] for entry in recorded["timeline"]}
    assert {"page", "click", "input", "error", "rage_click"} <= kinds
    assert recorded["user"] == SHOPPER
    error = next(e for e in recorded["timeline"] if e["kind"] == "error")
    assert error["message"] == "payment provider unavailable"
    assert "Chrome" in recorded["browser"]


def test_player_seeks_to_the_error_and_shows_the_form_as_left(
        chromium: Any, live_hub: RunningHub, recorded: dict[str, Any],
        shop_server: ThreadingHTTPServer, artifacts: Path) -> None:
    error_t = next(e["t"] for e in recorded["timeline"] if e["kind"] == "error")
    context = chromium.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    shop_hits: list[str] = shop_server.RequestHandlerClass.requests  # type: ignore[attr-defined]
    hits_before = len(shop_hits)
    login(page, live_hub)
    response = page.goto(f"{live_hub.base_url}/replays/{recorded['id']}?t={error_t + 20}")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_selector("body[data-loaded=true]", timeout=20_000)
    assert replayed(page, "#card-number", "return el.value") == "*" * len(CARD)
    assert replayed(page, "#full-name", "return el.value") == "*" * len("Grace Hopper")
    assert replayed(page, "#form-error", "return el.hidden") is False
    assert replayed(page, "#confirmation", "return el.hidden") is True
    page.screenshot(path=str(artifacts / "replay-at-error.png"))

    # the side panel, the markers and seeking from them
    panel = page.locator("aside.panel")
    assert "grace@example.com" in panel.inner_text()
    assert "payment provider unavailable" in panel.inner_text()
    markers = page.locator("#markers .marker")
    assert markers.count() >= 3
    assert page.locator("#markers .marker.kind-error").count() == 1
    page.locator("#timeline .kind-rage_click .seek").first.click()
    assert replayed(page, "#form-error", "return el.hidden") is True
    assert replayed(page, "#card-number", "return el.value") == "*" * len(CARD)
    page.locator("#markers .marker.kind-error").click()
    assert int(page.evaluate("() => document.body.dataset.position")) == error_t
    # nothing was fetched from the recorded site (its logo is blocked by the CSP)
    page.wait_for_timeout(200)
    assert shop_hits[hits_before:] == []
    assert problems == []
    context.close()


def test_copy_link_and_views_on_the_player_page(
        chromium: Any, live_hub: RunningHub, recorded: dict[str, Any]) -> None:
    context = chromium.new_context()
    page = context.new_page()
    login(page, live_hub)
    page.goto(f"{live_hub.base_url}/replays/{recorded['id']}?t=1500")
    page.wait_for_selector("body[data-loaded=true]")
    page.get_by_role("button", name="Copy link to this moment").click()
    link = page.locator("#link-out").input_value()
    assert link.startswith(f"{live_hub.base_url}/replays/{recorded['id']}?t=")
    assert abs(int(link.rsplit("=", 1)[1]) - 1500) < 1000
    assert "bootstrap admin" in page.locator("#views").inner_text()
    context.close()


def ingest_more(hub: RunningHub, key: str) -> None:
    """Three more sessions from other users (two of them by ada)."""
    users = [("ada@example.com", "u-ada"), ("ada@example.com", "u-ada"),
             ("linus@example.com", "u-linus")]
    with hub.api() as api:
        for index, (email, user_id) in enumerate(users):
            for batch in renamed(recording("checkout"), shift_ms=index * 60_000):
                batch["user"] = {"id": user_id, "email": email}
                response = api.post(f"/api/v1/ingest?key={key}", json=batch,
                                    headers={"Authorization": ""})
                assert response.status_code == 202, response.text
    hub.close_sessions()


def test_login_filters_and_pagination(chromium: Any, live_hub: RunningHub, ingest_key: str,
                                      recorded: dict[str, Any]) -> None:
    ingest_more(live_hub, ingest_key)
    context = chromium.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.goto(f"{live_hub.base_url}/errors")
    assert "/login" in page.url
    page.get_by_label("API token").fill("rh_not_a_token")
    page.get_by_role("button", name="Sign in").click()
    assert "unknown or revoked" in page.get_by_role("alert").inner_text()
    page.get_by_label("API token").fill(ADMIN)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_hub.base_url}/errors")
    assert "payment provider unavailable" in page.inner_text("main")
    assert "1 session" in page.inner_text("main")
    page.get_by_role("link", name="Sessions with this error").first.click()
    assert page.locator("table.sessions tbody tr").count() == 1

    page.goto(f"{live_hub.base_url}/?limit=2")
    assert page.locator("table.sessions tbody tr").count() == 2
    page.get_by_role("link", name="Next page").click()
    assert page.locator("table.sessions tbody tr").count() == 2
    assert page.locator("#next-page").count() == 0

    page.goto(f"{live_hub.base_url}/")
    page.get_by_label("User email").fill("ada@example.com")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("table.sessions tbody tr")
    assert rows.count() == 2
    assert "ada@example.com" in rows.first.inner_text()
    page.get_by_label("Frustration").select_option("rage_click")
    page.get_by_label("User email").fill("")
    page.get_by_role("button", name="Filter").click()
    assert page.locator("table.sessions tbody tr").count() == 1
    page.locator("table.sessions a.replay-link").first.click()
    page.wait_for_url(f"**/replays/{recorded['id']}")

    page.get_by_role("button", name="Sign out").click()
    page.goto(f"{live_hub.base_url}/")
    assert "/login" in page.url
    context.close()


def test_share_link_opens_one_session_without_login(
        chromium: Any, live_hub: RunningHub, recorded: dict[str, Any]) -> None:
    with live_hub.api() as api:
        other = next(item["id"] for item in api.get("/api/v1/sessions").json()["items"]
                     if item["id"] != recorded["id"])
    context = chromium.new_context()
    page = context.new_page()
    login(page, live_hub)
    page.goto(f"{live_hub.base_url}/replays/{recorded['id']}?t=1000")
    page.wait_for_selector("body[data-loaded=true]")
    page.get_by_role("button", name="Share").click()
    page.wait_for_function("() => document.getElementById('link-out').value.includes('/share/')")
    link = page.locator("#link-out").input_value()
    context.close()

    stranger = chromium.new_context()
    page = stranger.new_page()
    page.goto(link)
    page.wait_for_selector("body[data-loaded=true]")
    assert replayed(page, "#card-number", "return el.value") is not None
    assert page.locator("#copy-moment").count() == 0
    token = link.rsplit("/", 1)[1]
    statuses = page.evaluate(
        """async ([other, token]) => {
            const api = await fetch(`/api/v1/sessions/${other}/events`);
            const detail = await fetch(`/api/v1/sessions/${other}`);
            const pageOfOther = await fetch(`/replays/${other}`);
            const mine = await fetch(`/share/${token}/events`);
            return [api.status, detail.status, pageOfOther.url, (await mine.json()).length];
        }""", [other, token])
    assert statuses[0] == 401 and statuses[1] == 401
    assert "/login" in statuses[2]
    assert statuses[3] > 0
    forged = page.goto(f"{live_hub.base_url}/share/{token[:-2]}xx")
    assert forged.status == 403
    assert "not valid" in page.inner_text("h1")
    stranger.close()
    with live_hub.api() as api:
        views = api.get(f"/api/v1/sessions/{recorded['id']}/views").json()["items"]
    assert {"share link", "bootstrap admin"} <= {view["viewer"] for view in views}


def test_the_card_number_is_never_stored_or_served(
        live_hub: RunningHub, recorded: dict[str, Any]) -> None:
    data_dir = Path(live_hub.settings.data_dir)
    for path in data_dir.rglob("*"):
        if not path.is_file():
            continue
        content = path.read_bytes()
        if path.name.endswith(".gz"):
            content = decompress(content)
        for form in CARD_FORMS:
            assert form not in content, f"{form!r} found in {path}"
    with live_hub.api() as api:
        served = [api.get(f"/api/v1/sessions/{recorded['id']}/events").content,
                  api.get(f"/api/v1/sessions/{recorded['id']}").content,
                  api.get("/api/v1/sessions").content]
        session = api.get(f"/api/v1/sessions/{recorded['id']}/events").json()
    assert len(session) > 20
    for body in served:
        for form in CARD_FORMS:
            assert form not in body
