"""The Zendesk sidebar app as a zip to upload (Admin Center → Apps → Zendesk Support apps →
Upload private app): manifest.json, assets/, translations/en.json."""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from typing import Any

APP_NAME = "ReplayHub"
VERSION = "1.0.0"
SIDEBAR_PATH = "/zendesk/sidebar"
LOGO_SIZES = {"assets/logo.png": 320, "assets/logo-small.png": 128}
"""The sizes Zendesk asks of an app's logos."""


def manifest(hub_url: str, author_name: str, author_email: str) -> dict[str, Any]:
    """A ZAF v2 manifest: the ticket sidebar opens the hub's page with a signed URL."""
    hub_url = hub_url.rstrip("/")
    return {
        "name": APP_NAME,
        "author": {"name": author_name, "email": author_email, "url": hub_url},
        "defaultLocale": "en",
        "private": True,
        "location": {"support": {"ticket_sidebar": {"url": f"{hub_url}{SIDEBAR_PATH}",
                                                    "flexible": True}}},
        "signedUrls": True,
        "parameters": [{"name": "shared_secret", "type": "text", "secure": True,
                        "required": True}],
        "version": VERSION,
        "frameworkVersion": "2.0",
    }


def translations() -> dict[str, Any]:
    return {"app": {
        "name": APP_NAME,
        "short_description": "Session replays of the ticket's requester.",
        "long_description": "Lists the requester's recent recorded sessions with a picture "
                            "of each, and opens the replay in ReplayHub.",
        "installation_instructions": "Enter the same shared secret as "
                                     "connectors.zendesk.sidebar_shared_secret in the hub.",
        "parameters": {"shared_secret": {
            "label": "Shared secret",
            "helpText": "Zendesk signs the sidebar's URL with it; the hub checks the "
                        "signature (connectors.zendesk.sidebar_shared_secret)."}},
    }}


def iframe_html(hub_url: str) -> str:
    """Unused by Zendesk (the manifest's url points at the hub); kept for the app tools."""
    url = hub_url.rstrip("/") + SIDEBAR_PATH
    return ("<!doctype html>\n<meta charset=\"utf-8\">\n<title>ReplayHub</title>\n"
            f"<p>The ReplayHub sidebar is served by the hub at <a href=\"{url}\">{url}</a>.</p>\n")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def logo_png(size: int) -> bytes:
    """A square logo: a play triangle on the hub's blue (a PNG written without Pillow)."""
    background, foreground = (0x1F, 0x73, 0xB7), (0xFF, 0xFF, 0xFF)
    rows = []
    for y in range(size):
        row = bytearray([0])
        for x in range(size):
            # a right-pointing triangle in the middle third
            inside = (size * 0.36 <= x <= size * 0.70
                      and abs(y - size / 2) <= (size * 0.70 - x) * 0.58)
            row += bytes(foreground if inside else background)
        rows.append(bytes(row))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + _chunk(b"IEND", b""))


def build_package(hub_url: str, author_name: str, author_email: str) -> bytes:
    """The app's zip, as Zendesk's app tools lay it out."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json",
                         json.dumps(manifest(hub_url, author_name, author_email), indent=2))
        archive.writestr("assets/iframe.html", iframe_html(hub_url))
        for name, size in LOGO_SIZES.items():
            archive.writestr(name, logo_png(size))
        archive.writestr("translations/en.json", json.dumps(translations(), indent=2))
    return buffer.getvalue()
