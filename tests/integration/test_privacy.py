"""Secrets captured in clear by a recorder are masked before anything is stored or served."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient

from tests.conftest import recording
from tests.helpers import make_app, move_staged, renamed, send, stored_segments

CARD = "4111 1111 1111 1111"
EMAIL = "ada.private@example.org"
PASSWORD = "hunter2-Sesame"


def _unmasked_checkout() -> list[dict[str, Any]]:
    """The checkout journey as a recorder without input masking would have sent it."""
    batches = renamed(recording("checkout"), session_id="sess-clear-secrets")
    fields = {}
    for batch in batches:
        for event in batch["events"]:
            if event["type"] == 3 and event["data"].get("source") == 5:
                fields.setdefault(event["data"]["id"], event)
    clear = iter(["Augusta Ada King", EMAIL, CARD, "EC1A 1BB", PASSWORD])  # form order
    for event in fields.values():
        event["data"]["text"] = next(clear, "x")
    last = batches[-1]["events"][-1]
    body = _find_body_id(batches[0]["events"])
    batches[-1]["events"].append({"type": 3, "timestamp": last["timestamp"] + 5, "data": {
        "source": 0, "texts": [], "attributes": [], "removes": [],
        "adds": [{"parentId": body, "nextId": None, "node": {
            "type": 3, "id": 99_001, "textContent": f"Paid with card {CARD} thanks"}}]}})
    return batches


def _database_files(root: Path) -> bytes:
    """The SQLite files as they are on disk."""
    return b"".join(path.read_bytes() for path in root.glob("replayhub.db*"))


def _find_body_id(events: list[dict[str, Any]]) -> int:
    snapshot = next(event for event in events if event["type"] == 2)
    stack = [snapshot["data"]["node"]]
    while stack:
        node = stack.pop()
        if node.get("tagName") == "body":
            return node["id"]
        stack.extend(node.get("childNodes", []))
    raise AssertionError("no body in the snapshot")


async def test_clear_secrets_never_reach_storage_or_responses(
        client: AsyncTestClient[Any]) -> None:
    _, key = await make_app(client)
    for batch in _unmasked_checkout():
        assert (await send(client, key, batch)).status_code == 202
    served = (await client.get("/api/v1/sessions/sess-clear-secrets/events")).text
    detail = (await client.get("/api/v1/sessions/sess-clear-secrets")).text
    hub = client.hub  # type: ignore[attr-defined]
    staged = await stored_segments(hub)
    await move_staged(client)
    moved = await stored_segments(hub)
    database = _database_files(Path(hub.settings.data_dir))
    assert "Paid with card" in served  # the text node is kept, only the number is masked
    for secret in (CARD, CARD.replace(" ", ""), EMAIL, PASSWORD):
        assert secret not in served
        assert secret not in detail
        assert secret not in staged and secret not in moved
        assert secret.encode() not in database
