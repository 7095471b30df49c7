"""An in-memory Notion behind respx: pages, blocks, comments, users, injected faults.

Every request is checked against Notion's OpenAPI document (tests/contract/notion_spec.py)
and must carry the bearer token and the Notion-Version header; every answer is checked too.
Times move a minute per write, as Notion's `last_edited_time` has minute precision. Search
lags behind writes as Notion's index does: a page is found only `search_lag` calls after it
was made. A sub-page shows at once as a `child_page` block of its parent page.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import respx

from tests.contract.notion_spec import NOTION_VERSION, NotionOpenAPI, notion
from tests.contract.openapi import ContractError

BASE_URL = "https://api.notion.test"
TOKEN = "ntn_secret_that_must_not_leak"
PARENT_PAGE = "1f2e3d4c-5b6a-4978-8899-aabbccddeeff"
BOT = "16d84278-ab0e-484c-9bdd-b35da3bd8905"
Fault = Callable[[httpx.Request], httpx.Response | None]


def stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:00.000Z")


def rich_answer(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rich text as Notion returns it (annotations and plain_text filled in)."""
    marks = {"bold": False, "italic": False, "strikethrough": False, "underline": False,
             "code": False, "color": "default"}
    return [{"type": "text", "text": {"content": item["text"]["content"],
                                      "link": item["text"].get("link")},
             "annotations": {**marks, **item.get("annotations", {})},
             "plain_text": item["text"]["content"],
             "href": (item["text"].get("link") or {}).get("url")} for item in items]


@dataclass
class Page:
    id: str
    parent: dict[str, Any]
    title: str
    created: str
    edited: str
    archived: bool = False
    created_call: int = 0
    """How many calls the fake had answered when the page was made (for the search lag)."""
    title_property: str = "title"


@dataclass
class Database:
    id: str
    title: str
    data_source: str
    title_property: str


@dataclass
class Stored:
    id: str
    parent: dict[str, Any]
    type: str
    body: dict[str, Any]
    created: str
    children: list[str] = field(default_factory=list)
    archived: bool = False


class FakeNotion:
    """Notion's state and its API; `faults[operation_id]` holds what to do instead, once."""

    def __init__(self, spec: NotionOpenAPI | None = None) -> None:
        self.spec = spec or notion()
        self.pages: dict[str, Page] = {}
        self.blocks: dict[str, Stored] = {}
        self.top: dict[str, list[str]] = {}
        """Page id → its top blocks, in order."""
        self.comments: dict[str, list[dict[str, Any]]] = {}
        """Page or block id → its open comments."""
        self.databases: dict[str, Database] = {}
        self.search_lag = 10
        self.users = {BOT: {"object": "user", "id": BOT, "name": "ReplayHub", "type": "bot",
                            "bot": {}}}
        self.faults: dict[str, list[Fault]] = {}
        self.calls: list[str] = []
        self.bodies: list[tuple[str, Any]] = []
        self.clock = 1_800_000_000.0
        self.ids = itertools.count(1)
        self.pages[PARENT_PAGE] = Page(PARENT_PAGE, {"type": "workspace", "workspace": True},
                                       "Post-mortems", stamp(self.clock), stamp(self.clock))
        self.top[PARENT_PAGE] = []

    # state -------------------------------------------------------------------------
    def new_id(self) -> str:
        return str(uuid.UUID(int=next(self.ids) + (7 << 76)))

    def tick(self) -> str:
        self.clock += 60
        return stamp(self.clock)

    def add_page(self, title: str, parent_page: str = PARENT_PAGE,
                 database: Database | None = None) -> Page:
        """A page under a page (listed at once as its parent's last `child_page` block) or
        in a database's data source."""
        now = self.tick()
        parent: dict[str, Any] = {"type": "page_id", "page_id": parent_page}
        if database is not None:
            parent = {"type": "data_source_id", "data_source_id": database.data_source,
                      "database_id": database.id}
        page = Page(self.new_id(), parent, title, now, now, created_call=len(self.calls),
                    title_property=database.title_property if database else "title")
        self.pages[page.id] = page
        self.top[page.id] = []
        if database is None:
            self.blocks[page.id] = Stored(page.id, {"type": "page_id", "page_id": parent_page},
                                          "child_page", {}, now)
            self.top[parent_page].append(page.id)
        return page

    def add_database(self, title: str, title_property: str = "Name") -> Database:
        database = Database(self.new_id(), title, self.new_id(), title_property)
        self.databases[database.id] = database
        return database

    def add_user(self, name: str) -> str:
        user_id = self.new_id()
        self.users[user_id] = {"object": "user", "id": user_id, "name": name, "type": "person",
                               "person": {"email": f"{name.lower()}@example.com"}}
        return user_id

    def add_comment(self, page_id: str, author: str, text: str) -> dict[str, Any]:
        """A comment on a page (its page-level discussion) or on one of its blocks."""
        now = self.tick()
        parent = {"type": "page_id", "page_id": page_id} if page_id in self.pages else \
            {"type": "block_id", "block_id": page_id}
        comment = {"object": "comment", "id": self.new_id(), "parent": parent,
                   "discussion_id": self.new_id(), "created_time": now, "last_edited_time": now,
                   "created_by": {"object": "user", "id": author},
                   "rich_text": rich_answer([{"text": {"content": text}}])}
        self.comments.setdefault(page_id, []).append(comment)
        return comment

    def archived(self, stored: Stored) -> bool:
        if stored.type == "child_page":
            return self.pages[stored.id].archived
        return stored.archived

    def live_blocks(self, page_id: str) -> list[Stored]:
        return [self.blocks[b] for b in self.top.get(page_id, [])
                if not self.archived(self.blocks[b])]

    def page_text(self, page_id: str) -> str:
        """Every text of the page's live blocks, nested ones included, one per line."""
        lines: list[str] = []

        def walk(ids: list[str]) -> None:
            for block_id in ids:
                stored = self.blocks[block_id]
                if self.archived(stored) or stored.type == "child_page":
                    continue
                texts = stored.body.get("rich_text") or []
                if stored.type == "table_row":
                    texts = [item for cell in stored.body["cells"] for item in cell]
                lines.append("".join(item["text"]["content"] for item in texts))
                walk(stored.children)

        walk(self.top.get(page_id, []))
        return "\n".join(lines)

    def fail(self, operation_id: str, *faults: Fault) -> None:
        """The next calls of this operation meet these faults, one each, in order."""
        self.faults.setdefault(operation_id, []).extend(faults)

    # respx -------------------------------------------------------------------------
    def router(self) -> respx.MockRouter:
        router = respx.mock(base_url=BASE_URL, assert_all_called=False)
        router.route().mock(side_effect=self.handle)
        return router

    def handle(self, request: httpx.Request) -> httpx.Response:
        op = self.spec.check_request(request)
        if request.headers.get("Notion-Version") != NOTION_VERSION:
            raise ContractError(f"{op.operation_id}: Notion-Version header missing or wrong")
        self.calls.append(op.operation_id)
        if request.content:
            self.bodies.append((op.operation_id, json.loads(request.content)))
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._answer(op, 401, error(401, "unauthorized", "API token is invalid."))
        queued = self.faults.get(op.operation_id)
        if queued:
            answer = queued.pop(0)(request)
            if answer is not None:
                self.spec.check_response(op, answer.status_code, answer.json())
                return answer
        handler = getattr(self, "op_" + op.operation_id.replace("-", "_"), None)
        if handler is None:
            raise AssertionError(f"the fake Notion does not implement {op.operation_id}")
        status, body = handler(request)
        return self._answer(op, status, body)

    def _answer(self, op: Any, status: int, body: Any) -> httpx.Response:
        self.spec.check_response(op, status, body)
        return httpx.Response(status, json=body)

    def run(self, request: httpx.Request) -> tuple[int, Any]:
        """Do what the request asks without answering (a fault that loses the answer)."""
        op = self.spec.operation(request.method, request.url.path)
        return getattr(self, "op_" + op.operation_id.replace("-", "_"))(request)  # type: ignore[no-any-return]

    # answers -----------------------------------------------------------------------
    def page_body(self, page: Page) -> dict[str, Any]:
        title = rich_answer([{"text": {"content": page.title}}])
        return {"object": "page", "id": page.id, "created_time": page.created,
                "last_edited_time": page.edited, "archived": page.archived,
                "in_trash": page.archived, "parent": page.parent,
                "created_by": {"object": "user", "id": BOT},
                "last_edited_by": {"object": "user", "id": BOT},
                "properties": {page.title_property: {"id": "title", "type": "title",
                                                     "title": title}},
                "url": f"https://www.notion.so/{page.title.replace(' ', '-')}-"
                       f"{page.id.replace('-', '')}"}

    def block_body(self, stored: Stored) -> dict[str, Any]:
        body = dict(stored.body)
        if stored.type == "child_page":
            body = {"title": self.pages[stored.id].title}
        if "rich_text" in body:
            body["rich_text"] = rich_answer(body["rich_text"])
        if stored.type == "table_row":
            body["cells"] = [rich_answer(cell) for cell in body["cells"]]
        return {"object": "block", "id": stored.id, "parent": stored.parent,
                "created_time": stored.created, "last_edited_time": stored.created,
                "created_by": {"object": "user", "id": BOT},
                "last_edited_by": {"object": "user", "id": BOT},
                "has_children": bool(stored.children), "archived": self.archived(stored),
                "in_trash": self.archived(stored), "type": stored.type, stored.type: body}

    def listing(self, items: list[Any], request: httpx.Request, kind: str) -> dict[str, Any]:
        size = int(request.url.params.get("page_size", "100"))
        start = int(request.url.params.get("start_cursor") or 0)
        page = items[start:start + size]
        more = start + size < len(items)
        return {"object": "list", "results": page, "next_cursor": str(start + size) if more
                else None, "has_more": more, "type": kind, kind: {}}

    def store(self, parent: dict[str, Any], block: dict[str, Any]) -> str:
        kind = block["type"]
        body = dict(block[kind])
        children = body.pop("children", [])
        stored = Stored(self.new_id(), parent, kind, body, stamp(self.clock))
        self.blocks[stored.id] = stored
        stored.children = [self.store({"type": "block_id", "block_id": stored.id}, child)
                           for child in children]
        return stored.id

    def touch(self, page_id: str) -> None:
        self.pages[page_id].edited = self.tick()

    # operations --------------------------------------------------------------------
    def op_get_self(self, request: httpx.Request) -> tuple[int, Any]:
        return 200, self.users[BOT]

    def op_get_user(self, request: httpx.Request) -> tuple[int, Any]:
        user = self.users.get(request.url.path.rsplit("/", 1)[1])
        if user is None:
            return 404, error(404, "object_not_found", "Could not find user.")
        return 200, user

    def title_of(self, properties: dict[str, Any], name: str) -> str | None:
        """The title set by `properties` (keyed by the title property's name or its id,
        `title`); None when they name a property the parent does not have."""
        if set(properties) - {name, "title"}:
            return None
        value = properties.get(name) or properties.get("title") or {"title": []}
        return "".join(t["text"]["content"] for t in value["title"])

    def op_post_page(self, request: httpx.Request) -> tuple[int, Any]:
        body = json.loads(request.content)
        parent = body["parent"]
        database = None
        if "data_source_id" in parent:
            database = next((d for d in self.databases.values()
                             if d.data_source == parent["data_source_id"]), None)
            if database is None:
                return 404, error(404, "object_not_found", "Could not find data source.")
        elif "database_id" in parent:
            return 400, error(400, "validation_error", "Creating a page with a database_id "
                              "parent needs a data_source_id with this Notion-Version.")
        elif parent.get("page_id") not in self.pages:
            return 404, error(404, "object_not_found", "Could not find page.")
        title = self.title_of(body["properties"],
                              database.title_property if database else "title")
        if title is None:
            return 400, error(400, "validation_error", "A property is not a property that "
                              "exists on the parent.")
        page = self.add_page(title, parent.get("page_id", PARENT_PAGE), database)
        self.top[page.id] = [self.store({"type": "page_id", "page_id": page.id}, block)
                             for block in body.get("children", [])]
        return 200, self.page_body(page)

    def op_retrieve_a_page(self, request: httpx.Request) -> tuple[int, Any]:
        page = self.pages.get(request.url.path.rsplit("/", 1)[1])
        if page is None:
            return 404, error(404, "object_not_found", "Could not find page.")
        return 200, self.page_body(page)

    def op_patch_page(self, request: httpx.Request) -> tuple[int, Any]:
        page = self.pages.get(request.url.path.rsplit("/", 1)[1])
        if page is None:
            return 404, error(404, "object_not_found", "Could not find page.")
        body = json.loads(request.content)
        if "properties" in body:
            title = self.title_of(body["properties"], page.title_property)
            if title is None:
                return 400, error(400, "validation_error", "A property is not a property "
                                  "that exists on the parent.")
            page.title = title
        if "archived" in body or "in_trash" in body:
            page.archived = bool(body.get("archived") or body.get("in_trash"))
        self.touch(page.id)
        return 200, self.page_body(page)

    def op_get_block_children(self, request: httpx.Request) -> tuple[int, Any]:
        block_id = request.url.path.split("/")[3]
        if block_id in self.pages:
            items = self.live_blocks(block_id)
        elif block_id in self.blocks:
            items = [self.blocks[c] for c in self.blocks[block_id].children]
        else:
            return 404, error(404, "object_not_found", "Could not find block.")
        return 200, self.listing([self.block_body(b) for b in items], request, "block")

    def op_patch_block_children(self, request: httpx.Request) -> tuple[int, Any]:
        page_id = request.url.path.split("/")[3]
        page = self.pages.get(page_id)
        if page is None:
            return 404, error(404, "object_not_found", "Could not find block.")
        if page.archived:
            return 400, error(400, "validation_error", "Can't edit block that is archived.")
        added = [self.store({"type": "page_id", "page_id": page_id}, block)
                 for block in json.loads(request.content)["children"]]
        self.top[page_id] += added
        self.touch(page_id)
        return 200, {"object": "list", "results": [self.block_body(self.blocks[b])
                                                   for b in added],
                     "next_cursor": None, "has_more": False, "type": "block", "block": {}}

    def op_delete_a_block(self, request: httpx.Request) -> tuple[int, Any]:
        stored = self.blocks.get(request.url.path.rsplit("/", 1)[1])
        if stored is None or self.archived(stored):
            return 404, error(404, "object_not_found", "Could not find block.")
        stored.archived = True
        if stored.type == "child_page":
            self.pages[stored.id].archived = True
        if stored.parent.get("page_id") in self.pages:
            self.touch(stored.parent["page_id"])
        return 200, self.block_body(stored)

    def op_post_search(self, request: httpx.Request) -> tuple[int, Any]:
        query = json.loads(request.content).get("query", "").lower()
        indexed = len(self.calls) - self.search_lag
        found = [self.page_body(p) for p in reversed(self.pages.values())
                 if query in p.title.lower() and p.created_call < indexed]
        return 200, {"object": "list", "results": found, "next_cursor": None,
                     "has_more": False, "type": "page_or_data_source",
                     "page_or_data_source": {}}

    def op_retrieve_a_comment(self, request: httpx.Request) -> tuple[int, Any]:
        block_id = request.url.params["block_id"]
        stored = self.blocks.get(block_id)
        if block_id not in self.pages and (stored is None or self.archived(stored)):
            return 404, error(404, "object_not_found", "Could not find block.")
        return 200, self.listing(self.comments.get(block_id, []), request, "comment")

    def op_retrieve_a_database(self, request: httpx.Request) -> tuple[int, Any]:
        database = self.databases.get(request.url.path.rsplit("/", 1)[1])
        if database is None:
            return 404, error(404, "object_not_found", "Could not find database.")
        return 200, {"object": "database", "id": database.id,
                     "title": rich_answer([{"text": {"content": database.title}}]),
                     "parent": {"type": "page_id", "page_id": PARENT_PAGE},
                     "data_sources": [{"id": database.data_source, "name": database.title}]}

    def op_retrieve_a_data_source(self, request: httpx.Request) -> tuple[int, Any]:
        source = request.url.path.rsplit("/", 1)[1]
        database = next((d for d in self.databases.values() if d.data_source == source), None)
        if database is None:
            return 404, error(404, "object_not_found", "Could not find data source.")
        name = database.title_property
        return 200, {"object": "data_source", "id": source,
                     "parent": {"type": "database_id", "database_id": database.id},
                     "title": rich_answer([{"text": {"content": database.title}}]),
                     "properties": {
                         name: {"id": "title", "name": name, "type": "title", "title": {}},
                         "Status": {"id": "a%3Fb", "name": "Status", "type": "select",
                                    "select": {"options": []}}}}

    def op_create_a_comment(self, request: httpx.Request) -> tuple[int, Any]:
        body = json.loads(request.content)
        page_id = body["parent"]["page_id"]
        if page_id not in self.pages:
            return 404, error(404, "object_not_found", "Could not find page.")
        text = "".join(item["text"]["content"] for item in body["rich_text"])
        return 200, self.add_comment(page_id, BOT, text)


def error(status: int, code: str, message: str) -> dict[str, Any]:
    return {"object": "error", "status": status, "code": code, "message": message}


def answer(status: int, headers: dict[str, str] | None = None) -> Fault:
    """A fault: answer `status` (with headers) without doing anything."""
    code = {429: "rate_limited", 401: "unauthorized", 409: "conflict_error",
            502: "internal_server_error"}.get(status, "validation_error")
    return lambda _request: httpx.Response(status, headers=headers,
                                           json=error(status, code, "injected"))


def timeout_after_sending(fake: FakeNotion) -> Fault:
    """A fault: Notion does the work, but the answer never arrives."""
    def fault(request: httpx.Request) -> httpx.Response | None:
        fake.run(request)
        raise httpx.ReadTimeout("timed out after sending", request=request)
    return fault


def timeout_before_sending() -> Fault:
    def fault(request: httpx.Request) -> httpx.Response | None:
        raise httpx.ConnectTimeout("could not connect", request=request)
    return fault
