"""Structured logs through structlog: readable in a terminal, JSON lines in production."""

from __future__ import annotations

import logging
import re
import sys

import structlog

SECRET_KEYS = {
    "token", "api_token", "ingest_key", "key", "password", "secret", "authorization", "cookie",
    "admin_token", "secret_key", "webhook_secret", "oauth_token", "sidebar_shared_secret",
    "signing_secret", "bot_token",
}


SECRET_IN_QUERY = re.compile(
    r"([?&](?:" + "|".join(sorted(SECRET_KEYS)) + r")=)[^&#\s'\"]*", re.IGNORECASE)
"""`?token=…` and the like inside a logged URL (an Opsgenie webhook may carry its token so)."""


def redact_query(text: str) -> str:
    """The text with the values of secret-named query parameters replaced."""
    return SECRET_IN_QUERY.sub(r"\1[redacted]", text)


def _drop_secrets(_: object, __: str, event: dict[str, object]) -> dict[str, object]:
    for name, value in list(event.items()):
        if name.lower() in SECRET_KEYS:
            event[name] = "[redacted]"
        elif isinstance(value, str) and "=" in value:
            event[name] = redact_query(value)
    return event


def configure_logging(level: str = "info", fmt: str = "console") -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    renderer = (structlog.processors.JSONRenderer() if fmt == "json"
                else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _drop_secrets,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
