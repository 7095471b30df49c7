"""An in-memory Zendesk behind respx: tickets, comments, uploads, users, injected faults.

Every request is checked against Zendesk's OpenAPI document before it is answered, and
every answer is checked too, so a request Zendesk would refuse fails the test.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import respx

from tests.contract.openapi import OpenAPI, zendesk

BASE_URL = "https://acme.zendesk.test"
Fault = Callable[[httpx.Request], httpx.Response | None]


@dataclass
class Ticket:
    id: int
    requester_id: int
    tags: list[str] = field(default_factory=list)
    custom_fields: dict[int, Any] = field(default_factory=dict)
    comments: list[dict[str, Any]] = field(default_factory=list)

    def notes_with(self, text: str) -> list[dict[str, Any]]:
        return [c for c in self.comments if text in c["html_body"]]


def stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeZendesk:
    """Zendesk's state and its API; `faults[operation_id]` holds what to do instead, once."""

    def __init__(self, spec: OpenAPI | None = None) -> None:
        self.spec = spec or zendesk()
        self.tickets: dict[int, Ticket] = {}
        self.users: dict[int, dict[str, Any]] = {
            1: {"id": 1, "name": "ReplayHub", "email": "bot@acme.test", "role": "agent"}}
        self.uploads: dict[str, bytes] = {}
        self.faults: dict[str, list[Fault]] = {}
        self.calls: list[str] = []
        self.ids = itertools.count(1000)
        self.clock = 1_800_000_000.0

    # state -------------------------------------------------------------------------
    def add_user(self, user_id: int, name: str, email: str | None = None,
                 external_id: str | None = None) -> None:
        self.users[user_id] = {"id": user_id, "name": name, "email": email,
                               "external_id": external_id, "role": "end-user"}

    def add_ticket(self, ticket_id: int, requester_id: int) -> Ticket:
        ticket = Ticket(ticket_id, requester_id)
        self.tickets[ticket_id] = ticket
        self.add_comment(ticket_id, requester_id, "My checkout is broken", public=True)
        return ticket

    def add_comment(self, ticket_id: int, author_id: int, body: str, public: bool = True,
                    html_body: str | None = None,
                    uploads: list[str] | None = None) -> dict[str, Any]:
        self.clock += 1
        comment = {"id": next(self.ids), "type": "Comment", "author_id": author_id,
                   "body": body, "html_body": html_body or f"<p>{body}</p>",
                   "plain_body": body, "public": public, "created_at": stamp(self.clock),
                   "attachments": [{"id": next(self.ids), "file_name": "replay.png",
                                    "content_type": "image/png"} for _ in uploads or []],
                   "via": {"channel": "api"}}
        self.tickets[ticket_id].comments.append(comment)
        return comment

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
        self.calls.append(op.operation_id)
        queued = self.faults.get(op.operation_id)
        if queued:
            fault = queued.pop(0)
            answer = fault(request)
            if answer is not None:
                self.spec.check_response(op, answer.status_code, _json_or_none(answer))
                return answer
        handler = getattr(self, f"op_{op.operation_id}", None)
        if handler is None:
            raise AssertionError(f"the fake Zendesk does not implement {op.operation_id}")
        status, body = handler(request)
        self.spec.check_response(op, status, body)
        return httpx.Response(status, json=body)

    def _ticket(self, request: httpx.Request) -> Ticket | None:
        ticket_id = int(request.url.path.split("/")[4].removesuffix(".json"))
        return self.tickets.get(ticket_id)

    def op_ShowCurrentUser(self, request: httpx.Request) -> tuple[int, Any]:
        return 200, {"user": self.users[1]}

    def op_ShowUser(self, request: httpx.Request) -> tuple[int, Any]:
        user = self.users.get(int(request.url.path.rsplit("/", 1)[1]))
        if user is None:
            return 404, {"error": "RecordNotFound", "description": "Not found"}
        return 200, {"user": user}

    def op_UploadFiles(self, request: httpx.Request) -> tuple[int, Any]:
        token = f"upl_{next(self.ids)}"
        self.uploads[token] = request.content
        return 201, {"upload": {"token": token, "attachment": {
            "id": next(self.ids), "file_name": request.url.params["filename"],
            "content_type": "image/png", "size": len(request.content)}}}

    def op_UpdateTicket(self, request: httpx.Request) -> tuple[int, Any]:
        ticket = self._ticket(request)
        if ticket is None:
            return 404, {"error": "RecordNotFound", "description": "Not found"}
        update = json.loads(request.content)["ticket"]
        events = []
        if "comment" in update:
            comment = update["comment"]
            missing = [t for t in comment.get("uploads", []) if t not in self.uploads]
            if missing:
                return 422, {"error": "RecordInvalid", "description": "unknown upload token"}
            added = self.add_comment(ticket.id, 1, comment.get("body", ""),
                                     public=comment.get("public", True),
                                     html_body=comment.get("html_body"),
                                     uploads=comment.get("uploads"))
            events.append({"id": added["id"], "type": "Comment", "body": added["body"]})
        for custom in update.get("custom_fields", []):
            ticket.custom_fields[custom["id"]] = custom["value"]
        return 200, {"ticket": self._ticket_body(ticket),
                     "audit": {"id": next(self.ids), "ticket_id": ticket.id, "events": events}}

    def op_PutTagsTicket(self, request: httpx.Request) -> tuple[int, Any]:
        ticket = self._ticket(request)
        if ticket is None:
            return 404, {"error": "RecordNotFound", "description": "Not found"}
        for tag in json.loads(request.content)["tags"]:
            if tag not in ticket.tags:
                ticket.tags.append(tag)
        return 200, {"tags": ticket.tags}

    def op_ListTicketComments(self, request: httpx.Request) -> tuple[int, Any]:
        ticket = self._ticket(request)
        if ticket is None:
            return 404, {"error": "RecordNotFound", "description": "Not found"}
        authors = {c["author_id"] for c in ticket.comments}
        users = [{"id": u["id"], "name": u["name"]} for i, u in self.users.items()
                 if i in authors]
        return 200, {"comments": ticket.comments, "users": users, "next_page": None,
                     "previous_page": None, "count": len(ticket.comments)}

    def _ticket_body(self, ticket: Ticket) -> dict[str, Any]:
        return {"id": ticket.id, "requester_id": ticket.requester_id, "tags": ticket.tags,
                "custom_fields": [{"id": k, "value": v}
                                  for k, v in ticket.custom_fields.items()]}


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def answer(status: int, headers: dict[str, str] | None = None) -> Fault:
    """A fault: answer `status` (with headers) without doing anything."""
    return lambda _request: httpx.Response(status, headers=headers,
                                           json={"error": "Fault", "description": "injected"})


def timeout_after_sending(fake: FakeZendesk) -> Fault:
    """A fault: Zendesk does the work, but the answer never arrives."""
    def fault(request: httpx.Request) -> httpx.Response | None:
        op = fake.spec.operation(request.method, request.url.path)
        getattr(fake, f"op_{op.operation_id}")(request)
        raise httpx.ReadTimeout("timed out after sending", request=request)
    return fault


def timeout_before_sending() -> Fault:
    def fault(request: httpx.Request) -> httpx.Response | None:
        raise httpx.ConnectTimeout("could not connect", request=request)
    return fault
