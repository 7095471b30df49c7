"""POST /api/v1/ingest: rrweb batches from browsers (ingest key, no bearer token, CORS open)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, post
from litestar.params import FromQuery

from replayhub.hub import Hub
from replayhub.ingest.decode import IngestRefused, decode_body
from replayhub.web.problems import problem

CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Content-Encoding",
    "Access-Control-Max-Age": "86400",
}


class IngestAccepted(msgspec.Struct):
    session_id: str
    seq: int
    accepted: int


async def add_cors_headers(response: Response[Any]) -> Response[Any]:
    """Browsers post from any origin; the OPTIONS preflight gets the same headers."""
    response.headers.update(CORS)
    return response


class IngestController(Controller):
    path = "/api/v1/ingest"
    tags = ["ingest"]
    after_request = add_cors_headers  # type: ignore[assignment]

    @post("/", name="ingest:batch", operation_id="ingestBatch", status_code=202,
          request_max_body_size=None, security=[])
    async def ingest(self, request: Request[Any, Any, Any], key: FromQuery[str | None] = None
                     ) -> Response[IngestAccepted]:
        """Store one batch of rrweb events; `(session_id, seq)` is idempotent."""
        hub: Hub = request.app.state.hub
        try:
            body = await read_body(request, hub.settings.limits.max_body_bytes)
            batch = decode_body(body, request.headers.get("content-encoding", ""),
                                hub.settings.limits)
            app_id = await hub.ingestor.app_id_for_key(key or batch.app_key or "")
            if app_id is None:
                raise IngestRefused(401, "Unknown ingest key",
                                    "send the app's ingest key as ?key= or as app_key in the body")
            result = await hub.ingestor.ingest(app_id, batch,
                                               request.headers.get("user-agent", ""))
        except IngestRefused as refused:
            extra = {"limit": refused.limit} if refused.limit else {}
            raise problem(refused.status, refused.title, refused.detail, CORS, **extra) from None
        return Response(IngestAccepted(result.session_id, result.seq, result.accepted),
                        status_code=202, headers=CORS)


async def read_body(request: Request[Any, Any, Any], limit: int) -> bytes:
    """The raw body, refused as soon as it grows past the limit."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> IngestRefused:
    return IngestRefused(413, "Body too large",
                         f"the body has at least {size} bytes; the limit is {limit}",
                         "max_body_bytes")
