"""The incident connectors' signature checks, with the helpers the tests sign with."""

from __future__ import annotations

import base64

import pytest

from connectors.incidentio.webhooks import svix_signature
from connectors.incidentio.webhooks import verify as verify_incidentio
from connectors.incidents.webhooks import signature_header
from connectors.incidents.webhooks import verify as verify_generic
from connectors.opsgenie.webhooks import verify as verify_opsgenie
from connectors.pagerduty.webhooks import pagerduty_signature
from connectors.pagerduty.webhooks import verify as verify_pagerduty
from replayhub.connector import WebhookRejected
from replayhub.inbox.times import epoch_ms

BODY = b'{"hello": "world"}'
NOW = 1_767_607_200.0


def test_pagerduty_accepts_any_matching_signature() -> None:
    header = f"v1=deadbeef, {pagerduty_signature('new', BODY)}"
    verify_pagerduty(["new"], {"x-pagerduty-signature": header}, BODY)
    verify_pagerduty(["old", "new"], {"x-pagerduty-signature": pagerduty_signature("old", BODY)},
                     BODY)
    with pytest.raises(WebhookRejected) as refused:
        verify_pagerduty(["new"], {"x-pagerduty-signature": header}, BODY + b" ")
    assert refused.value.status == 401
    with pytest.raises(WebhookRejected):  # only v1= signatures count
        verify_pagerduty(["new"], {"x-pagerduty-signature":
                                   pagerduty_signature("new", BODY).replace("v1=", "v0=")}, BODY)


def test_svix_signature_is_keyed_with_the_decoded_secret() -> None:
    secret = "whsec_" + base64.b64encode(b"key").decode()
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(int(NOW)),
               "webhook-signature": "v1,bm9wZQ== " + svix_signature(secret, "msg_1",
                                                                    str(int(NOW)), BODY)}
    verify_incidentio(secret, headers, BODY, NOW)
    with pytest.raises(WebhookRejected):
        verify_incidentio(secret, headers, BODY, NOW + 301)
    with pytest.raises(WebhookRejected):
        verify_incidentio("whsec_" + base64.b64encode(b"other").decode(), headers, BODY, NOW)


def test_generic_signature_window() -> None:
    header = signature_header("s3cret", int(NOW), BODY)
    verify_generic("s3cret", {"x-replayhub-signature": header}, BODY, NOW + 299)
    for now in (NOW + 301, NOW - 301):
        with pytest.raises(WebhookRejected):
            verify_generic("s3cret", {"x-replayhub-signature": header}, BODY, now)


def test_opsgenie_token_from_query_or_basic_auth() -> None:
    verify_opsgenie("tok", {}, {"token": "tok"})
    basic = "Basic " + base64.b64encode(b"any:tok").decode()
    verify_opsgenie("tok", {"authorization": basic}, {})
    for headers, query in (({}, {}), ({}, {"token": "nope"}),
                           ({"authorization": "Bearer tok"}, {})):
        with pytest.raises(WebhookRejected):
            verify_opsgenie("tok", headers, query)


@pytest.mark.parametrize(("value", "expected"), [
    ("2020-10-02T18:45:22.169Z", 1601664322169), (1601664322, 1601664322000),
    (1601664322169, 1601664322169), (1601664322169000000, 1601664322169),
    ("1601664322169", 1601664322169), (None, None)])
def test_vendor_times(value: object, expected: int | None) -> None:
    assert epoch_ms(value) == expected
