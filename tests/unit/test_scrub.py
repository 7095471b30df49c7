"""Sensitive values are masked in place, with asterisks of the same length, idempotently."""

import copy
import json

import pytest
from rrweb_events import (
    BODY_ID,
    T0,
    add,
    element,
    input_event,
    load,
    mutation,
    set_attrs,
    set_text,
    text,
    typing,
)

from replayhub.ingest import scrub
from replayhub.ingest.indexer import new_state, process_batch

VISA = "4242 4242 4242 4242"
URL = "https://shop.example.test/checkout"


def form() -> list[dict]:
    return [
        element(10, "input", {"type": "text", "name": "q", "value": "shoes"}),
        element(11, "input", {"type": "password", "name": "pw", "value": "hunter22"}),
        element(12, "input", {"name": "number", "autocomplete": "cc-number", "value": VISA}),
        element(13, "input", {"name": "cvc", "value": "123"}),
        element(14, "input", {"id": "iban-field", "value": "DE89370400440532013000"}),
        element(15, "input", {"type": "email", "name": "email", "value": "ada@example.com"}),
        element(16, "textarea", {"name": "note", "value": "hello"}),
        element(17, "input", {"type": "submit", "value": "Pay 24.00"}),
        element(18, "select", {"autocomplete": "cc-exp-month", "value": "07"}),
        element(19, "p", {}, text(20, f"Card {VISA} on file")),
    ]


def scrubbed(events: list[dict], conservative: bool = False) -> list[dict]:
    process_batch(new_state(), events, conservative=conservative)
    return events


def snapshot_attrs(events: list[dict]) -> dict[int, dict]:
    found: dict[int, dict] = {}
    stack = [events[1]["data"]["node"]]
    while stack:
        node = stack.pop()
        if node.get("type") == 2:
            found[node["id"]] = node["attributes"]
        if node.get("type") == 3:
            found[node["id"]] = {"text": node["textContent"]}
        stack.extend(node.get("childNodes", []))
    return found


def test_luhn() -> None:
    assert scrub.luhn_ok("4242424242424242")
    assert scrub.luhn_ok("4111111111111111")
    assert not scrub.luhn_ok("4242424242424241")


@pytest.mark.parametrize("value", [
    VISA, "4242-4242-4242-4242", "4242424242424242", "378282246310005", "6011 0009 9013 9424",
    "my card is 5555555555554444 thanks", "4222222222222",
])
def test_card_numbers_are_found(value: str) -> None:
    assert scrub.has_card_number(value)


@pytest.mark.parametrize("value", [
    "4242 4242 4242 4241", "1234", "order 10042", "424242424242", "2024-01-01 12:00:00",
    "", "12345678901234567890123",
])
def test_non_card_numbers_are_left_alone(value: str) -> None:
    assert not scrub.has_card_number(value)


def test_mask_card_numbers_masks_only_the_number() -> None:
    masked = scrub.mask_card_numbers(f"Card {VISA} on file, order 10042")
    assert masked == f"Card {'*' * len(VISA)} on file, order 10042"
    assert scrub.mask_card_numbers(masked) == masked


def test_mask_card_numbers_returns_same_object_when_nothing_to_do() -> None:
    value = "Order 10042 placed on 2024-01-01"
    assert scrub.mask_card_numbers(value) is value


@pytest.mark.parametrize(("value", "expected"), [
    ("ada@example.com", True), ("mail ada.b+x@mail.example.co.uk now", True),
    ("ada at example", False), ("@home", False),
])
def test_emails(value: str, expected: bool) -> None:
    assert scrub.has_email(value) is expected


@pytest.mark.parametrize(("tag", "attrs", "secret"), [
    ("input", {"type": "password"}, True),
    ("input", {"type": "PASSWORD"}, True),
    ("input", {"autocomplete": "cc-number"}, True),
    ("select", {"autocomplete": "cc-exp-year"}, True),
    ("input", {"name": "card_number"}, True),
    ("input", {"id": "cvv"}, True),
    ("input", {"name": "CVC2"}, True),
    ("input", {"name": "iban"}, True),
    ("input", {"type": "text", "name": "q"}, False),
    ("input", {"autocomplete": "email", "name": "email"}, False),
    ("textarea", {"name": "note"}, False),
    ("div", {"id": "card"}, False),
])
def test_secret_fields(tag: str, attrs: dict[str, str], secret: bool) -> None:
    assert scrub.is_secret_field(tag, attrs) is secret


def test_scrub_field_value() -> None:
    assert scrub.scrub_field_value("hunter2", secret=True) == "*******"
    assert scrub.scrub_field_value("shoes", secret=False) == "shoes"
    assert scrub.scrub_field_value("shoes", secret=False, conservative=True) == "*****"
    assert scrub.scrub_field_value(VISA, secret=False) == "*" * len(VISA)
    assert scrub.scrub_field_value("a@b.io", secret=False) == "******"
    assert scrub.scrub_field_value("", secret=True) == ""


def test_snapshot_values_of_sensitive_fields_are_masked() -> None:
    attrs = snapshot_attrs(scrubbed(load(T0, URL, form())))
    assert attrs[10]["value"] == "shoes"
    assert attrs[11]["value"] == "********"
    assert attrs[12]["value"] == "*" * len(VISA)
    assert attrs[13]["value"] == "***"
    assert attrs[14]["value"] == "*" * 22
    assert attrs[15]["value"] == "*" * len("ada@example.com")
    assert attrs[16]["value"] == "hello"
    assert attrs[17]["value"] == "Pay 24.00"
    assert attrs[18]["value"] == "**"
    assert attrs[20]["text"] == f"Card {'*' * len(VISA)} on file"


def test_style_text_with_digits_is_not_touched() -> None:
    css = "a{background:url(data:image/png;base64,4242424242424242)}"
    body = [element(30, "style", {}, text(31, css, is_style=True))]
    attrs = snapshot_attrs(scrubbed(load(T0, URL, body)))
    assert attrs[31]["text"] == css


def test_input_events_are_masked_by_field_and_by_value() -> None:
    events = [*load(T0, URL, form()),
              input_event(T0 + 10, 10, "red shoes"),
              input_event(T0 + 20, 11, "hunter22"),
              input_event(T0 + 30, 12, VISA),
              input_event(T0 + 40, 13, "123"),
              input_event(T0 + 50, 15, "ada@example.com"),
              input_event(T0 + 60, 10, "4111 1111 1111 1111"),
              input_event(T0 + 70, 16, "call me at grace@example.com"),
              input_event(T0 + 80, 18, "07")]
    texts = [event["data"]["text"] for event in scrubbed(events)[2:]]
    assert texts == ["red shoes", "********", "*" * len(VISA), "***", "*" * 15, "*" * 19,
                     "*" * 28, "**"]


def test_rrweb_masked_values_stay_as_they_are() -> None:
    events = [*load(T0, URL, form()), input_event(T0 + 10, 11, "*****"),
              input_event(T0 + 20, 10, "***")]
    assert [e["data"]["text"] for e in scrubbed(events)[2:]] == ["*****", "***"]


def test_input_on_unknown_field_is_masked() -> None:
    events = [*load(T0, URL, form()), input_event(T0 + 10, 999, "who knows")]
    assert scrubbed(events)[2]["data"]["text"] == "*********"


def test_revealed_password_stays_masked() -> None:
    events = [*load(T0, URL, form()),
              mutation(T0 + 5, attributes=[set_attrs(11, {"type": "text"})]),
              input_event(T0 + 10, 11, "hunter22!")]
    assert scrubbed(events)[3]["data"]["text"] == "*********"


def test_fields_added_by_mutation_are_known() -> None:
    field = element(40, "input", {"type": "password", "value": "s3cret"})
    events = [*load(T0, URL, []), mutation(T0 + 5, adds=[add(BODY_ID, field)]),
              input_event(T0 + 10, 40, "s3cret!")]
    events = scrubbed(events)
    assert events[2]["data"]["adds"][0]["node"]["attributes"]["value"] == "******"
    assert events[3]["data"]["text"] == "*******"


def test_value_attribute_mutations_are_masked() -> None:
    events = [*load(T0, URL, form()),
              mutation(T0 + 5, attributes=[set_attrs(11, {"value": "abc"}),
                                           set_attrs(10, {"value": "plain"}),
                                           set_attrs(10, {"type": "password", "value": "now"}),
                                           set_attrs(12, {"value": None})])]
    changes = scrubbed(events)[2]["data"]["attributes"]
    assert [change["attributes"].get("value") for change in changes] == ["***", "plain", "***",
                                                                        None]


def test_text_mutations_mask_card_numbers() -> None:
    paragraph = element(50, "p", {}, text(51, f"Paid with {VISA}"))
    events = [*load(T0, URL, form()),
              mutation(T0 + 5, adds=[add(BODY_ID, paragraph)],
                       texts=[set_text(20, f"New card {VISA}"), set_text(20, "no card")])]
    data = scrubbed(events)[2]["data"]
    masked = "*" * len(VISA)
    assert data["adds"][0]["node"]["childNodes"][0]["textContent"] == f"Paid with {masked}"
    assert [change["value"] for change in data["texts"]] == [f"New card {masked}", "no card"]


def test_scrubbing_is_idempotent() -> None:
    events = [*load(T0, URL, form()), *typing(T0 + 10, 11, "hunter22"),
              *typing(T0 + 1000, 10, "ada@example.com"),
              mutation(T0 + 2000, texts=[set_text(20, f"Card {VISA}")])]
    once = scrubbed(events)
    twice = scrubbed(copy.deepcopy(once))
    assert twice == once
    strict = scrubbed(copy.deepcopy(once), conservative=True)
    assert scrubbed(copy.deepcopy(strict), conservative=True) == strict


def test_conservative_mode_masks_every_typed_value() -> None:
    events = [*load(T0, URL, form()), input_event(T0 + 10, 10, "red shoes"),
              input_event(T0 + 20, 16, "a note"),
              mutation(T0 + 30, attributes=[set_attrs(10, {"value": "blue"})])]
    events = scrubbed(events, conservative=True)
    attrs = snapshot_attrs(events)
    assert attrs[10]["value"] == "*****"
    assert attrs[16]["value"] == "*****"
    assert attrs[17]["value"] == "Pay 24.00"
    assert attrs[20]["text"] == f"Card {'*' * len(VISA)} on file"
    assert [e["data"]["text"] for e in events[2:4]] == ["*********", "******"]
    assert events[4]["data"]["attributes"][0]["attributes"]["value"] == "****"


def test_conservative_mode_without_a_snapshot() -> None:
    events = [input_event(T0, 10, "red shoes"),
              mutation(T0 + 5, attributes=[set_attrs(10, {"value": "blue"})])]
    events = scrubbed(events, conservative=True)
    assert events[0]["data"]["text"] == "*********"
    assert events[1]["data"]["attributes"][0]["attributes"]["value"] == "****"


def test_no_secret_survives_a_typical_checkout() -> None:
    secrets = ["hunter22", VISA, "ada@example.com", "987"]
    events = [*load(T0, URL, form()), *typing(T0 + 10, 11, "hunter22"),
              *typing(T0 + 1000, 12, VISA), *typing(T0 + 3000, 13, "987"),
              *typing(T0 + 4000, 15, "ada@example.com")]
    dumped = json.dumps(scrubbed(events))
    for secret in secrets:
        assert secret not in dumped
