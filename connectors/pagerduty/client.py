"""The PagerDuty REST client: one per account, auth in one hook, errors mapped in one place.

Only `check` is used today; the post-mortem link will be posted as an incident note later.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import httpx

from connectors.pagerduty.settings import PagerDutySettings
from replayhub.connector import VendorError

TIMEOUT = httpx.Timeout(20.0, connect=5.0)
RETRYABLE = {429, 500, 502, 503, 504}


class PagerDutyAuth(httpx.Auth):
    def __init__(self, token: str) -> None:
        self.header = f"Token token={token}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self.header
        yield request


class PagerDutyClient:
    """The REST API v2 calls the connector makes; every failure is a VendorError."""

    def __init__(self, settings: PagerDutySettings,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.http = httpx.AsyncClient(
            base_url=settings.api_url, auth=PagerDutyAuth(settings.api_token), timeout=TIMEOUT,
            transport=transport, headers={"Accept": "application/vnd.pagerduty+json;version=2"})

    async def call(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        try:
            response = await self.http.request(method, path, **options)
        except httpx.TransportError as error:
            raise VendorError(f"pagerduty {method} {path}: {type(error).__name__}",
                              retryable=True) from None
        if response.status_code >= 400:
            raise VendorError(f"pagerduty {method} {path}: {response.status_code}",
                              status=response.status_code,
                              retryable=response.status_code in RETRYABLE)
        try:
            return response.json() if response.content else {}  # type: ignore[no-any-return]
        except ValueError:
            raise VendorError(f"pagerduty {method} {path}: the answer is not JSON",
                              retryable=True) from None

    async def abilities(self) -> list[str]:
        """The account's abilities: the cheapest authenticated call."""
        return list((await self.call("GET", "/abilities")).get("abilities") or [])

    async def close(self) -> None:
        await self.http.aclose()
