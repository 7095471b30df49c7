"""The Confluence Cloud HTTP client: one per site, basic auth in one hook, errors mapped once.

Pages and footer comments go through REST API v2 (`/wiki/api/v2`); attachments and user names
through v1 (`/wiki/rest/api`), which v2 still has no upload endpoint for.
"""

from __future__ import annotations

from typing import Any

import httpx

from connectors.confluence.settings import ConfluenceSettings
from replayhub.connector import VendorError
from replayhub.vendor_http import HeaderAuth, basic, error_body, failed_answer, request_json

TIMEOUT = httpx.Timeout(30.0, connect=5.0)
"""409: someone saved the page between our read and our update; read the version again."""
V2 = "/wiki/api/v2"
V1 = "/wiki/rest/api"
PAGE_SIZE = 100


def vendor_error(method: str, path: str, response: httpx.Response) -> VendorError:
    """A Confluence error answer as a VendorError (its message, never a credential)."""
    detail = ""
    body = error_body(response)
    if body:
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            detail = str(errors[0].get("title") or errors[0].get("detail") or "")
        detail = detail or str(body.get("message") or "")
    return failed_answer("confluence", method, path, response, detail)


def page_url(page: dict[str, Any], site_url: str) -> str:
    """The page's address in the browser: `_links.base` + `_links.webui`."""
    links = page.get("_links") or {}
    base = str(links.get("base") or f"{site_url}/wiki")
    webui = str(links.get("webui") or f"/pages/viewpage.action?pageId={page.get('id', '')}")
    return base + webui


class ConfluenceClient:
    """The REST calls the connector makes; every failure is a VendorError."""

    def __init__(self, settings: ConfluenceSettings,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        auth = HeaderAuth(basic(settings.email, settings.api_token))
        self.http = httpx.AsyncClient(base_url=settings.site_url, auth=auth, timeout=TIMEOUT,
                                      transport=transport,
                                      headers={"Accept": "application/json"})
        self._space_id = settings.space_id
        self._names: dict[str, str] = {}

    async def call(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        return await request_json(  # type: ignore[no-any-return]
            self.http, "confluence", method, path, vendor_error, **options)

    async def space(self) -> dict[str, Any]:
        """The configured space (by id, else by key)."""
        if self.settings.space_id:
            return await self.call("GET", f"{V2}/spaces/{self.settings.space_id}")
        found = (await self.call("GET", f"{V2}/spaces",
                                 params={"keys": self.settings.space_key})).get("results") or []
        if not found:
            raise VendorError(f"confluence: no space with key {self.settings.space_key!r}",
                              status=404)
        return dict(found[0])

    async def space_id(self) -> str:
        if not self._space_id:
            self._space_id = str((await self.space())["id"])
        return self._space_id

    async def pages_titled(self, title: str) -> list[dict[str, Any]]:
        """Current pages of the space with exactly this title, with their storage body."""
        params = {"space-id": await self.space_id(), "title": title, "status": "current",
                  "body-format": "storage", "limit": "25"}
        return list((await self.call("GET", f"{V2}/pages", params=params)).get("results") or [])

    async def page(self, page_id: str) -> dict[str, Any] | None:
        try:
            return await self.call("GET", f"{V2}/pages/{page_id}")
        except VendorError as error:
            if error.status == 404:
                return None
            raise

    async def create_page(self, title: str, storage: str) -> dict[str, Any]:
        body: dict[str, Any] = {"spaceId": await self.space_id(), "status": "current",
                                "title": title,
                                "body": {"representation": "storage", "value": storage}}
        if self.settings.parent_page_id:
            body["parentId"] = self.settings.parent_page_id
        return await self.call("POST", f"{V2}/pages", json=body)

    async def update_page(self, page_id: str, title: str, storage: str,
                          number: int) -> dict[str, Any]:
        """Replace the page's title and body as version `number` (the current one + 1)."""
        body = {"id": page_id, "status": "current", "title": title,
                "body": {"representation": "storage", "value": storage},
                "version": {"number": number, "message": "Updated by ReplayHub"}}
        return await self.call("PUT", f"{V2}/pages/{page_id}", json=body)

    async def upload_attachment(self, page_id: str, filename: str, data: bytes,
                                content_type: str) -> None:
        """Create the page's attachment, or add a version to the one with this file name."""
        await self.call("PUT", f"{V1}/content/{page_id}/child/attachment",
                        headers={"X-Atlassian-Token": "nocheck"},
                        files={"file": (filename, data, content_type)},
                        data={"minorEdit": "true"})

    async def footer_comments(self, page_id: str) -> list[dict[str, Any]]:
        """Every footer comment of the page and every reply in their threads, with storage
        bodies: the page lists only the comments that start a thread, and each comment's
        replies come from its `/children` (replies to replies too)."""
        found = await self._all_pages(f"{V2}/pages/{page_id}/footer-comments")
        seen = {str(comment.get("id")) for comment in found}
        waiting = list(found)
        while waiting:
            parent = waiting.pop(0)
            for reply in await self._all_pages(f"{V2}/footer-comments/{parent['id']}/children"):
                if str(reply.get("id")) not in seen:
                    seen.add(str(reply.get("id")))
                    found.append(reply)
                    waiting.append(reply)
        return found

    async def _all_pages(self, path: str) -> list[dict[str, Any]]:
        """The results of a comment listing, following `_links.next`."""
        found: list[dict[str, Any]] = []
        next_path: str | None = path
        params: dict[str, str] | None = {"body-format": "storage", "limit": str(PAGE_SIZE)}
        while next_path:
            body = await self.call("GET", next_path, params=params)
            found += body.get("results") or []
            following = (body.get("_links") or {}).get("next")
            next_path, params = (str(following), None) if following else (None, None)
        return found

    async def create_footer_comment(self, page_id: str, storage: str) -> dict[str, Any]:
        return await self.call("POST", f"{V2}/footer-comments", json={
            "pageId": page_id, "body": {"representation": "storage", "value": storage}})

    async def user_name(self, account_id: str) -> str:
        """The display name of an Atlassian account (asked once per process)."""
        if account_id not in self._names:
            try:
                user = await self.call("GET", f"{V1}/user", params={"accountId": account_id})
            except VendorError as error:
                if error.retryable:
                    raise
                user = {}
            self._names[account_id] = str(user.get("displayName") or user.get("publicName")
                                          or f"Confluence user {account_id}")
        return self._names[account_id]

    async def close(self) -> None:
        await self.http.aclose()
