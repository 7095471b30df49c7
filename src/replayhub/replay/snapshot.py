"""SnapshotRenderer: headless Chromium, kept warm, replays events up to a moment into a PNG."""

from __future__ import annotations

import asyncio
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from replayhub.config import SnapshotSettings

log = structlog.get_logger(__name__)

HERE = Path(__file__).resolve().parent
RENDER_PAGE = HERE / "render.html"
RRWEB_BUNDLE = HERE.parent / "web" / "static" / "render" / "rrweb.js"
ORIGIN = "https://render.replayhub.invalid"
RENDER_URL = f"{ORIGIN}/render.html"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio"]
INSTALL_HINT = ("install it with `apt-get install chromium`, or set `[snapshots] chromium_path` "
                "to a Chromium executable")


class SnapshotUnavailable(Exception):
    """Snapshots cannot be rendered on this machine; the message says how to fix it."""


class SnapshotTimeout(Exception):
    """A render took longer than `[snapshots] render_timeout_seconds`."""


def chromium_path(settings: SnapshotSettings) -> str:
    """The configured Chromium, else `chromium` on PATH, else Debian's /usr/bin/chromium."""
    return settings.chromium_path or shutil.which("chromium") or "/usr/bin/chromium"


def check_chromium(settings: SnapshotSettings) -> str:
    """The Chromium path if it exists and Playwright is importable; else SnapshotUnavailable."""
    path = chromium_path(settings)
    if not Path(path).is_file():
        raise SnapshotUnavailable(f"Chromium was not found at {path}: {INSTALL_HINT}")
    try:
        import playwright.async_api  # noqa: F401
    except ImportError as error:
        raise SnapshotUnavailable(f"the playwright package is missing ({error}): run "
                                  "`pip install playwright` (it uses this Chromium)") from error
    return path


def render_assets() -> dict[str, tuple[str, bytes]]:
    """The render page and rrweb, served from memory: URL → (content type, body)."""
    if not RRWEB_BUNDLE.is_file():
        raise SnapshotUnavailable("the rrweb bundle is not built: run `npm ci && npm run build` "
                                  "(or `make js`) in the repository")
    return {RENDER_URL: ("text/html; charset=utf-8", RENDER_PAGE.read_bytes()),
            f"{ORIGIN}/rrweb.js": ("text/javascript", RRWEB_BUNDLE.read_bytes())}


@dataclass
class Slot:
    """One warm page (in its own browser context) and how many renders it has done."""

    context: Any
    page: Any = None
    renders: int = 0
    blocked: int = 0


class SnapshotRenderer:
    """Renders moments of replays; concurrency bounded by `pool_size` warm pages."""

    def __init__(self, settings: SnapshotSettings) -> None:
        self.settings = settings
        self.renders = 0
        """PNGs rendered by Chromium (cache hits never get here)."""
        self.blocked = 0
        """Requests the render pages tried and were refused (anything outside the page)."""
        self.cold_start_seconds: float | None = None
        self._gate = asyncio.Semaphore(max(1, settings.pool_size))
        self._launching = asyncio.Lock()
        self._idle: list[Slot] = []
        self._playwright: Any = None
        self._browser: Any = None
        self._assets: dict[str, tuple[str, bytes]] = {}

    async def render(self, events_json: str, at: int, width: int) -> bytes:
        """PNG of the replay at epoch ms `at`, `width` pixels wide."""
        async with self._gate:
            slot = await self._take()
            try:
                async with asyncio.timeout(self.settings.render_timeout_seconds):
                    png = await self._render_on(slot, events_json, at, width)
            except TimeoutError:
                await self._close_slot(slot)
                raise SnapshotTimeout(f"the render took over "
                                      f"{self.settings.render_timeout_seconds} s") from None
            except BaseException:
                await self._close_slot(slot)
                raise
            await self._give_back(slot)
            return png

    async def _render_on(self, slot: Slot, events_json: str, at: int, width: int) -> bytes:
        page, blocked_before, started = slot.page, slot.blocked, time.perf_counter()
        size = await page.evaluate("([events, at, width]) => window.replayAt(events, at, width)",
                                   [events_json, at, width])
        height = max(1, round(size["height"] * width / size["width"]))
        await page.set_viewport_size({"width": width, "height": height})
        await page.evaluate("() => window.settle()")
        png: bytes = await page.screenshot(type="png", animations="disabled")
        slot.renders += 1
        self.renders += 1
        log.info("snapshots.rendered", width=width, bytes=len(png),
                 blocked=slot.blocked - blocked_before,
                 ms=round((time.perf_counter() - started) * 1000))
        return png

    async def start(self) -> None:
        """Launch Chromium now (it is launched on first use otherwise)."""
        await self._ensure_browser()

    async def _ensure_browser(self) -> Any:
        async with self._launching:
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            await self._drop_browser()
            path = check_chromium(self.settings)
            self._assets = render_assets()
            started = time.perf_counter()
            self._browser = await self._launch(path)
            self.cold_start_seconds = time.perf_counter() - started
            log.info("snapshots.chromium_started", path=path, version=self._browser.version,
                     seconds=round(self.cold_start_seconds, 2))
            return self._browser

    async def _launch(self, path: str) -> Any:
        from playwright.async_api import async_playwright

        self._playwright = await async_playwright().start()
        try:
            return await self._playwright.chromium.launch(executable_path=path,
                                                          args=CHROMIUM_ARGS)
        except Exception as error:
            await self._playwright.stop()
            self._playwright = None
            raise SnapshotUnavailable(f"Chromium at {path} did not start ({error}); "
                                      f"{INSTALL_HINT}") from error

    async def _take(self) -> Slot:
        browser = await self._ensure_browser()
        while self._idle:
            slot = self._idle.pop()
            if not slot.page.is_closed():
                return slot
        return await self._new_slot(browser)

    async def _new_slot(self, browser: Any) -> Slot:
        context = await browser.new_context(viewport={"width": 1280, "height": 720},
                                            device_scale_factor=1, java_script_enabled=True,
                                            service_workers="block")
        slot = Slot(context)
        await context.route("**/*", lambda route: self._serve(slot, route))
        slot.page = await context.new_page()
        await slot.page.goto(RENDER_URL)
        return slot

    async def _serve(self, slot: Slot, route: Any) -> None:
        """Answer the render page's own files from memory; refuse everything else."""
        url = route.request.url
        if url in self._assets:
            content_type, body = self._assets[url]
            await route.fulfill(status=200, content_type=content_type, body=body)
            return
        slot.blocked += 1
        self.blocked += 1
        log.debug("snapshots.blocked", url=url[:200])
        await route.abort("blockedbyclient")

    async def _give_back(self, slot: Slot) -> None:
        if slot.renders >= self.settings.recycle_after:
            await self._close_slot(slot)
            return
        self._idle.append(slot)

    @staticmethod
    async def _close_slot(slot: Slot) -> None:
        try:
            await slot.context.close()
        except Exception:
            log.debug("snapshots.close_failed")

    async def _drop_browser(self) -> None:
        self._idle.clear()
        if self._browser is not None:
            try:
                await self._browser.close()
            except Exception:
                log.debug("snapshots.browser_close_failed")
        if self._playwright is not None:
            await self._playwright.stop()
        self._browser = None
        self._playwright = None

    async def close(self) -> None:
        async with self._launching:
            for slot in self._idle:
                await self._close_slot(slot)
            await self._drop_browser()
