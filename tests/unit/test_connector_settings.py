"""Connector settings: a misconfigured connector fails at start naming the key, not a secret."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from typing import Any

import pytest
import structlog

from connectors.zendesk.connector import ZendeskConnector
from replayhub import registry
from replayhub.config import ConfigError, Settings
from replayhub.registry import build_connectors, installed_connectors

SECRET = "zd_secret_value_never_logged"


def settings(**table: Any) -> Settings:
    return Settings(connectors={"zendesk": {"enabled": True, "subdomain": "acme",
                                            "email": "bot@acme.test", "api_token": SECRET,
                                            "webhook_secret": SECRET, **table}})


def test_missing_subdomain_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"connectors\.zendesk\.subdomain is required"):
        build_connectors(settings(subdomain=""))


def test_missing_credentials_name_the_key() -> None:
    with pytest.raises(ConfigError, match=r"connectors\.zendesk\.api_token is required"):
        build_connectors(settings(api_token=""))


def test_oauth_token_replaces_email_and_api_token() -> None:
    built = build_connectors(settings(email="", api_token="", oauth_token=SECRET))
    assert list(built) == ["zendesk"]


def test_wrong_type_names_the_key_and_never_the_value() -> None:
    with pytest.raises(ConfigError) as caught:
        build_connectors(settings(api_token=12345678))
    assert "connectors.zendesk.api_token" in str(caught.value)
    assert "12345678" not in str(caught.value)


def test_unknown_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="subdomian"):
        build_connectors(settings(subdomian="acme"))


def test_disabled_connector_is_not_checked_or_built() -> None:
    assert build_connectors(settings(enabled=False, subdomain="")) == {}


def test_unknown_enabled_connector_fails_at_start() -> None:
    with pytest.raises(ConfigError, match=r"connectors\.freshdesk: no such connector"):
        build_connectors(Settings(connectors={"freshdesk": {"enabled": True}}))


def test_zendesk_declares_its_capabilities_and_limit() -> None:
    connector = build_connectors(settings())["zendesk"]
    assert isinstance(connector, ZendeskConnector)
    assert connector.rate_limit_per_minute == 400
    assert {"post_note", "upload_image", "list_comments", "find_user",
            "verify_webhook"} <= connector.capabilities
    assert "publish_document" not in connector.capabilities
    assert SECRET not in repr(connector.settings.__struct_fields__)


def test_the_entry_point_finds_zendesk() -> None:
    assert installed_connectors()["zendesk"] is ZendeskConnector


def test_a_broken_connector_is_logged_and_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    good = EntryPoint("zendesk", "connectors.zendesk.connector:ZendeskConnector",
                      registry.GROUP)
    broken = EntryPoint("broken", "connectors.nowhere:Nothing", registry.GROUP)
    monkeypatch.setattr(registry, "entry_points", lambda group: [broken, good])
    with structlog.testing.capture_logs() as logs:
        found = installed_connectors()
    assert list(found) == ["zendesk"]
    assert logs[0]["event"] == "connector.load_failed" and logs[0]["entry_point"] == "broken"
