"""Smoke tests for the built recorder snippet (and the bundled player) in Chromium.

No hub is involved: pages are served by a local http.server and the POSTs to
/api/v1/ingest are intercepted with page.route.  Skipped when playwright,
Chromium or the built assets (`npm run build`) are not available.
"""

from __future__ import annotations

import json
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.browser.conftest import unavailable

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "src" / "replayhub" / "web" / "static"
RECORDINGS = ROOT / "tests" / "fixtures" / "recordings"
SECRET = "hunter2-Secret!"

FORM_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Smoke</title><link rel="icon" href="data:,">
<script src="/sdk/replayhub.js"></script>
<script>
  ReplayHub.init({key: "smoke-key", flushInterval: 60000});
  ReplayHub.identify({id: "u1", email: "smoke@example.com", name: "Smoke Test"});
</script></head>
<body>
<input id="secret" type="text">
<button id="go" type="button"
  onclick="document.getElementById('out').textContent = 'done'">Go</button>
<p id="out"></p>
</body></html>
"""

PLAYER_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Player</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="/player/style.css">
<script src="/player/rrweb-player.js"></script>
</head><body><div id="player"></div></body></html>
"""

@pytest.fixture(scope="module", autouse=True)
def built_assets() -> None:
    for bundle in (STATIC / "sdk" / "replayhub.js", STATIC / "player" / "rrweb-player.js"):
        if not bundle.exists():
            unavailable(f"{bundle.name} is not built (run `npm run build`)")


class _Handler(SimpleHTTPRequestHandler):
    pages = {"/form.html": FORM_PAGE, "/player.html": PLAYER_PAGE}

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path in self.pages:
            data = self.pages[path].encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        super().do_GET()

    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def base_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(STATIC)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser(chromium):
    return chromium


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(exc))
    yield page
    context.close()


class Hub:
    """Stands in for the ingest endpoint: records bodies, can be switched off."""

    def __init__(self, page):
        self.bodies: list[dict] = []
        self.attempts = 0
        self.up = True
        page.route("**/api/v1/ingest**", self._handle)

    def _handle(self, route):
        self.attempts += 1
        if not self.up:
            route.abort("connectionrefused")
            return
        self.bodies.append(json.loads(route.request.post_data))
        route.fulfill(status=202, content_type="application/json", body="{}")

    def events(self):
        return [e for b in self.bodies for e in b["events"]]


def test_records_page_and_masks_inputs(page, base_url):
    hub = Hub(page)
    page.goto(f"{base_url}/form.html")
    page.click("#secret")
    page.keyboard.type(SECRET)
    page.click("#go")
    page.wait_for_timeout(300)
    page.evaluate("() => ReplayHub.flush()")

    assert hub.bodies, "nothing was posted"
    first = hub.bodies[0]
    assert set(first) == {"app_key", "session_id", "seq", "user", "metadata", "events"}
    assert first["app_key"] == "smoke-key"
    assert first["user"] == {"id": "u1", "email": "smoke@example.com", "name": "Smoke Test"}
    assert first["metadata"]["sdk"] == "replayhub-js/0.1"
    assert first["metadata"]["url"].endswith("/form.html")
    assert [b["seq"] for b in hub.bodies] == list(range(len(hub.bodies)))

    events = hub.events()
    types = {e["type"] for e in events}
    assert {2, 3, 4, 5} <= types  # FullSnapshot, IncrementalSnapshot, Meta, Custom
    clicks = [
        e for e in events if e["type"] == 3 and e["data"]["source"] == 2 and e["data"]["type"] == 2
    ]
    assert len(clicks) == 2  # the input and the button
    inputs = [e["data"]["text"] for e in events if e["type"] == 3 and e["data"]["source"] == 5]
    assert inputs and inputs[-1] == "*" * len(SECRET)
    assert SECRET not in json.dumps(hub.bodies)
    assert {"tag": "identify", "payload": first["user"]} in [
        e["data"] for e in events if e["type"] == 5
    ]
    assert page.evaluate("() => ReplayHub.sessionId()") == first["session_id"]
    assert page.errors == []


def test_session_and_seq_survive_reload(page, base_url):
    hub = Hub(page)
    page.goto(f"{base_url}/form.html")
    page.evaluate("() => ReplayHub.flush()")
    before = list(hub.bodies)
    page.reload()
    page.click("#go")
    page.evaluate("() => ReplayHub.flush()")
    after = hub.bodies[len(before) :]

    assert before and after
    assert {b["session_id"] for b in hub.bodies} == {before[0]["session_id"]}
    seqs = [b["seq"] for b in hub.bodies]
    assert len(seqs) == len(set(seqs))
    assert after[0]["seq"] > before[-1]["seq"]
    # the reloaded page starts with a fresh Meta + FullSnapshot
    assert {4, 2} <= {e["type"] for e in after[0]["events"]}


def test_unreachable_hub_never_breaks_the_page(page, base_url):
    hub = Hub(page)
    hub.up = False
    page.goto(f"{base_url}/form.html")
    page.click("#go")
    page.evaluate("() => ReplayHub.flush()")  # must resolve, not throw
    assert page.text_content("#out") == "done"
    assert hub.attempts >= 1 and hub.bodies == []
    assert page.errors == []

    hub.up = True
    page.click("#secret")
    page.evaluate("() => ReplayHub.flush()")
    assert [b["seq"] for b in hub.bodies] == list(range(len(hub.bodies)))
    assert len(hub.bodies) >= 2  # the batch kept while the hub was down, then the new one
    assert hub.bodies[0]["events"][0]["type"] in (0, 1, 4)


def test_network_errors_and_navigation_are_recorded(page, base_url):
    hub = Hub(page)
    page.route("**/api/broken", lambda route: route.fulfill(status=500, body="boom"))
    page.goto(f"{base_url}/form.html")
    page.evaluate(
        """async () => {
            await fetch('/api/broken').catch(() => {});
            await new Promise((done) => {
                const xhr = new XMLHttpRequest();
                xhr.open('POST', '/api/broken');
                xhr.onloadend = done;
                xhr.send('x');
            });
            history.pushState({}, '', '/form/step-2');
            setTimeout(() => Promise.reject(new Error('nobody caught me')), 0);
        }"""
    )
    page.wait_for_timeout(200)
    page.evaluate("() => ReplayHub.flush()")
    custom = [e["data"] for e in hub.events() if e["type"] == 5]
    net = [c["payload"] for c in custom if c["tag"] == "network-error"]
    assert [(n["method"], n["status"]) for n in net] == [("GET", 500), ("POST", 500)]
    assert all(n["url"].endswith("/api/broken") and n["url"].startswith("http") for n in net)
    nav = [c["payload"] for c in custom if c["tag"] == "navigation"]
    assert nav and nav[0]["href"].endswith("/form/step-2")
    errors = [c["payload"] for c in custom if c["tag"] == "error"]
    assert (
        errors
        and errors[0]["type"] == "UnhandledRejection"
        and errors[0]["message"] == "nobody caught me"
    )


def test_player_bundle_replays_a_fixture(page, base_url):
    recording = json.loads((RECORDINGS / "checkout.json").read_text())
    events = [e for b in recording["batches"] for e in b["events"]]
    page.goto(f"{base_url}/player.html")
    assert page.evaluate("() => typeof window.rrwebPlayer.Player") == "function"
    page.evaluate(
        """(events) => {
            window.player = new rrwebPlayer.Player({
                target: document.getElementById('player'),
                props: { events, autoPlay: false, width: 640, height: 360 },
            });
        }""",
        events,
    )
    page.wait_for_selector(".rr-player iframe")
    meta = page.evaluate("() => window.player.getMetaData()")
    assert meta["totalTime"] > 1000
    assert page.errors == []
