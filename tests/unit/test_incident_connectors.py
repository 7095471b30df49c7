"""The incident connectors are installed, declare webhooks, and name a missing key at start."""

from __future__ import annotations

import pytest

from replayhub.config import ConfigError, IncidentServiceMapping, Settings
from replayhub.incidents import mappings_for, matches
from replayhub.registry import build_connectors, installed_connectors

REQUIRED = {"pagerduty": "webhook_secret", "incidentio": "webhook_secret",
            "opsgenie": "webhook_token", "incidents": "signing_secret"}


def test_installed_through_the_entry_point_group() -> None:
    installed = installed_connectors()
    assert set(REQUIRED) <= set(installed)


@pytest.mark.parametrize(("name", "key"), REQUIRED.items())
def test_missing_secret_names_the_key(name: str, key: str) -> None:
    with pytest.raises(ConfigError, match=rf"connectors\.{name}\.{key} is required"):
        build_connectors(Settings(connectors={name: {"enabled": True}}))
    built = build_connectors(Settings(connectors={name: {"enabled": True, key: "s3cret"}}))
    assert built[name].capabilities == {"verify_webhook"}


def test_service_globs_match_names_and_ids_case_insensitively() -> None:
    mappings = [IncidentServiceMapping(service="Checkout*", apps=["Shop"]),
                IncidentServiceMapping(service="PF9KMXH", urls=["https://x/*"]),
                IncidentServiceMapping(service="search")]
    assert mappings_for(["checkout-web"], mappings) == mappings[:1]
    assert mappings_for(["API Service", "PF9KMXH"], mappings) == mappings[1:2]
    assert mappings_for([], mappings) == []
    assert matches("https://shop/*", "https://SHOP/checkout")
