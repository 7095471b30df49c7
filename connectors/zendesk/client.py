"""The Zendesk HTTP client: one per account, auth in one hook, errors mapped in one place."""

from __future__ import annotations

from typing import Any

import httpx

from connectors.zendesk.settings import ZendeskSettings
from replayhub.connector import VendorError
from replayhub.vendor_http import HeaderAuth, basic, error_body, failed_answer, request_json

TIMEOUT = httpx.Timeout(20.0, connect=5.0)


def authorization(settings: ZendeskSettings) -> str:
    """Basic auth `email/token:api_token`, or a bearer OAuth token."""
    if settings.oauth_token:
        return f"Bearer {settings.oauth_token}"
    return basic(f"{settings.email}/token", settings.api_token)


def vendor_error(method: str, path: str, response: httpx.Response) -> VendorError:
    """Turn a Zendesk error answer into a VendorError (never echoing credentials)."""
    body = error_body(response)
    error = body.get("error")
    if isinstance(error, dict):
        error = error.get("title") or error.get("message")
    detail = " ".join(str(part) for part in (error, body.get("description")) if part)
    return failed_answer("zendesk", method, path, response, detail)


class ZendeskClient:
    """The Support API calls the connector makes; every failure is a VendorError."""

    def __init__(self, settings: ZendeskSettings,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        auth = HeaderAuth(authorization(settings))
        self.http = httpx.AsyncClient(base_url=settings.api_url, auth=auth, timeout=TIMEOUT,
                                      transport=transport,
                                      headers={"Accept": "application/json"})

    async def call(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        return await request_json(  # type: ignore[no-any-return]
            self.http, "zendesk", method, path, vendor_error, **options)

    async def me(self) -> dict[str, Any]:
        return (await self.call("GET", "/api/v2/users/me")).get("user") or {}

    async def user(self, user_id: str) -> dict[str, Any] | None:
        try:
            return (await self.call("GET", f"/api/v2/users/{user_id}")).get("user")
        except VendorError as error:
            if error.status == 404:
                return None
            raise

    async def update_ticket(self, ticket_id: str, ticket: dict[str, Any]) -> dict[str, Any]:
        return await self.call("PUT", f"/api/v2/tickets/{ticket_id}", json={"ticket": ticket})

    async def add_tags(self, ticket_id: str, tags: list[str]) -> None:
        await self.call("PUT", f"/api/v2/tickets/{ticket_id}/tags", json={"tags": tags})

    async def upload(self, filename: str, data: bytes, content_type: str) -> str:
        body = await self.call("POST", "/api/v2/uploads", params={"filename": filename},
                               content=data, headers={"Content-Type": content_type})
        token = (body.get("upload") or {}).get("token")
        if not token:
            raise VendorError("zendesk POST /api/v2/uploads: no upload token in the answer",
                              retryable=True)
        return str(token)

    async def comments(self, ticket_id: str) -> tuple[list[dict[str, Any]], dict[int, str]]:
        """Every comment of the ticket, oldest first, and the names of their authors."""
        comments: list[dict[str, Any]] = []
        names: dict[int, str] = {}
        path: str | None = f"/api/v2/tickets/{ticket_id}/comments"
        params: dict[str, str] | None = {"include": "users"}
        while path:
            body = await self.call("GET", path, params=params)
            comments += body.get("comments") or []
            names.update({user["id"]: user.get("name", "") for user in body.get("users") or []
                          if "id" in user})
            path, params = body.get("next_page"), None
        return comments, names

    async def close(self) -> None:
        await self.http.aclose()
