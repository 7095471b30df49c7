"""The GitHub REST client: one per token, auth in one hook, errors mapped once (429 and a
403 with the rate limit spent are retryable, with the time GitHub asks to wait)."""

from __future__ import annotations

import base64
import time
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import httpx

from connectors.github.settings import GitHubSettings
from replayhub.connector import VendorError
from replayhub.vendor_http import (
    RETRYABLE_STATUS,
    HeaderAuth,
    error_body,
    failed_answer,
    request_json,
)

TIMEOUT = httpx.Timeout(30.0, connect=5.0)
API_VERSION = "2022-11-28"


def retry_after(response: httpx.Response, now: float | None = None) -> float | None:
    """Seconds to wait: Retry-After (seconds or an HTTP date), else, when the rate limit is
    spent, until x-ratelimit-reset (epoch seconds)."""
    value = response.headers.get("retry-after")
    if value:
        try:
            return max(float(value), 0.0)
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(value)
            date = response.headers.get("date")
            sent = parsedate_to_datetime(date) if date else None
        except (TypeError, ValueError):
            return None
        return max((when - sent).total_seconds(), 0.0) if sent else None
    if response.headers.get("x-ratelimit-remaining") == "0":
        reset = response.headers.get("x-ratelimit-reset", "")
        if reset.isdigit():
            return max(int(reset) - (time.time() if now is None else now), 0.0)
    return None


def rate_limited(response: httpx.Response) -> bool:
    """A 403 that is GitHub's (primary or secondary) rate limit, not a missing permission."""
    if response.status_code != 403:
        return False
    if response.headers.get("x-ratelimit-remaining") == "0" or "retry-after" in response.headers:
        return True
    try:
        message = str(response.json().get("message", ""))
    except (ValueError, AttributeError):
        return False
    return "rate limit" in message.lower()


def vendor_error(method: str, path: str, response: httpx.Response) -> VendorError:
    """GitHub's error (`{"message", "documentation_url"}`) as a VendorError."""
    status = response.status_code
    detail = str(error_body(response).get("message") or "")
    retryable = status in RETRYABLE_STATUS or rate_limited(response)
    return failed_answer("github", method, path, response, detail, retryable=retryable,
                         wait=retry_after(response))


def contents_path(repository: str, path: str) -> str:
    owner, name = repository.split("/", 1)
    segments = "/".join(quote(part, safe="") for part in path.split("/"))
    return f"/repos/{quote(owner, safe='')}/{quote(name, safe='')}/contents/{segments}"


class GitHubClient:
    """The repository calls the connector makes; every failure is a VendorError."""

    def __init__(self, settings: GitHubSettings,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.repository = settings.repository
        self.http = httpx.AsyncClient(
            base_url=settings.api_url, auth=HeaderAuth(f"Bearer {settings.token}"), timeout=TIMEOUT,
            transport=transport, headers={"Accept": "application/vnd.github+json",
                                          "X-GitHub-Api-Version": API_VERSION})

    async def call(self, method: str, path: str, **options: Any) -> Any:
        return await request_json(self.http, "github", method, path, vendor_error, **options)

    async def repo(self) -> dict[str, Any]:
        owner, name = self.repository.split("/", 1)
        return dict(await self.call("GET", f"/repos/{owner}/{name}"))

    async def file(self, path: str, ref: str) -> dict[str, Any] | None:
        """The file's metadata and (up to 1 MB) base64 content; None when there is none."""
        try:
            body = await self.call("GET", contents_path(self.repository, path),
                                   params={"ref": ref})
        except VendorError as error:
            if error.status == 404:
                return None
            raise
        if not isinstance(body, dict) or body.get("type") != "file":
            raise VendorError(f"github GET {path}: not a file in the repository")
        return body

    async def put_file(self, path: str, data: bytes, message: str, branch: str,
                       sha: str | None) -> dict[str, Any]:
        """Create or replace the file in one commit; `sha` is the blob it replaces."""
        body: dict[str, Any] = {"message": message, "branch": branch,
                                "content": base64.b64encode(data).decode()}
        if sha:
            body["sha"] = sha
        return dict(await self.call("PUT", contents_path(self.repository, path), json=body))

    async def close(self) -> None:
        await self.http.aclose()
