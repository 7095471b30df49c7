"""Teams alert cards against the official Adaptive Card 1.4 schema (pinned in fixtures), the
Workflows webhook body, mentions, the 28 KB limit, and the connector's HTTP behaviour."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import respx

from connectors.teams.cards import CARD_TYPE, MAX_BYTES, alert_card, size_of, webhook_body
from connectors.teams.connector import TeamsConnector
from connectors.teams.settings import TeamsSettings
from replayhub.connector import ChatAlert, ChatPerson, SnapshotRef, VendorError

SCHEMA = Path(__file__).resolve().parents[1] / "fixtures" / "teams" / \
    "adaptive-card-1.4.schema.json"
WEBHOOK = ("https://prod-42.westeurope.logic.azure.com:443/workflows/abc123/triggers/manual/"
           "paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0"
           "&sig=S3cr3tSignatureValue")
AT = re.compile(r"<at>[^<>]+</at>")


@cache
def card_validator() -> jsonschema.Draft6Validator:
    schema = json.loads(SCHEMA.read_text())
    return jsonschema.Draft6Validator(schema, format_checker=jsonschema.FormatChecker())


def texts_of(node: Any) -> list[str]:
    """Every TextBlock's text in the card."""
    if isinstance(node, list):
        return [text for item in node for text in texts_of(item)]
    if not isinstance(node, dict):
        return []
    found = [node["text"]] if node.get("type") == "TextBlock" else []
    return found + [text for key, value in node.items() if key != "msteams"
                    for text in texts_of(value)]


def check_card(card: dict[str, Any]) -> None:
    """The card validates against the 1.4 schema (without Teams' `msteams` host extension,
    which the schema does not know), and its mentions have the shape Teams documents: each
    `<at>Name</at>` in a text has one entity, and each entity's text is in a text."""
    assert card["version"] == "1.4"
    plain = {key: value for key, value in card.items() if key != "msteams"}
    errors = sorted(card_validator().iter_errors(plain), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]
    entities = card.get("msteams", {}).get("entities", [])
    jsonschema.validate(entities, {"type": "array", "items": {
        "type": "object", "required": ["type", "text", "mentioned"],
        "additionalProperties": False,
        "properties": {"type": {"const": "mention"}, "text": {"pattern": AT.pattern},
                       "mentioned": {"type": "object", "required": ["id", "name"],
                                     "additionalProperties": False,
                                     "properties": {"id": {"type": "string", "minLength": 1},
                                                    "name": {"type": "string",
                                                             "minLength": 1}}}}}})
    tags_in_text = {tag for text in texts_of(card) for tag in AT.findall(text)}
    assert tags_in_text == {entity["text"] for entity in entities}


def check_body(body: dict[str, Any]) -> None:
    """The Workflows webhook body: a message with one Adaptive Card attachment."""
    assert body["type"] == "message"
    assert len(body["attachments"]) == 1
    attachment = body["attachments"][0]
    assert attachment["contentType"] == CARD_TYPE
    check_card(attachment["content"])
    assert size_of(body) <= MAX_BYTES


ADA = ChatPerson(email="ada@example.com", name="Ada Lovelace", teams="ada@corp.example.com")
BOB = ChatPerson(email="bob@example.com")


def error_alert(**changes: Any) -> ChatAlert:
    values: dict[str, Any] = dict(
        key="checkout-errors:error:app_1:0f3c", kind="error.new",
        title="New error: TypeError: Cannot read properties of undefined (reading 'total')",
        summary="TypeError on https://shop.example.com/checkout: 3 times so far, 2 users, "
                "3 sessions",
        page_url="https://shop.example.com/checkout", sessions=3, users=2, mentions=[ADA, BOB],
        replay_url="https://hub.example.com/share/eyJzIjoiYSJ9.sig",
        hub_url="https://hub.example.com/?error=0f3c", session_id="s-1",
        snapshot=SnapshotRef("s-1", 1200),
        snapshot_url="https://hub.example.com/share/eyJzIjoiYSJ9.sig/snapshot.png",
        facts={"Rule": "checkout-errors", "App": "Shop", "fingerprint": "0f3c"})
    values.update(changes)
    return ChatAlert(**values)


CARDS = {
    "error": error_alert(),
    "resolved": error_alert(resolved=True, facts={"resolved_by": "Ada Lovelace"}),
    "bare": ChatAlert(key="r:s", kind="frustration", title="Frustration on button#pay",
                      summary="4 rage clicks"),
    "no links or snapshot": error_alert(replay_url="", hub_url="", snapshot_url="",
                                        mentions=[]),
    "playlist": ChatAlert(key="p:playlist:pl_1", kind="playlist.new_sessions",
                          title="New sessions in Checkout failures",
                          summary="2 new sessions in Checkout failures (2 users, 2 sessions)",
                          sessions=2, users=2, mentions=[BOB],
                          hub_url="https://hub.example.com/playlists/pl_1"),
}


@pytest.mark.parametrize("name", sorted(CARDS))
def test_every_card_validates_against_the_pinned_schema(name: str) -> None:
    body = webhook_body(CARDS[name])
    check_body(body)


def test_mentions_are_in_the_text_and_in_the_entities_by_sign_in_address() -> None:
    card = alert_card(error_alert())
    entities = card["msteams"]["entities"]
    assert [entity["mentioned"] for entity in entities] == [
        {"id": "ada@corp.example.com", "name": "Ada Lovelace"},
        {"id": "bob@example.com", "name": "bob@example.com"}]
    owners_line = next(text for text in texts_of(card) if text.startswith("Owners:"))
    assert owners_line == "Owners: <at>Ada Lovelace</at>, <at>bob@example.com</at>"


def test_a_name_with_angle_brackets_cannot_break_the_mention_tag() -> None:
    card = alert_card(error_alert(mentions=[ChatPerson(email="x@example.com",
                                                       name="<b>Eve</at>")]))
    check_card(card)
    assert card["msteams"]["entities"][0]["text"] == "<at>bEve/at</at>"


def test_the_card_has_the_replay_action_the_snapshot_and_the_facts() -> None:
    card = alert_card(error_alert())
    assert card["actions"][0] == {"type": "Action.OpenUrl", "title": "Open replay",
                                  "url": "https://hub.example.com/share/eyJzIjoiYSJ9.sig"}
    images = [item for item in card["body"] if item["type"] == "Image"]
    assert images[0]["url"].endswith("/snapshot.png")
    facts = next(item for item in card["body"] if item["type"] == "FactSet")["facts"]
    assert {"title": "Affected so far", "value": "3 sessions of 2 users"} in facts
    assert {"title": "Fingerprint", "value": "0f3c"} in facts


def test_resolved_cards_say_so_in_the_title() -> None:
    card = alert_card(CARDS["resolved"])
    assert card["body"][0]["text"].startswith("Resolved: New error")
    assert card["body"][0]["color"] == "Good"


@pytest.mark.parametrize("filler", ["x", "é", "漢", "🔥"])
def test_long_alerts_stay_under_28_kb_and_valid(filler: str) -> None:
    people = [ChatPerson(email=f"p{i}@example.com", name=filler * 300) for i in range(200)]
    alert = error_alert(title=filler * 5000, summary=filler * 100_000,
                        page_url="https://shop.example.com/" + filler * 20_000, mentions=people,
                        facts={f"{filler * 200} {i}": filler * 20_000 for i in range(60)})
    body = webhook_body(alert)
    check_body(body)
    assert size_of(body) <= MAX_BYTES
    assert body["attachments"][0]["content"]["actions"][0]["title"] == "Open replay"


@pytest.fixture
async def connector() -> Any:
    teams = TeamsConnector(TeamsSettings(enabled=True))
    yield teams
    await teams.close()


@respx.mock
async def test_posting_sends_a_valid_card_and_returns_the_marker(connector: Any) -> None:
    route = respx.post(WEBHOOK).mock(return_value=httpx.Response(202))
    found = await connector.post_alert(WEBHOOK, error_alert(), "replayhub-delivery:dlv_1")
    assert found == "replayhub-delivery:dlv_1"
    request = route.calls.last.request
    assert request.headers["content-type"] == "application/json"
    check_body(json.loads(request.content))
    assert await connector.update_alert(WEBHOOK, found, error_alert()) is False


@respx.mock
@pytest.mark.parametrize(("status", "headers", "retryable", "wait"), [
    (429, {"Retry-After": "7"}, True, 7.0),
    (503, {}, True, None),
    (400, {}, False, None),
    (404, {}, False, None),
])
async def test_failures_are_mapped_and_never_show_the_url(
        connector: Any, status: int, headers: dict[str, str], retryable: bool,
        wait: float | None) -> None:
    respx.post(WEBHOOK).mock(return_value=httpx.Response(
        status, headers=headers, json={"error": {"code": "x", "message": WEBHOOK}}))
    with pytest.raises(VendorError) as raised:
        await connector.post_alert(WEBHOOK, error_alert(), "m")
    error = raised.value
    assert (error.status, error.retryable, error.retry_after) == (status, retryable, wait)
    assert "sig=" not in str(error) and "workflows" not in str(error)
    assert "prod-42.westeurope.logic.azure.com" in str(error)


@respx.mock
async def test_a_network_failure_is_retryable_without_the_url(connector: Any) -> None:
    respx.post(WEBHOOK).mock(side_effect=httpx.ReadTimeout(f"timed out on {WEBHOOK}"))
    with pytest.raises(VendorError) as raised:
        await connector.post_alert(WEBHOOK, error_alert(), "m")
    assert raised.value.retryable and raised.value.uncertain
    assert "sig=" not in str(raised.value)


async def test_a_plain_http_webhook_is_refused(connector: Any) -> None:
    with pytest.raises(VendorError) as raised:
        await connector.post_alert("http://example.com/hook?sig=abc", error_alert(), "m")
    assert not raised.value.retryable and "abc" not in str(raised.value)
