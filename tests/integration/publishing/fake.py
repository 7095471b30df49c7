"""An in-memory Confluence Cloud site and PagerDuty account behind respx, with injected faults.

Every request is checked against the vendor's OpenAPI document before it is answered
(Confluence REST v2 for pages and footer comments, v1 for attachments and users, PagerDuty
REST v2 for incident notes), and every answer is checked too. Beyond the specs, the fakes
refuse what the vendors refuse: storage format that is not well-formed XHTML, a second page
with the same title in a space, an update that does not name the next version, an attachment
upload without `X-Atlassian-Token`.
"""

from __future__ import annotations

import email
import email.policy
import itertools
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx
import respx

from tests.contract.openapi import OpenAPI, confluence_v1, confluence_v2, pagerduty_rest

SITE = "https://acme.atlassian.test"
PAGERDUTY_API = "https://api.pagerduty.test"
SPACE_ID = "98304"
BOT_ACCOUNT = "5b10ac8d82e05b22cc7d4ef5"
Fault = Callable[[httpx.Request], httpx.Response | None]


def stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def parse_storage(storage: str) -> ET.Element:
    """Storage format as XML: wrapped in a root declaring the ac and ri namespaces."""
    return ET.fromstring(
        '<root xmlns:ac="http://atlassian.com/content" '
        f'xmlns:ri="http://atlassian.com/resource/identifier">{storage}</root>')


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def answer(status: int, headers: dict[str, str] | None = None) -> Fault:
    """A fault: answer `status` (with headers) without doing anything."""
    return lambda _request: httpx.Response(status, headers=headers, json={
        "errors": [{"status": status, "code": "INJECTED", "title": "injected fault"}]})


def timeout_after_sending(fake: FakeVendor) -> Fault:
    """A fault: the vendor does the work, but the answer never arrives."""
    def fault(request: httpx.Request) -> httpx.Response | None:
        fake.perform(request)
        raise httpx.ReadTimeout("timed out after sending", request=request)
    return fault


class FakeVendor:
    """Dispatch by operation id to `op_<operationId>`, after the spec check and faults."""

    base_url = ""

    def __init__(self) -> None:
        self.faults: dict[str, list[Fault]] = {}
        self.calls: list[str] = []
        self.ids = itertools.count(1_000_001)
        self.clock = 1_800_000_000.0

    def spec_for(self, request: httpx.Request) -> OpenAPI:
        raise NotImplementedError

    def fail(self, operation_id: str, *faults: Fault) -> None:
        """The next calls of this operation meet these faults, one each, in order."""
        self.faults.setdefault(operation_id, []).extend(faults)

    def router(self) -> respx.MockRouter:
        router = respx.mock(base_url=self.base_url, assert_all_called=False)
        router.route().mock(side_effect=self.handle)
        return router

    def perform(self, request: httpx.Request) -> tuple[int, Any]:
        spec = self.spec_for(request)
        op = spec.operation(request.method, request.url.path)
        handler = getattr(self, f"op_{op.operation_id}", None)
        if handler is None:
            raise AssertionError(f"the fake does not implement {op.operation_id}")
        status, body = handler(request)
        spec.check_response(op, status, body)
        return status, body

    def handle(self, request: httpx.Request) -> httpx.Response:
        spec = self.spec_for(request)
        op = spec.check_request(request)
        self.calls.append(op.operation_id)
        queued = self.faults.get(op.operation_id)
        if queued:
            answer_ = queued.pop(0)(request)
            if answer_ is not None:
                spec.check_response(op, answer_.status_code, _json_or_none(answer_))
                return answer_
        status, body = self.perform(request)
        return httpx.Response(status, json=body)


def _error(status: int, title: str) -> tuple[int, Any]:
    return status, {"errors": [{"status": status, "code": "INVALID", "title": title}]}


@dataclass
class Page:
    id: str
    title: str
    space_id: str
    parent_id: str
    storage: str
    version: int = 1
    created_at: str = ""
    versions: list[str] = field(default_factory=list)
    """Every body it had, oldest first."""


@dataclass
class FooterComment:
    id: str
    page_id: str
    author: str
    storage: str
    created_at: str
    parent_id: str = ""
    """The comment this one replies to ("": it starts a thread on the page)."""


class FakeConfluence(FakeVendor):
    base_url = SITE

    def __init__(self) -> None:
        super().__init__()
        self.v2, self.v1 = confluence_v2(), confluence_v1()
        self.spaces = {SPACE_ID: {"id": SPACE_ID, "key": "ENG", "name": "Engineering",
                                  "type": "global", "status": "current",
                                  "homepageId": "65537"}}
        self.pages: dict[str, Page] = {}
        self.attachments: dict[str, dict[str, list[bytes]]] = {}
        self.comments: list[FooterComment] = []
        self.users = {BOT_ACCOUNT: "ReplayHub Bot", "557058:ada": "Ada Lovelace",
                      "557058:grace": "Grace Hopper"}
        self.comment_page_size = 25

    def spec_for(self, request: httpx.Request) -> OpenAPI:
        return self.v1 if request.url.path.startswith("/wiki/rest/api/") else self.v2

    def tick(self) -> str:
        self.clock += 1
        return stamp(self.clock)

    # state -------------------------------------------------------------------------
    def add_comment(self, page_id: str, account: str, text: str,
                    reply_to: str = "") -> FooterComment:
        comment = FooterComment(str(next(self.ids)), page_id, account, f"<p>{text}</p>",
                                self.tick(), reply_to)
        self.comments.append(comment)
        return comment

    def comments_with(self, text: str) -> list[FooterComment]:
        return [c for c in self.comments if text in c.storage]

    # pages -------------------------------------------------------------------------
    def _page_body(self, page: Page, storage: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": page.id, "status": "current", "title": page.title, "spaceId": page.space_id,
            "parentId": page.parent_id, "parentType": "page", "authorId": BOT_ACCOUNT,
            "createdAt": page.created_at,
            "version": {"number": page.version, "createdAt": stamp(self.clock),
                        "authorId": BOT_ACCOUNT, "minorEdit": False, "message": ""},
            "_links": {"webui": f"/spaces/ENG/pages/{page.id}/{page.title.replace(' ', '+')}",
                       "editui": f"/pages/resumedraft.action?draftId={page.id}",
                       "tinyui": f"/x/{page.id}"}}
        if storage:
            body["body"] = {"storage": {"representation": "storage", "value": page.storage}}
        return body

    def _storage_of(self, request: httpx.Request) -> tuple[dict[str, Any], str | None]:
        data = json.loads(request.content)
        body = data.get("body") or {}
        if body.get("representation") != "storage":
            return data, None
        value = str(body.get("value") or "")
        try:
            parse_storage(value)
        except ET.ParseError:
            return data, None
        return data, value

    def op_getSpaceById(self, request: httpx.Request) -> tuple[int, Any]:
        space = self.spaces.get(request.url.path.rsplit("/", 1)[1])
        return (200, space) if space else _error(404, "no such space")

    def op_getSpaces(self, request: httpx.Request) -> tuple[int, Any]:
        keys = request.url.params.get("keys", "").split(",")
        return 200, {"results": [s for s in self.spaces.values() if s["key"] in keys],
                     "_links": {"base": f"{SITE}/wiki"}}

    def op_createPage(self, request: httpx.Request) -> tuple[int, Any]:
        data, storage = self._storage_of(request)
        if storage is None:
            return _error(400, "the body is not valid storage format")
        if data["spaceId"] not in self.spaces:
            return _error(404, "no such space")
        if any(p.title == data.get("title") and p.space_id == data["spaceId"]
               for p in self.pages.values()):
            return _error(400, "A page with this title already exists")
        page = Page(str(next(self.ids)), data["title"], data["spaceId"],
                    data.get("parentId") or self.spaces[data["spaceId"]]["homepageId"],
                    storage, created_at=self.tick(), versions=[storage])
        self.pages[page.id] = page
        return 200, {**self._page_body(page), "_links": {
            **self._page_body(page)["_links"], "base": f"{SITE}/wiki"}}

    def op_getPageById(self, request: httpx.Request) -> tuple[int, Any]:
        page = self.pages.get(request.url.path.rsplit("/", 1)[1])
        if page is None:
            return _error(404, "no such page")
        return 200, self._page_body(page, request.url.params.get("body-format") == "storage")

    def op_updatePage(self, request: httpx.Request) -> tuple[int, Any]:
        page = self.pages.get(request.url.path.rsplit("/", 1)[1])
        if page is None:
            return _error(404, "no such page")
        data, storage = self._storage_of(request)
        if storage is None:
            return _error(400, "the body is not valid storage format")
        if data["id"] != page.id:
            return _error(400, "the id does not match the page")
        if data["version"].get("number") != page.version + 1:
            return _error(409, f"Version must be incremented: the page is at {page.version}")
        page.title, page.storage, page.version = data["title"], storage, page.version + 1
        page.versions.append(storage)
        body = self._page_body(page)
        return 200, {**body, "_links": {**body["_links"], "base": f"{SITE}/wiki"}}

    def op_getPages(self, request: httpx.Request) -> tuple[int, Any]:
        params = request.url.params
        spaces = params.get("space-id", "").split(",") if "space-id" in params else None
        found = [p for p in self.pages.values()
                 if (spaces is None or p.space_id in spaces)
                 and ("title" not in params or p.title == params["title"])]
        storage = params.get("body-format") == "storage"
        results = []
        for page in found:
            body = self._page_body(page, storage)
            results.append({**body, "subtype": None})
        return 200, {"results": results, "_links": {"base": f"{SITE}/wiki"}}

    # attachments (v1) --------------------------------------------------------------
    def op_createOrUpdateAttachments(self, request: httpx.Request) -> tuple[int, Any]:
        if request.headers.get("X-Atlassian-Token") not in {"nocheck", "no-check"}:
            return 403, {"statusCode": 403, "message": "XSRF check failed"}
        page_id = request.url.path.split("/")[5]
        if page_id not in self.pages:
            return 404, {"statusCode": 404, "message": "no such content"}
        message = email.message_from_bytes(
            f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
            + request.content, policy=email.policy.HTTP)
        results = []
        for part in message.iter_parts():
            if part.get_param("name", header="content-disposition") != "file":
                continue
            filename = str(part.get_filename())
            data = part.get_payload(decode=True)
            versions = self.attachments.setdefault(page_id, {}).setdefault(filename, [])
            versions.append(bytes(data))
            results.append({"id": f"att{next(self.ids)}", "type": "attachment",
                            "status": "current", "title": filename,
                            "version": {"number": len(versions), "minorEdit": True,
                                        "when": self.tick()},
                            "_links": {"download": f"/download/attachments/{page_id}/{filename}"}})
        return 200, {"results": results, "size": len(results), "start": 0, "limit": 50,
                     "_links": {"base": f"{SITE}/wiki"}}

    def op_getUser(self, request: httpx.Request) -> tuple[int, Any]:
        account = request.url.params.get("accountId", "")
        if account not in self.users:
            return 404, {"statusCode": 404, "message": "no such user"}
        return 200, {"type": "known", "accountId": account, "accountType": "atlassian",
                     "displayName": self.users[account], "publicName": self.users[account]}

    # footer comments ---------------------------------------------------------------
    def _comment_body(self, comment: FooterComment, storage: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": comment.id, "status": "current", "title": "Re: page",
            "pageId": comment.page_id,
            "version": {"number": 1, "createdAt": comment.created_at,
                        "authorId": comment.author, "minorEdit": False, "message": ""},
            "_links": {"webui": f"/spaces/ENG/pages/{comment.page_id}?focusedCommentId="
                                f"{comment.id}"}}
        if storage:
            body["body"] = {"storage": {"representation": "storage", "value": comment.storage}}
        return body

    def op_getPageFooterComments(self, request: httpx.Request) -> tuple[int, Any]:
        page_id = request.url.path.split("/")[5]
        if page_id not in self.pages:
            return _error(404, "no such page")
        params = dict(parse_qsl(request.url.query.decode()))
        start = int(params.get("cursor", "0"))
        size = min(int(params.get("limit", "25")), self.comment_page_size)
        mine = [c for c in self.comments if c.page_id == page_id and not c.parent_id]
        chunk = mine[start:start + size]
        links: dict[str, str] = {"base": f"{SITE}/wiki"}
        if start + size < len(mine):
            links["next"] = (f"/wiki/api/v2/pages/{page_id}/footer-comments?cursor="
                             f"{start + size}&body-format=storage&limit={size}")
        storage = params.get("body-format") == "storage"
        return 200, {"results": [self._comment_body(c, storage) for c in chunk],
                     "_links": links}

    def op_getFooterCommentChildren(self, request: httpx.Request) -> tuple[int, Any]:
        """A comment's replies (ChildrenCommentModel: parentCommentId, no pageId)."""
        parent_id = request.url.path.split("/")[5]
        if not any(c.id == parent_id for c in self.comments):
            return _error(404, "no such comment")
        params = dict(parse_qsl(request.url.query.decode()))
        start = int(params.get("cursor", "0"))
        size = min(int(params.get("limit", "25")), self.comment_page_size)
        replies = [c for c in self.comments if c.parent_id == parent_id]
        links: dict[str, str] = {"base": f"{SITE}/wiki"}
        if start + size < len(replies):
            links["next"] = (f"/wiki/api/v2/footer-comments/{parent_id}/children?cursor="
                             f"{start + size}&body-format=storage&limit={size}")
        storage = params.get("body-format") == "storage"
        results = []
        for reply in replies[start:start + size]:
            body = self._comment_body(reply, storage)
            del body["pageId"]
            results.append({**body, "parentCommentId": parent_id})
        return 200, {"results": results, "_links": links}

    def op_createFooterComment(self, request: httpx.Request) -> tuple[int, Any]:
        data = json.loads(request.content)
        if data.get("pageId") not in self.pages:
            return _error(404, "no such page")
        body = data.get("body") or {}
        try:
            parse_storage(str(body.get("value") or ""))
        except ET.ParseError:
            return _error(400, "the body is not valid storage format")
        comment = FooterComment(str(next(self.ids)), data["pageId"], BOT_ACCOUNT,
                                body["value"], self.tick())
        self.comments.append(comment)
        answer_ = self._comment_body(comment, True)
        return 201, {**answer_, "_links": {**answer_["_links"], "base": f"{SITE}/wiki"}}


class FakePagerDuty(FakeVendor):
    base_url = PAGERDUTY_API

    def __init__(self) -> None:
        super().__init__()
        self.spec = pagerduty_rest()
        self.notes: dict[str, list[dict[str, Any]]] = {}

    def spec_for(self, request: httpx.Request) -> OpenAPI:
        return self.spec

    def op_listIncidentNotes(self, request: httpx.Request) -> tuple[int, Any]:
        return 200, {"notes": self.notes.get(request.url.path.split("/")[2], [])}

    def op_createIncidentNote(self, request: httpx.Request) -> tuple[int, Any]:
        incident_id = request.url.path.split("/")[2]
        self.clock += 1
        note = {"id": f"PN{next(self.ids)}", "content": json.loads(request.content)["note"][
            "content"], "created_at": stamp(self.clock),
            "user": {"id": "PXPGF42", "type": "user_reference", "summary": "ReplayHub",
                     "self": "https://api.pagerduty.com/users/PXPGF42",
                     "html_url": "https://acme.pagerduty.com/users/PXPGF42"},
            "channel": {"summary": "The PagerDuty website or APIs"}}
        self.notes.setdefault(incident_id, []).append(note)
        return 200, {"note": note}
