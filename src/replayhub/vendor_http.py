"""What every connector's HTTP client shares: how long a vendor asked us to wait, and how a
failed call becomes a VendorError (retryable or not, and whether it may have been sent)."""

from __future__ import annotations

import base64
from collections.abc import Callable, Generator
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from replayhub.connector import VendorError

RETRYABLE_STATUS = frozenset({409, 429, 500, 502, 503, 504})
"""Answers worth trying again later: a conflict, the rate limit, the vendor's own failures."""
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Transport errors raised before the request left: a retry cannot make a duplicate."""


class HeaderAuth(httpx.Auth):
    """Sends one Authorization header value (a vendor's token or basic pair) on every request."""

    def __init__(self, value: str) -> None:
        self.value = value

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self.value
        yield request


def basic(user: str, password: str) -> str:
    """The value of a basic Authorization header."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def error_body(response: httpx.Response) -> dict[str, Any]:
    """A vendor's error answer as a JSON object ({} when it is not one)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def epoch_ms(value: str | None) -> int:
    """A vendor's ISO 8601 time (`2026-01-04T10:00:00Z`) in epoch milliseconds; 0 if absent."""
    if not value:
        return 0
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)


def retry_after(response: httpx.Response) -> float | None:
    """Seconds from a Retry-After header (a number, or an HTTP date against the Date header)."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
        date = response.headers.get("date")
        return max((when - parsedate_to_datetime(date)).total_seconds(), 0.0) if date else None
    except (TypeError, ValueError):
        return None


def failed_answer(vendor: str, method: str, path: str, response: httpx.Response,
                  detail: str = "", *, retryable: bool | None = None,
                  wait: float | None = None) -> VendorError:
    """An error answer as a VendorError: the vendor's own words, never a credential."""
    status = response.status_code
    return VendorError(f"{vendor} {method} {path}: {status} {detail}".strip()[:500],
                       status=status,
                       retry_after=wait if wait is not None else retry_after(response),
                       retryable=status in RETRYABLE_STATUS if retryable is None else retryable)


def failed_call(vendor: str, method: str, path: str, error: httpx.TransportError) -> VendorError:
    """A call that got no answer: retryable; uncertain unless it never left."""
    return VendorError(f"{vendor} {method} {path}: {type(error).__name__}", retryable=True,
                       uncertain=not isinstance(error, NOT_SENT))


async def request_json(http: httpx.AsyncClient, vendor: str, method: str, path: str,
                       answer_error: Callable[[str, str, httpx.Response], VendorError],
                       **options: Any) -> Any:
    """Send the request and read its JSON answer ({} when empty); every failure is a
    VendorError (`answer_error` reads the vendor's own error body)."""
    try:
        response = await http.request(method, path, **options)
    except httpx.TransportError as error:
        raise failed_call(vendor, method, path, error) from None
    if response.status_code >= 400:
        raise answer_error(method, path, response)
    if not response.content:
        return {}
    try:
        return response.json()
    except ValueError:
        raise VendorError(f"{vendor} {method} {path}: the answer is not JSON",
                          status=response.status_code, retryable=True) from None
