"""Slack text limits (escape, then cut), Block Kit checks of the contract validator, and the
one public-URL test shared by alerts and Slack."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.slack import blocks
from replayhub.alerts import is_public_url
from replayhub.connector import ChatAlert, ChatPerson
from tests.contract import slack_specs
from tests.contract.openapi import ContractError


def test_escaping_comes_before_cutting_and_never_splits_an_entity() -> None:
    assert blocks.mrkdwn("&" * 10, 8) == "&amp;…"
    assert len(blocks.mrkdwn("<" * 5000, 3000)) <= 3000
    assert blocks.mrkdwn("a<b", 100) == "a&lt;b"
    text = blocks.mrkdwn("x" * 2996 + "&&&&", 3000)
    assert len(text) <= 3000 and not text.rstrip("…").endswith(("&", "&a", "&am", "&amp"))


def hostile_alert(**changes: Any) -> ChatAlert:
    values: dict[str, Any] = dict(
        key="error.new:fp", kind="error.new", title="<" * 300, summary="&" * 2000,
        page_url="https://shop.example/?" + "&x=<>" * 600, sessions=2, users=1,
        mentions=[ChatPerson(email=f"p{i}@example.com", name="&<>" * 66) for i in range(20)],
        replay_url="https://hub.example.test/share/t", hub_url="https://hub.example.test/",
        facts={"fingerprint": "fp", "Error": "<&>" * 400})
    values.update(changes)
    return ChatAlert(**values)


def test_an_alert_of_hostile_text_stays_within_block_kit() -> None:
    _, layout = blocks.alert_message(hostile_alert())
    slack_specs.check_blocks(layout, "alert")
    owners = next(b for b in layout if b["type"] == "section"
                  and b["text"]["text"].startswith("*Owners*"))
    assert "more" in owners["text"]["text"]


def test_an_alert_without_buttons_has_no_empty_actions_block() -> None:
    alert = hostile_alert(kind="playlist.new_sessions", replay_url="", hub_url="", facts={})
    _, layout = blocks.alert_message(alert)
    assert all(block["type"] != "actions" for block in layout)
    slack_specs.check_blocks(layout, "alert")


@pytest.mark.parametrize("layout", [
    [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}],
    [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}],
    [{"type": "section", "fields": [{"type": "mrkdwn", "text": "x" * 2001}]}],
    [{"type": "actions", "elements": []}],
    [{"type": "context", "elements": [{"type": "mrkdwn", "text": "x"}] * 11}],
    [{"type": "divider"}] * 51,
], ids=["header", "section", "field", "empty-actions", "context", "51-blocks"])
def test_the_validator_refuses_what_slack_calls_invalid_blocks(
        layout: list[dict[str, Any]]) -> None:
    with pytest.raises(ContractError):
        slack_specs.check_blocks(layout, "blocks")


@pytest.mark.parametrize("url, public", [
    ("http://127.1/snapshot.png", False), ("http://0x7f.1/", False),
    ("http://2130706433/", False), ("http://0177.0.0.1/", False), ("http://10.1/", False),
    ("http://169.254.169.254/", False), ("http://[::1]/", False),
    ("http://[fe80::1]/", False), ("http://localhost/", False), ("http://printer.local/", False),
    ("http://intranet/", False), ("ftp://8.8.8.8/", False), ("https://8.8.8.8/x", True),
    ("https://93.184.215.14/", True),
])
def test_public_urls_are_judged_by_address_in_every_spelling(url: str, public: bool) -> None:
    assert is_public_url(url) is public
    assert blocks.is_public_url(url) is public  # one helper for alerts and Slack
