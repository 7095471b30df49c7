"""The ingest baseline: a bare Litestar endpoint that reads the body and writes it to a file.

Run by bench/ingest.py as `python bench/_bare_server.py --out DIR --port N` (uvicorn, 1 worker).
"""

from __future__ import annotations

import argparse
import itertools
import os
from pathlib import Path
from typing import Any

import uvicorn
from litestar import Litestar, Request, get, post


def build(out: Path, fsync: bool) -> Litestar:
    out.mkdir(parents=True, exist_ok=True)
    counter = itertools.count()

    @get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @post("/ingest", status_code=202, request_max_body_size=None)
    async def ingest(request: Request[Any, Any, Any]) -> dict[str, int]:
        body = await request.body()
        path = out / f"{next(counter):08d}.json"
        with path.open("wb") as handle:
            handle.write(body)
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        return {"bytes": len(body)}

    return Litestar(route_handlers=[health, ingest])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--fsync", action="store_true", help="fsync each file (like the hub)")
    args = parser.parse_args()
    uvicorn.run(
        build(args.out, args.fsync),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
