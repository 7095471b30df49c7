"""`replayhub doctor`: is each part of the hub usable here, and if not, the fix."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text

from replayhub.config import Settings
from replayhub.db.engine import Database
from replayhub.replay.snapshot import (
    CHROMIUM_ARGS,
    INSTALL_HINT,
    SnapshotUnavailable,
    check_chromium,
)

STATIC = Path(__file__).resolve().parent / "web" / "static"
BUNDLES = ("sdk/replayhub.js", "player/rrweb-player.js", "render/rrweb.js")


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


async def check_database(settings: Settings) -> Check:
    db = Database.from_settings(settings)
    where = settings.database_url.split("@")[-1] if settings.database_url else str(
        settings.data_path / "replayhub.db")
    try:
        async with db.read() as tx:
            await tx.execute(text("SELECT 1"))
    except Exception as error:
        return Check("database", False, f"{where}: {error}",
                     "check database_url / REPLAYHUB_DATABASE_URL and that the server is up")
    finally:
        await db.dispose()
    return Check("database", True, where)


def check_blobs(settings: Settings) -> Check:
    folder = settings.data_path / "blobs"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".doctor-"):
            pass
    except OSError as error:
        return Check("blob folder", False, f"{folder}: {error}",
                     f"make {folder} writable by this user, or set data_dir")
    return Check("blob folder", True, f"{folder} (writable)")


def check_bundles() -> Check:
    missing = [name for name in BUNDLES if not (STATIC / name).is_file()]
    if missing:
        return Check("JS bundles", False, f"missing: {', '.join(missing)}",
                     "run `npm ci && npm run build` (or `make js`) in the repository")
    return Check("JS bundles", True, ", ".join(BUNDLES))


async def check_chromium_usable(settings: Settings) -> Check:
    """Launch Chromium once, as snapshots would, and report its version."""
    try:
        path = check_chromium(settings.snapshots)
    except SnapshotUnavailable as error:
        return Check("Chromium", False, str(error), "apt-get install chromium")
    from playwright.async_api import async_playwright

    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
            version = browser.version
            await browser.close()
    except Exception as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        return Check("Chromium", False, f"{path} does not start: {first_line}", INSTALL_HINT)
    return Check("Chromium", True, f"{path} (version {version})")


async def run_checks(settings: Settings) -> list[Check]:
    return [await check_database(settings), check_blobs(settings), check_bundles(),
            await check_chromium_usable(settings)]


def report(checks: list[Check]) -> str:
    lines = []
    for check in checks:
        mark = "ok  " if check.ok else "FAIL"
        lines.append(f"[{mark}] {check.name}: {check.detail}")
        if check.fix:
            lines.append(f"       fix: {check.fix}")
    return os.linesep.join(lines)
