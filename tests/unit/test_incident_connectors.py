"""The incident connectors are installed, declare webhooks, name a missing key at start, read
their secret's deprecated names, and refuse events older than their window."""

from __future__ import annotations

import json

import pytest

from connectors.opsgenie.webhooks import check_event_age as opsgenie_age
from connectors.pagerduty.webhooks import check_event_age as pagerduty_age
from replayhub.config import ConfigError, IncidentServiceMapping, Settings
from replayhub.connector import WebhookRejected
from replayhub.incidents import mappings_for, matches
from replayhub.logs import _drop_secrets, redact_query
from replayhub.registry import build_connectors, installed_connectors

REQUIRED = {"pagerduty": "webhook_secret", "incidentio": "webhook_secret",
            "opsgenie": "webhook_secret", "incidents": "webhook_secret"}
OLD_NAMES = {"opsgenie": "webhook_token", "incidents": "signing_secret"}
NOW = 1_767_607_200.0
HOUR_MS = 3_600_000


def test_installed_through_the_entry_point_group() -> None:
    installed = installed_connectors()
    assert set(REQUIRED) <= set(installed)


@pytest.mark.parametrize(("name", "key"), REQUIRED.items())
def test_missing_secret_names_the_key(name: str, key: str) -> None:
    with pytest.raises(ConfigError, match=rf"connectors\.{name}\.{key} is required"):
        build_connectors(Settings(connectors={name: {"enabled": True}}))
    built = build_connectors(Settings(connectors={name: {"enabled": True, key: "s3cret"}}))
    notes = {"post_note"} if name == "pagerduty" else set()  # the post-mortem link
    assert built[name].capabilities == {"verify_webhook", *notes}


def test_service_globs_match_names_and_ids_case_insensitively() -> None:
    mappings = [IncidentServiceMapping(service="Checkout*", apps=["Shop"]),
                IncidentServiceMapping(service="PF9KMXH", urls=["https://x/*"]),
                IncidentServiceMapping(service="search")]
    assert mappings_for(["checkout-web"], mappings) == mappings[:1]
    assert mappings_for(["API Service", "PF9KMXH"], mappings) == mappings[1:2]
    assert mappings_for([], mappings) == []
    assert matches("https://shop/*", "https://SHOP/checkout")


@pytest.mark.parametrize(("name", "old"), OLD_NAMES.items())
def test_the_old_secret_name_still_works_but_not_with_the_new_one(name: str, old: str) -> None:
    built = build_connectors(Settings(connectors={name: {"enabled": True, old: "s3cret"}}))
    assert built[name].settings.webhook_secret == "s3cret"  # type: ignore[attr-defined]
    assert "s3cret" not in repr(built[name].settings)
    both = {"enabled": True, old: "s3cret", "webhook_secret": "other"}
    with pytest.raises(ConfigError, match=rf"connectors\.{name}: set webhook_secret only "
                                          rf"\({old} is its deprecated name\)"):
        build_connectors(Settings(connectors={name: both}))


def pagerduty_body(event_type: str, occurred_ms: float) -> bytes:
    return json.dumps({"event": {"id": "e", "event_type": event_type,
                                 "occurred_at": occurred_ms, "data": {}}}).encode()


def test_pagerduty_event_age_window() -> None:
    now_ms = NOW * 1000
    pagerduty_age(pagerduty_body("incident.triggered", now_ms - 49 * HOUR_MS), NOW)
    with pytest.raises(WebhookRejected) as refused:
        pagerduty_age(pagerduty_body("incident.resolved", now_ms - 51 * HOUR_MS), NOW)
    assert refused.value.status == 401
    with pytest.raises(WebhookRejected):
        pagerduty_age(pagerduty_body("incident.reopened", now_ms - 2 * HOUR_MS), NOW, 1)
    pagerduty_age(pagerduty_body("service.updated", now_ms - 99 * HOUR_MS), NOW)  # ignored
    pagerduty_age(b"{not json", NOW)  # left to parse (400)


def test_opsgenie_event_age_window() -> None:
    def body(action: str, **alert: int) -> bytes:
        return json.dumps({"action": action, "alert": {"alertId": "a", **alert}}).encode()

    now_ms = int(NOW * 1000)
    opsgenie_age(body("Close", updatedAt=(now_ms - 23 * HOUR_MS) * 1_000_000), NOW)
    for stale in (body("Close", updatedAt=(now_ms - 25 * HOUR_MS) * 1_000_000),
                  body("Create", createdAt=now_ms - 25 * HOUR_MS)):
        with pytest.raises(WebhookRejected) as refused:
            opsgenie_age(stale, NOW)
        assert refused.value.status == 401
    opsgenie_age(body("AddNote", createdAt=now_ms - 99 * HOUR_MS), NOW)  # ignored action


def test_logs_never_carry_a_token_in_a_url() -> None:
    assert redact_query("POST /webhooks/opsgenie?token=og_s3cret&x=1") == (
        "POST /webhooks/opsgenie?token=[redacted]&x=1")
    assert redact_query("https://h/x?a=1&API_TOKEN=zz#top") == "https://h/x?a=1&API_TOKEN=[redacted]#top"
    event = _drop_secrets(None, "info", {"event": "request", "token": "t",
                                         "url": "/webhooks/opsgenie?token=og_s3cret", "n": 3})
    assert event == {"event": "request", "token": "[redacted]",
                     "url": "/webhooks/opsgenie?token=[redacted]", "n": 3}
