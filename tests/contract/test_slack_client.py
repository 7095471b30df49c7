"""The Slack client and what it says, against the specs: auth, errors, checks, blocks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from connectors.slack import blocks
from connectors.slack.connector import SlackConnector
from connectors.slack.settings import SlackSettings
from connectors.slack.webhooks import slack_signature, verify
from replayhub.cli import main
from replayhub.connector import ChatAlert, ChatPerson, VendorError, WebhookRejected
from tests.contract import slack_specs
from tests.contract.openapi import ContractError
from tests.integration.slack.fake import (
    BASE_URL,
    FakeSlack,
    rate_limited,
    slack_error,
    timeout_after_sending,
)

TOKEN = "xoxb-contract-token-never-in-errors"


def connector(**options: Any) -> SlackConnector:
    values = {"enabled": True, "base_url": BASE_URL, "bot_token": TOKEN,
              "signing_secret": "s", **options}
    return SlackConnector(SlackSettings(**values))


async def test_check_calls_auth_test_with_the_bot_token() -> None:
    fake = FakeSlack()
    with fake.router() as router:
        assert await connector().check() == "signed in as replayhub in Acme"
        sent = router.calls.last.request
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"


async def test_errors_are_mapped_once_and_never_carry_the_token() -> None:
    fake = FakeSlack()
    fake.add_channel("C0ALERTS01")
    fake.fail("chat.postMessage", rate_limited(12), slack_error("channel_not_found"),
              slack_error("invalid_auth"), timeout_after_sending(fake))
    alert = ChatAlert(key="k", kind="error.new", title="t", summary="s")
    slack = connector()
    with fake.router():
        errors = []
        for _ in range(4):
            with pytest.raises(VendorError) as caught:
                await slack.post_alert("C0ALERTS01", alert, "replayhub-delivery:dlv_1")
            errors.append(caught.value)
    limited, missing, auth, timeout = errors
    assert (limited.status, limited.retry_after, limited.retryable) == (429, 12.0, True)
    assert not missing.retryable and "channel_not_found" in str(missing)
    assert not auth.retryable and TOKEN not in str(auth)
    assert timeout.retryable and timeout.uncertain
    assert TOKEN not in repr(slack.settings)


def test_the_validator_refuses_what_slack_would() -> None:
    def request(method: str, **form: str) -> httpx.Request:
        return httpx.Request("POST", f"{BASE_URL}{method}", data=form,
                             headers={"Authorization": f"Bearer {TOKEN}"})

    slack_specs.check_request(request("chat.postMessage", channel="C0ALERTS01", text="hi"))
    for bad, why in [(request("chat.postMessage", text="hi"), "required"),
                     (request("chat.postMessage", channel="C1", text="x", colour="red"),
                      "not in the spec"),
                     (request("chat.postMessage", channel="C1", blocks="[{]"), "not JSON"),
                     (request("chat.postMessage", channel="C1", text="x",
                              metadata='{"event_type": "X Y"}'), "event_payload"),
                     (request("files.upload", channels="C1"), "files.getUploadURLExternal"),
                     (httpx.Request("POST", f"{BASE_URL}chat.postMessage",
                                    data={"channel": "C1", "text": "x"}), "bot token")]:
        with pytest.raises(ContractError, match=why):
            slack_specs.check_request(bad)
    with pytest.raises(ContractError):
        slack_specs.check_response("files.getUploadURLExternal", "POST",
                                   {"ok": True, "upload_url": "u", "file_id": 1})
    with pytest.raises(ContractError):
        slack_specs.check_response("auth.test", "GET", {"ok": True, "user": "x"})


def test_signatures_freshness_and_the_helper_agree() -> None:
    body, now = b'{"type":"event_callback"}', 1_800_000_000.0
    headers = {"x-slack-request-timestamp": str(int(now)),
               "x-slack-signature": slack_signature("secret", str(int(now)), body)}
    verify("secret", headers, body, now)
    for secret, at in [("other", now), ("secret", now + 301), ("secret", now - 301)]:
        with pytest.raises(WebhookRejected) as refused:
            verify(secret, headers, body, at)
        assert refused.value.status == 401
    with pytest.raises(WebhookRejected):
        verify("secret", {}, body, now)


def texts(node: Any) -> list[str]:
    """Every `text` string in a Block Kit tree."""
    if isinstance(node, list):
        return [t for item in node for t in texts(item)]
    if not isinstance(node, dict):
        return []
    found = [node["text"]] if isinstance(node.get("text"), str) else []
    return found + [t for value in node.values() for t in texts(value)]


@pytest.mark.parametrize("text", ["plain", 'quotes " and \\ backslash', "new\nline",
                                  "<script>&amp;", "ünïcödé 🎉", "x" * 5000])
def test_messages_render_as_valid_block_kit_whatever_the_text(text: str) -> None:
    alert = ChatAlert(key=f"error.new:{text[:20]}", kind="error.new", title=text, summary=text,
                      page_url=text, mentions=[ChatPerson(email="a@x.test", name=text)],
                      facts={text[:30]: text}, replay_url="https://hub.test/share/x")
    fallback, layout = blocks.alert_message(alert)
    header = layout[0]["text"]["text"]
    assert len(header) <= 150 and len(fallback) <= 4000
    assert all(len(value) <= 3000 for value in texts(layout))
    section = layout[1]["text"]["text"]
    assert "<script>" not in section and len(section) <= 3000
    slack_specs._validate(layout, slack_specs.BLOCKS, "blocks")


def test_manifest_names_the_hubs_urls(tmp_path: Path) -> None:
    config = tmp_path / "replayhub.toml"
    config.write_text(f'data_dir = "{tmp_path}"\npublic_url = "https://replays.acme.com"\n')
    result = CliRunner().invoke(main, ["slack", "manifest", "--config", str(config)])
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.output)
    settings = manifest["settings"]
    assert settings["event_subscriptions"]["request_url"] == \
        "https://replays.acme.com/webhooks/slack"
    assert "link_shared" in settings["event_subscriptions"]["bot_events"]
    assert settings["interactivity"]["request_url"] == \
        "https://replays.acme.com/webhooks/slack/interactivity"
    assert manifest["features"]["unfurl_domains"] == ["replays.acme.com"]
    assert {"chat:write", "files:write", "users:read.email", "links:write"} <= \
        set(manifest["oauth_config"]["scopes"]["bot"])
    refused = CliRunner().invoke(main, ["slack", "manifest", "--url", "http://127.0.0.1:8000"])
    assert refused.exit_code != 0 and "https" in refused.output


def test_connectors_check_covers_slack(tmp_path: Path) -> None:
    config = tmp_path / "replayhub.toml"
    config.write_text(f'data_dir = "{tmp_path / "var"}"\n\n[connectors.slack]\nenabled = true\n'
                      f'base_url = "{BASE_URL}"\nbot_token = "{TOKEN}"\nsigning_secret = "s"\n')
    with FakeSlack().router():
        result = CliRunner().invoke(main, ["connectors", "check", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "slack: OK signed in as replayhub in Acme" in result.output
    assert TOKEN not in result.output


def test_settings_require_the_token_and_the_secret() -> None:
    from replayhub.config import ConfigError
    from replayhub.registry import read_connector_settings

    with pytest.raises(ConfigError, match=r"connectors\.slack\.bot_token is required"):
        read_connector_settings(SlackConnector, {"enabled": True})
    settings = read_connector_settings(SlackConnector, {"enabled": False})
    assert settings.api_url == "https://slack.com/api/" and settings.unfurl is True
