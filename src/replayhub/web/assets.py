"""The recorder snippet (/sdk/replayhub.js) and the static files (/static/...): player, UI."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from litestar import Response, get
from litestar.params import FromPath
from litestar.response import File

from replayhub.web.problems import problem

STATIC = Path(__file__).resolve().parent / "static"
SNIPPET = STATIC / "sdk" / "replayhub.js"
BUILT = ("sdk", "player", "render")
"""Folders `npm run build` fills; a missing file there means the bundle was never built."""
OPEN = {"Access-Control-Allow-Origin": "*", "Cache-Control": "public, max-age=86400"}
SHORT = {"Cache-Control": "public, max-age=300"}


def not_built(name: str) -> Exception:
    return problem(503, "Browser bundle not built",
                   f"{name} is missing: run `npm ci && npm run build` (or `make js`) "
                   "in the repository, then restart the hub")


def static_file(path: Path, headers: dict[str, str]) -> Response[bytes]:
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return File(path=path, media_type=media_type, headers=headers,
                content_disposition_type="inline")  # type: ignore[return-value]


@get("/sdk/replayhub.js", name="sdk:snippet", operation_id="getRecorderSnippet", security=[],
     tags=["sdk"], include_in_schema=False)
async def snippet() -> Response[bytes]:
    """The recorder snippet: no auth, cached for a day, loadable from any origin."""
    if not SNIPPET.is_file():
        raise not_built("sdk/replayhub.js")
    return static_file(SNIPPET, OPEN)


@get("/static/{path:path}", name="static", operation_id="getStaticFile", security=[],
     include_in_schema=False)
async def static(path: FromPath[str]) -> Response[bytes]:
    """Player assets (built by npm), the UI's stylesheet and scripts."""
    relative = path.lstrip("/")
    target = (STATIC / relative).resolve()
    if not target.is_relative_to(STATIC) or target.name.startswith("."):
        raise problem(404, "Not found", f"no static file {relative!r}")
    if not target.is_file():
        if relative.split("/", 1)[0] in BUILT:
            raise not_built(relative)
        raise problem(404, "Not found", f"no static file {relative!r}")
    return static_file(target, OPEN if relative.startswith(BUILT) else SHORT)
