"""Real Chromium recordings: the indexer finds exactly what each journey did, and no secret."""

import copy
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from rrweb_events import kinds, merge

from replayhub.ingest.indexer import (
    BatchResult,
    decode_state,
    encode_state,
    finish,
    new_state,
    process_batch,
)

RECORDINGS = Path(__file__).parent.parent / "fixtures" / "recordings"
PATHS = sorted(RECORDINGS.glob("*.json"))
SIGNALS = {"rage": "rage_click", "dead": "dead_click", "error": "error_click"}


def read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def index(recording: dict[str, Any]) -> tuple[BatchResult, list[list[dict[str, Any]]]]:
    """Index batch by batch as the server does; return the result and the scrubbed events."""
    batches = [copy.deepcopy(batch["events"]) for batch in recording["batches"]]
    state = new_state()
    results = []
    for events in batches:
        results.append(process_batch(state, events))
        state = decode_state(encode_state(state))
    results.append(finish(state))
    return merge(results), batches


@pytest.fixture(params=PATHS, ids=[path.stem for path in PATHS])
def recording(request: pytest.FixtureRequest) -> dict[str, Any]:
    return read(request.param)


def test_recordings_exist() -> None:
    assert PATHS, f"no recordings in {RECORDINGS}"


def test_clicks(recording: dict[str, Any]) -> None:
    result, _ = index(recording)
    clicks = [action.selector for action in result.actions if action.kind == "click"]
    wanted = [click["selector_contains"] for click in recording["expected"]["clicks"]]
    assert len(clicks) == len(wanted), clicks
    for selector, part in zip(clicks, wanted, strict=True):
        assert part in selector


def test_errors(recording: dict[str, Any]) -> None:
    result, _ = index(recording)
    errors = [error for error in result.errors if error.source == "custom"]
    wanted = recording["expected"]["errors"]
    assert len(errors) == len(wanted), errors
    for error, expected in zip(errors, wanted, strict=True):
        assert error.type == expected["type"]
        assert expected["message_contains"] in error.message


def test_network_errors(recording: dict[str, Any]) -> None:
    result, _ = index(recording)
    errors = [error for error in result.errors if error.source == "network"]
    wanted = recording["expected"]["network_errors"]
    assert len(errors) == len(wanted), errors
    for error, expected in zip(errors, wanted, strict=True):
        assert error.type == "NetworkError"
        assert error.message.startswith(expected["method"] + " ")
        assert expected["url_contains"] in error.url
        assert error.message.endswith(f"failed: {expected['status']}")


def test_console_errors(recording: dict[str, Any]) -> None:
    result, _ = index(recording)
    errors = [error for error in result.errors if error.source == "console"]
    wanted = [item for item in recording["expected"]["console"] if item["level"] == "error"]
    assert len(errors) == len(wanted), errors
    for error, expected in zip(errors, wanted, strict=True):
        assert expected["payload_contains"] in error.message


def test_frustration_counts(recording: dict[str, Any]) -> None:
    found = kinds(index(recording)[0])
    counts = {name: found.count(kind) for name, kind in SIGNALS.items()}
    assert counts == recording["expected"]["frustration"]


def test_pages_and_user(recording: dict[str, Any]) -> None:
    result, _ = index(recording)
    assert [urlsplit(page.url).path for page in result.pages] == recording["expected"]["page_urls"]
    assert result.user == recording["expected"]["user"]


def test_no_typed_secret_survives(recording: dict[str, Any]) -> None:
    _, batches = index(recording)
    dumped = json.dumps(batches)
    for secret in recording["expected"]["typed_secrets"]:
        assert secret not in dumped


def test_no_typed_secret_survives_conservative_mode(recording: dict[str, Any]) -> None:
    batches = [copy.deepcopy(batch["events"]) for batch in recording["batches"]]
    for events in batches:
        process_batch(new_state(), events, conservative=True)
    dumped = json.dumps(batches)
    for secret in recording["expected"]["typed_secrets"]:
        assert secret not in dumped


def test_one_batch_gives_the_same_result(recording: dict[str, Any]) -> None:
    result, _ = index(recording)
    events = [event for batch in recording["batches"] for event in copy.deepcopy(batch["events"])]
    state = new_state()
    assert merge([process_batch(state, events), finish(state)]) == result
