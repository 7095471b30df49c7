"""The Zendesk client against the spec: auth, `connectors check`, errors mapped once."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from connectors.zendesk.client import vendor_error
from connectors.zendesk.connector import ZendeskConnector
from connectors.zendesk.settings import ZendeskSettings
from replayhub.cli import main
from replayhub.connector import VendorError
from replayhub.vendor_http import retry_after
from tests.integration.zendesk.fake import BASE_URL, FakeZendesk, answer

TOKEN = "zd_token_that_must_not_leak"


def connector(**options: str) -> ZendeskConnector:
    values = {"enabled": True, "subdomain": "acme", "base_url": BASE_URL,
              "email": "bot@acme.test", "api_token": TOKEN, "webhook_secret": "s", **options}
    return ZendeskConnector(ZendeskSettings(**values))  # type: ignore[arg-type]


async def test_check_calls_users_me_with_basic_auth() -> None:
    fake = FakeZendesk()
    with fake.router() as router:
        assert await connector().check() == "signed in as ReplayHub (agent)"
        sent = router.calls.last.request
    assert sent.headers["Authorization"].startswith("Basic ")
    pair = base64.b64decode(sent.headers["Authorization"].split()[1]).decode()
    assert pair == f"bot@acme.test/token:{TOKEN}"


async def test_oauth_token_is_sent_as_bearer() -> None:
    with FakeZendesk().router() as router:
        await connector(oauth_token="oauth-abc", email="", api_token="").check()
        assert router.calls.last.request.headers["Authorization"] == "Bearer oauth-abc"


async def test_vendor_errors_carry_status_retry_after_and_no_secret() -> None:
    fake = FakeZendesk()
    fake.fail("ShowCurrentUser", answer(429, {"Retry-After": "12"}), answer(401))
    with fake.router():
        with pytest.raises(VendorError) as limited:
            await connector().check()
        with pytest.raises(VendorError) as refused:
            await connector().check()
    assert (limited.value.status, limited.value.retry_after, limited.value.retryable) == \
        (429, 12.0, True)
    assert (refused.value.status, refused.value.retryable) == (401, False)
    assert TOKEN not in str(refused.value)


def test_retry_after_as_an_http_date() -> None:
    response = httpx.Response(503, headers={"Retry-After": "Wed, 21 Oct 2026 07:28:30 GMT",
                                            "Date": "Wed, 21 Oct 2026 07:28:00 GMT"})
    assert retry_after(response) == 30.0
    assert vendor_error("GET", "/x", response).retryable


def write_config(tmp_path: Path) -> Path:
    config = tmp_path / "replayhub.toml"
    config.write_text(f'data_dir = "{tmp_path / "var"}"\n\n[connectors.zendesk]\n'
                      f'enabled = true\nsubdomain = "acme"\nbase_url = "{BASE_URL}"\n'
                      f'email = "bot@acme.test"\napi_token = "{TOKEN}"\n'
                      'webhook_secret = "s"\n')
    return config


def test_connectors_check_prints_ok(tmp_path: Path) -> None:
    with FakeZendesk().router():
        result = CliRunner().invoke(main, ["connectors", "check", "--config",
                                           str(write_config(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "zendesk: OK signed in as ReplayHub (agent)" in result.output


def test_connectors_check_prints_the_vendors_error(tmp_path: Path) -> None:
    fake = FakeZendesk()
    fake.fail("ShowCurrentUser", answer(401))
    with fake.router():
        result = CliRunner().invoke(main, ["connectors", "check", "--config",
                                           str(write_config(tmp_path))])
    assert result.exit_code == 1
    assert "zendesk: FAILED zendesk GET /api/v2/users/me: 401" in result.output
    assert TOKEN not in result.output


def test_a_misconfigured_connector_stops_the_start(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[connectors.zendesk]\nenabled = true\nsubdomain = ""\n')
    result = CliRunner().invoke(main, ["connectors", "check", "--config", str(config),
                                       "--data-dir", str(tmp_path / "var")])
    assert result.exit_code != 0
    assert "connectors.zendesk.subdomain is required" in result.output
