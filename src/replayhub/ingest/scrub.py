"""Masking of sensitive values (card numbers, emails, secret form fields) in rrweb events."""

import re
from collections.abc import Mapping

CARD_RE = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
SECRET_NAME_RE = re.compile(r"card|cvc|cvv|csc|iban|ccnum|cc[-_]?(?:number|exp)", re.IGNORECASE)
DIGITS = "0123456789"
MIN_CARD_DIGITS = 13
FIELD_TAGS = frozenset({"input", "textarea", "select"})
BUTTON_TYPES = frozenset({"button", "submit", "reset", "image"})


def mask(value: str) -> str:
    """Asterisks of the same length as `value`."""
    return "*" * len(value)


def is_masked(value: str) -> bool:
    """True for values that are already all asterisks (ours or rrweb's own masking)."""
    return not value.strip("*")


def count_digits(text: str) -> int:
    """Number of ASCII digits in `text` (C-speed, no regex)."""
    return sum(map(text.count, DIGITS))


def luhn_ok(digits: str) -> bool:
    """Luhn checksum of a digit string."""
    total = 0
    for pos, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        if pos % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _is_card(match: re.Match[str]) -> bool:
    digits = match.group().replace(" ", "").replace("-", "")
    return luhn_ok(digits)


def has_card_number(text: str) -> bool:
    """True if `text` contains 13 to 19 digits (spaces/dashes allowed) passing Luhn."""
    if len(text) < MIN_CARD_DIGITS or count_digits(text) < MIN_CARD_DIGITS:
        return False
    return any(_is_card(m) for m in CARD_RE.finditer(text))


def has_email(text: str) -> bool:
    """True if `text` contains an email address."""
    return "@" in text and EMAIL_RE.search(text) is not None


def is_sensitive_value(text: str) -> bool:
    """Values masked whatever the field: card numbers and emails."""
    return has_card_number(text) or has_email(text)


def _mask_card_match(match: re.Match[str]) -> str:
    return mask(match.group()) if _is_card(match) else match.group()


def mask_card_numbers(text: str) -> str:
    """Mask only the card numbers inside free text (text nodes)."""
    if len(text) < MIN_CARD_DIGITS or count_digits(text) < MIN_CARD_DIGITS:
        return text
    return CARD_RE.sub(_mask_card_match, text)


def is_secret_field(tag: str, attrs: Mapping[str, str]) -> bool:
    """Password, payment-card (autocomplete cc-*) and card/cvc/cvv/iban-named form fields."""
    if tag not in FIELD_TAGS:
        return False
    if attrs.get("type", "").lower() == "password":
        return True
    if attrs.get("autocomplete", "").strip().lower().startswith("cc-"):
        return True
    name = attrs.get("name", "") + " " + attrs.get("id", "")
    return SECRET_NAME_RE.search(name) is not None


def scrub_field_value(value: str, secret: bool, conservative: bool = False) -> str:
    """Masked form of a typed value: whole value masked if the field or the value is sensitive."""
    if not value or is_masked(value):
        return value
    if secret or conservative or is_sensitive_value(value):
        return mask(value)
    return value


def value_attr_is_scrubbed(tag: str, input_type: str) -> bool:
    """Whether a `value` attribute of this element carries user-entered data."""
    return tag in FIELD_TAGS and input_type.lower() not in BUTTON_TYPES
