"""The Notion HTTP client: one per integration, auth and version in one place, errors mapped
once (429 with Retry-After, 409 conflicts and 5xx are retryable)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from typing import Any

import httpx

from connectors.notion.settings import NotionSettings
from replayhub.connector import VendorError
from replayhub.vendor_http import error_body, failed_answer, request_json

TIMEOUT = httpx.Timeout(30.0, connect=5.0)
PAGE_SIZE = 100


class NotionAuth(httpx.Auth):
    """The integration token as a bearer token, and the API version header."""

    def __init__(self, settings: NotionSettings) -> None:
        self.header = f"Bearer {settings.token}"
        self.version = settings.notion_version

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self.header
        request.headers["Notion-Version"] = self.version
        yield request


def vendor_error(method: str, path: str, response: httpx.Response) -> VendorError:
    """Notion's error object (`{"object": "error", "code", "message"}`) as a VendorError."""
    body = error_body(response)
    detail = " ".join(str(body[key]) for key in ("code", "message") if body.get(key))
    return failed_answer("notion", method, path, response, detail)


class NotionClient:
    """The Notion API calls the connector makes; every failure is a VendorError."""

    def __init__(self, settings: NotionSettings,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.http = httpx.AsyncClient(base_url=settings.api_url, auth=NotionAuth(settings),
                                      timeout=TIMEOUT, transport=transport,
                                      headers={"Accept": "application/json"})

    async def call(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        body = await request_json(self.http, "notion", method, path, vendor_error, **options)
        return body if isinstance(body, dict) else {}

    async def listing(self, path: str, params: dict[str, str] | None = None,
                      limit: int | None = None) -> AsyncIterator[dict[str, Any]]:
        """The results of a paginated GET list, following `next_cursor` (the first `limit`
        only, when given: no page is asked for beyond them)."""
        cursor, given = None, 0
        while True:
            size = PAGE_SIZE if limit is None else min(PAGE_SIZE, limit - given)
            query = {**(params or {}), "page_size": str(size)}
            if cursor:
                query["start_cursor"] = cursor
            body = await self.call("GET", path, params=query)
            for item in (body.get("results") or [])[:size]:
                given += 1
                yield item
            cursor = body.get("next_cursor")
            if not body.get("has_more") or not cursor or (limit is not None and given >= limit):
                return

    async def me(self) -> dict[str, Any]:
        return await self.call("GET", "/v1/users/me")

    async def user(self, user_id: str) -> dict[str, Any] | None:
        try:
            return await self.call("GET", f"/v1/users/{user_id}")
        except VendorError as error:
            if error.status in {403, 404}:
                return None
            raise

    async def create_page(self, parent: dict[str, str], title_property: str,
                          title: list[dict[str, Any]],
                          children: list[dict[str, Any]]) -> dict[str, Any]:
        return await self.call("POST", "/v1/pages", json={
            "parent": parent, "properties": {title_property: {"title": title}},
            "children": children})

    async def page(self, page_id: str) -> dict[str, Any]:
        return await self.call("GET", f"/v1/pages/{page_id}")

    async def database(self, database_id: str) -> dict[str, Any]:
        return await self.call("GET", f"/v1/databases/{database_id}")

    async def data_source(self, data_source_id: str) -> dict[str, Any]:
        return await self.call("GET", f"/v1/data_sources/{data_source_id}")

    async def set_title(self, page_id: str, title_property: str,
                        title: list[dict[str, Any]]) -> dict[str, Any]:
        return await self.call("PATCH", f"/v1/pages/{page_id}",
                               json={"properties": {title_property: {"title": title}}})

    def children(self, block_id: str, limit: int | None = None,
                 ) -> AsyncIterator[dict[str, Any]]:
        return self.listing(f"/v1/blocks/{block_id}/children", limit=limit)

    async def append(self, block_id: str, children: list[dict[str, Any]]) -> dict[str, Any]:
        return await self.call("PATCH", f"/v1/blocks/{block_id}/children",
                               json={"children": children})

    async def delete_block(self, block_id: str) -> None:
        try:
            await self.call("DELETE", f"/v1/blocks/{block_id}")
        except VendorError as error:
            if error.status != 404:  # already gone (an earlier try deleted it)
                raise

    async def search_pages(self, query: str) -> AsyncIterator[dict[str, Any]]:
        """Pages whose title matches `query` (Notion's fuzzy title search), newest first."""
        cursor = None
        while True:
            body: dict[str, Any] = {"query": query, "page_size": PAGE_SIZE,
                                    "filter": {"property": "object", "value": "page"}}
            if cursor:
                body["start_cursor"] = cursor
            answer = await self.call("POST", "/v1/search", json=body)
            for item in answer.get("results") or []:
                yield item
            cursor = answer.get("next_cursor")
            if not answer.get("has_more") or not cursor:
                return

    def comments(self, block_id: str) -> AsyncIterator[dict[str, Any]]:
        return self.listing("/v1/comments", {"block_id": block_id})

    async def add_comment(self, page_id: str, rich_text: list[dict[str, Any]]) -> dict[str, Any]:
        return await self.call("POST", "/v1/comments",
                               json={"parent": {"page_id": page_id}, "rich_text": rich_text})

    async def close(self) -> None:
        await self.http.aclose()
