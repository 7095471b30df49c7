"""Incident webhook fixtures against the vendors' documents: incident.io's `x-webhooks`
schemas, PagerDuty's v3 doc examples (copied unchanged)."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from connectors.incidentio.webhooks import INCIDENT_EVENTS
from connectors.incidentio.webhooks import parse as parse_incidentio
from connectors.pagerduty.webhooks import parse as parse_pagerduty
from tests.contract.openapi import specs_dir, to_json_schema

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@cache
def incidentio_document() -> dict[str, Any]:
    path = specs_dir() / "incident-io" / "public-schema-v3-including-secret-endpoints.json"
    return to_json_schema(json.loads(path.read_text()))  # type: ignore[no-any-return]


def incidentio_schema(event_type: str) -> dict[str, Any]:
    """The 200 answer schema of `/x-webhooks/<event_type>`, with the document's components."""
    document = incidentio_document()
    operation = next(iter(document["x-webhooks"][f"/x-webhooks/{event_type}"].values()))
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    return {**schema, "components": document["components"]}


def assert_valid(instance: Any, event_type: str) -> None:
    jsonschema.Draft4Validator(incidentio_schema(event_type)).validate(instance)


@pytest.mark.parametrize("event_type", INCIDENT_EVENTS)
def test_incidentio_fixtures_match_the_schema(event_type: str) -> None:
    body = json.loads((FIXTURES / "incidentio" / f"{event_type}.json").read_text())
    assert_valid(body, event_type)
    event = parse_incidentio(json.dumps(body).encode())
    assert event is not None and event.external_id == "01FDAG4SAP5TYPT98WGR2N7W91"


def test_incidentio_changes_made_by_the_tests_stay_valid() -> None:
    kind = "public_incident.incident_updated_v2"
    body = json.loads((FIXTURES / "incidentio" / f"{kind}.json").read_text())
    body[kind].update(updated_at="2021-08-17T15:00:00Z", incident_status={
        "category": "closed", "created_at": "2021-08-17T13:28:57Z", "description": "",
        "id": "s2", "name": "Closed", "rank": 4, "updated_at": "2021-08-17T13:28:57Z"})
    assert_valid(body, kind)
    broken = copy.deepcopy(body)
    del broken[kind]["incident_status"]
    with pytest.raises(jsonschema.ValidationError):
        assert_valid(broken, kind)


def test_pagerduty_fixtures_are_the_documented_examples() -> None:
    examples = specs_dir() / "pagerduty" / "webhooks-v3-examples"
    for name in ("envelope-incident.priority_updated.json", "event-data-incident.json"):
        assert (FIXTURES / "pagerduty" / name).read_bytes() == (examples / name).read_bytes()
    envelope = json.loads((FIXTURES / "pagerduty" / "envelope-incident.priority_updated.json")
                          .read_text())
    assert parse_pagerduty(json.dumps(envelope).encode()) is None  # not an event we record
    envelope["event"]["event_type"] = "incident.triggered"
    event = parse_pagerduty(json.dumps(envelope).encode())
    assert event is not None
    assert (event.external_id, event.title, event.services) == (
        "PGR0VU2", "A little bump in the road", ["API Service", "PF9KMXH"])
