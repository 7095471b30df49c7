"""Builders for hand-made rrweb events and serialized nodes used by the unit tests."""

import json
from collections.abc import Iterable
from typing import Any

from replayhub.ingest.indexer import BatchResult

T0 = 1_700_000_000_000
Event = dict[str, Any]
SerializedNode = dict[str, Any]

DOC_ID, DOCTYPE_ID, HTML_ID, HEAD_ID, TITLE_ID, TITLE_TEXT_ID, BODY_ID = range(1, 8)


# --- serialized nodes ---------------------------------------------------------------------


def element(
    node_id: int, tag: str, attrs: dict[str, Any] | None = None, *children: SerializedNode
) -> SerializedNode:
    return {
        "type": 2,
        "tagName": tag,
        "attributes": dict(attrs or {}),
        "childNodes": list(children),
        "id": node_id,
    }


def text(node_id: int, content: str, *, is_style: bool = False) -> SerializedNode:
    node: SerializedNode = {"type": 3, "textContent": content, "id": node_id}
    if is_style:
        node["isStyle"] = True
    return node


def comment(node_id: int, content: str) -> SerializedNode:
    return {"type": 5, "textContent": content, "id": node_id}


def document(
    body: Iterable[SerializedNode], title: str | None = "Shop", head: Iterable[SerializedNode] = ()
) -> SerializedNode:
    """A whole page: ids 1-7 are document, doctype, html, head, title, title text, body."""
    head_children = list(head)
    if title is not None:
        head_children.insert(0, element(TITLE_ID, "title", {}, text(TITLE_TEXT_ID, title)))
    return {
        "type": 0,
        "id": DOC_ID,
        "childNodes": [
            {"type": 1, "name": "html", "publicId": "", "systemId": "", "id": DOCTYPE_ID},
            element(
                HTML_ID,
                "html",
                {"lang": "en"},
                element(HEAD_ID, "head", {}, *head_children),
                element(BODY_ID, "body", {}, *body),
            ),
        ],
    }


# --- events -------------------------------------------------------------------------------


def event(kind: int, t: int, data: dict[str, Any]) -> Event:
    return {"type": kind, "data": data, "timestamp": t}


def meta(t: int, href: str, width: int = 1280, height: int = 720) -> Event:
    return event(4, t, {"href": href, "width": width, "height": height})


def full_snapshot(t: int, node: SerializedNode) -> Event:
    return event(2, t, {"node": node, "initialOffset": {"left": 0, "top": 0}})


def load(
    t: int, href: str, body: Iterable[SerializedNode] = (), title: str | None = "Shop"
) -> list[Event]:
    """A page load as rrweb records it: Meta then FullSnapshot."""
    return [meta(t, href), full_snapshot(t + 1, document(body, title))]


def incremental(t: int, source: int, **data: Any) -> Event:
    return event(3, t, {"source": source, **data})


def mutation(
    t: int,
    adds: Iterable[dict[str, Any]] = (),
    removes: Iterable[dict[str, Any]] = (),
    texts: Iterable[dict[str, Any]] = (),
    attributes: Iterable[dict[str, Any]] = (),
) -> Event:
    return incremental(
        t, 0, adds=list(adds), removes=list(removes), texts=list(texts),
        attributes=list(attributes),
    )


def add(parent_id: int, node: SerializedNode, next_id: int | None = None) -> dict[str, Any]:
    return {"parentId": parent_id, "nextId": next_id, "node": node}


def remove(parent_id: int, node_id: int) -> dict[str, Any]:
    return {"parentId": parent_id, "id": node_id}


def set_text(node_id: int, value: str) -> dict[str, Any]:
    return {"id": node_id, "value": value}


def set_attrs(node_id: int, attrs: dict[str, Any]) -> dict[str, Any]:
    return {"id": node_id, "attributes": dict(attrs)}


def mouse(t: int, kind: int, node_id: int) -> Event:
    return incremental(t, 2, type=kind, id=node_id, x=10, y=20)


def click(t: int, node_id: int) -> Event:
    return mouse(t, 2, node_id)


def dblclick(t: int, node_id: int) -> Event:
    return mouse(t, 4, node_id)


def contextmenu(t: int, node_id: int) -> Event:
    return mouse(t, 3, node_id)


def focus(t: int, node_id: int) -> Event:
    return incremental(t, 2, type=5, id=node_id)


def mouse_move(t: int, x: int = 1, y: int = 1) -> Event:
    return incremental(t, 1, positions=[{"x": x, "y": y, "id": BODY_ID, "timeOffset": 0}])


def scroll(t: int, node_id: int = DOC_ID, y: int = 100) -> Event:
    return incremental(t, 3, id=node_id, x=0, y=y)


def input_event(
    t: int, node_id: int, value: str, *, checked: bool = False, user: bool | None = None
) -> Event:
    data: dict[str, Any] = {"text": value, "isChecked": checked, "id": node_id}
    if user is not None:
        data["userTriggered"] = user
    return incremental(t, 5, **data)


def typing(t: int, node_id: int, value: str, step: int = 50) -> list[Event]:
    """One Input event per typed character, as rrweb records keystrokes."""
    return [input_event(t + i * step, node_id, value[: i + 1]) for i in range(len(value))]


def custom(t: int, tag: str, payload: dict[str, Any]) -> Event:
    return event(5, t, {"tag": tag, "payload": payload})


def js_error(
    t: int, message: str, type_: str = "TypeError", stack: str = "", url: str = ""
) -> Event:
    return custom(t, "error", {"type": type_, "message": message, "stack": stack, "url": url})


def network_error(t: int, method: str, url: str, status: int, message: str = "") -> Event:
    payload = {"method": method, "url": url, "status": status, "message": message}
    return custom(t, "network-error", payload)


def identify(t: int, user_id: str, email: str, name: str) -> Event:
    return custom(t, "identify", {"id": user_id, "email": email, "name": name})


def navigation(t: int, href: str, title: str = "") -> Event:
    return custom(t, "navigation", {"href": href, "title": title})


def console(t: int, level: str, *args: Any, trace: Iterable[str] = ()) -> Event:
    """A console plugin record; arguments are JSON-stringified like the plugin does."""
    payload = {"level": level, "trace": list(trace), "payload": [json.dumps(a) for a in args]}
    return event(6, t, {"plugin": "rrweb/console@1", "payload": payload})


# --- results ------------------------------------------------------------------------------


def merge(results: Iterable[BatchResult]) -> BatchResult:
    """Fold consecutive batch results into one, as the server folds them into a session."""
    total = BatchResult()
    for result in results:
        total.pages += result.pages
        total.actions += result.actions
        total.errors += result.errors
        total.frustrations += result.frustrations
        total.first_ts = _pick(min, total.first_ts, result.first_ts)
        total.last_ts = _pick(max, total.last_ts, result.last_ts)
        total.viewport = result.viewport or total.viewport
        total.user = result.user or total.user
    return total


def _pick(choose: Any, current: int | None, new: int | None) -> int | None:
    if current is None:
        return new
    return current if new is None else choose(current, new)


def kinds(result: BatchResult) -> list[str]:
    return [signal.kind for signal in result.frustrations]
