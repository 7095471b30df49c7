"""The PagerDuty REST client: one per account, auth in one hook, errors mapped in one place."""

from __future__ import annotations

from typing import Any

import httpx

from connectors.pagerduty.settings import PagerDutySettings
from replayhub.connector import VendorError
from replayhub.vendor_http import HeaderAuth, failed_answer, request_json

TIMEOUT = httpx.Timeout(20.0, connect=5.0)
RETRYABLE = {429, 500, 502, 503, 504}


def wait_of(response: httpx.Response) -> float | None:
    """Seconds to wait from `Retry-After`, else PagerDuty's `ratelimit-reset`."""
    for header in ("retry-after", "ratelimit-reset"):
        try:
            return max(float(response.headers[header]), 0.0)
        except (KeyError, ValueError):
            continue
    return None


def answer_error(method: str, path: str, response: httpx.Response) -> VendorError:
    return failed_answer("pagerduty", method, path, response, wait=wait_of(response),
                         retryable=response.status_code in RETRYABLE)


class PagerDutyClient:
    """The REST API v2 calls the connector makes; every failure is a VendorError."""

    def __init__(self, settings: PagerDutySettings,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.http = httpx.AsyncClient(
            base_url=settings.api_url, auth=HeaderAuth(f"Token token={settings.api_token}"),
            timeout=TIMEOUT, transport=transport,
            headers={"Accept": "application/vnd.pagerduty+json;version=2"})

    async def call(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        return await request_json(  # type: ignore[no-any-return]
            self.http, "pagerduty", method, path, answer_error, **options)

    async def abilities(self) -> list[str]:
        """The account's abilities: the cheapest authenticated call."""
        return list((await self.call("GET", "/abilities")).get("abilities") or [])

    async def incident_notes(self, incident_id: str) -> list[dict[str, Any]]:
        """The incident's notes (PagerDuty returns them all, oldest first)."""
        return list((await self.call("GET", f"/incidents/{incident_id}/notes")).get("notes")
                    or [])

    async def add_incident_note(self, incident_id: str, content: str,
                                from_email: str) -> dict[str, Any]:
        """Add a note to the incident, written as the user `from_email`."""
        answer = await self.call("POST", f"/incidents/{incident_id}/notes",
                                 json={"note": {"content": content}},
                                 headers={"From": from_email})
        return dict(answer.get("note") or {})

    async def close(self) -> None:
        await self.http.aclose()
