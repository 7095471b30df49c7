"""The Workflows webhook client: one HTTP client, errors mapped in one place, the URL masked.

A Workflows URL carries its own signature (`sig=`), so the URL is the secret: it never
appears in an error message, a log line or a delivery row; errors name the host only.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx

from connectors.teams.settings import TeamsSettings
from replayhub.connector import VendorError
from replayhub.vendor_http import failed_call, retry_after

RETRYABLE = {408, 409, 425, 429, 500, 502, 503, 504}


def masked(url: str) -> str:
    """`https://host/…`: where a webhook goes, without the path and signature."""
    parts = urlsplit(url)
    return f"{parts.scheme or '?'}://{parts.hostname or '?'}/…"


class TeamsClient:
    """Posts JSON to Workflows webhooks; every failure is a VendorError without the URL."""

    def __init__(self, settings: TeamsSettings,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(settings.timeout_seconds,
                                                            connect=5.0),
                                      transport=transport, follow_redirects=False,
                                      headers={"Accept": "application/json"})

    async def post(self, url: str, body: dict[str, Any]) -> None:
        where = masked(url)
        if urlsplit(url).scheme != "https":
            raise VendorError(f"teams webhook {where}: the URL must start with https://")
        try:
            response = await self.http.post(url, json=body)
        except httpx.TransportError as error:
            raise failed_call("teams webhook", "POST", where, error) from None
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as error:
            raise VendorError(f"teams webhook {where}: {type(error).__name__}") from None
        status = response.status_code
        if status >= 300:
            raise VendorError(f"teams webhook {where}: {status}", status=status,
                              retry_after=retry_after(response),
                              retryable=status in RETRYABLE or status >= 500)

    async def close(self) -> None:
        await self.http.aclose()
