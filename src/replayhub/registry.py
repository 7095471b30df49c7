"""Find connectors through the `replayhub.connectors` entry points; build the enabled ones."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

import msgspec
import structlog

from replayhub.config import ConfigError, Settings
from replayhub.connector import Connector, VendorError

if TYPE_CHECKING:
    from replayhub.hub import Hub

log = structlog.get_logger(__name__)
GROUP = "replayhub.connectors"


def installed_connectors() -> dict[str, type[Connector]]:
    """Every connector class installed; a broken one is logged and left out."""
    found: dict[str, type[Connector]] = {}
    for entry in entry_points(group=GROUP):
        try:
            cls = entry.load()
        except Exception as error:
            log.error("connector.load_failed", entry_point=entry.name,
                      error=f"{type(error).__name__}: {error}")
            continue
        if not (isinstance(cls, type) and issubclass(cls, Connector)):
            log.error("connector.load_failed", entry_point=entry.name,
                      error="not a replayhub.connector.Connector")
            continue
        found[cls.name] = cls
    return found


def read_connector_settings(cls: type[Connector], raw: dict[str, Any]) -> Any:
    """The connector's typed settings; the error names the key, never a value."""
    prefix = f"connectors.{cls.name}"
    try:
        settings = msgspec.convert(raw, cls.settings_type)
    except msgspec.ValidationError as error:
        raise ConfigError(f"{prefix}: {_where(str(error), prefix)}") from None
    if settings.enabled:
        missing = settings.missing()
        if missing:
            raise ConfigError(f"{prefix}.{missing[0]} is required "
                              f"(the connector is enabled; see config.example.toml)")
    return settings


def _where(message: str, prefix: str) -> str:
    """msgspec says `... - at `$.key``; name the key as it is written in the TOML file."""
    text, _, path = message.partition(" - at `$")
    return f"{prefix}{path.rstrip('`')}: {text}" if path else text


def build_connectors(settings: Settings,
                     available: dict[str, type[Connector]] | None = None) -> dict[str, Connector]:
    """The enabled connectors, each with its HTTP client built once."""
    available = installed_connectors() if available is None else available
    built: dict[str, Connector] = {}
    for name, raw in settings.connectors.items():
        cls = available.get(name)
        if cls is None:
            if raw.get("enabled"):
                raise ConfigError(f"connectors.{name}: no such connector is installed "
                                  f"(installed: {', '.join(sorted(available)) or 'none'})")
            continue
        connector_settings = read_connector_settings(cls, raw)
        if connector_settings.enabled:
            built[name] = cls(connector_settings)
    return built


async def check_connectors(hub: Hub) -> list[tuple[str, bool, str]]:
    """(name, ok, who we are or the vendor's error) for each enabled connector."""
    results = []
    for name, connector in sorted(hub.connectors.items()):
        try:
            results.append((name, True, await connector.check()))
        except VendorError as error:
            results.append((name, False, str(error)))
    return results
