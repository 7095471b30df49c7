"""The `replayhub` command: serve the hub, load demo data, manage apps and tokens."""

from __future__ import annotations

import asyncio
import gc
import os
import secrets
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from replayhub.config import ConfigError, Settings, load_settings
from replayhub.hub import Hub
from replayhub.logs import configure_logging
from replayhub.security import ROLES, create_app, create_token

T = TypeVar("T")
ADMIN_TOKEN_FILE = "admin-token"


def _settings(config: str | None, **overrides: Any) -> Settings:
    try:
        settings = load_settings(config, **overrides)
    except ConfigError as error:
        raise click.ClickException(str(error)) from error
    configure_logging(settings.log_level, settings.log_format)
    return settings


def _with_hub(settings: Settings, work: Callable[[Hub], Awaitable[T]]) -> T:
    async def run() -> T:
        hub = Hub.from_settings(settings)
        try:
            await hub.start()
            return await work(hub)
        finally:
            await hub.stop()

    try:
        return asyncio.run(run())
    except ConfigError as error:
        raise click.ClickException(str(error)) from error


config_option = click.option("--config", "config", type=click.Path(dir_okay=False),
                             help="TOML settings file (default: $REPLAYHUB_CONFIG).")
data_dir_option = click.option("--data-dir", type=click.Path(file_okay=False),
                               help="Data folder (default: $REPLAYHUB_DATA_DIR or ./var).")


@click.group()
@click.version_option(package_name="replayhub")
def main() -> None:
    """ReplayHub: index session replays and carry them where people work."""


@main.command()
@config_option
@click.option("--host", help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, help="Port (default 8000).")
@data_dir_option
def serve(config: str | None, host: str | None, port: int | None, data_dir: str | None) -> None:
    """Serve the hub over HTTP."""
    import uvicorn

    from replayhub.app import create_app as create_web_app

    settings = _settings(config, host=host, port=port, data_dir=data_dir)
    if not settings.admin_token:
        settings.admin_token = _local_admin_token(settings.data_path)
    try:
        app = create_web_app(settings)
    except ConfigError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"ReplayHub is serving on {settings.base_url}  "
               f"(API docs: {settings.base_url}/schema)")
    click.echo(f"Admin token: {settings.admin_token}  "
               f"(curl -H 'Authorization: Bearer {settings.admin_token}' "
               f"{settings.base_url}/api/v1/sessions)")
    tune_gc()
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning",
                access_log=False)


GC_YOUNG_OBJECTS = 50_000
"""Allocations between two young-generation collections (CPython's default is 700)."""


def tune_gc() -> None:
    """Make the cyclic garbage collector cheap for a long-running server.

    Decoding one ingest batch makes tens of thousands of short-lived dicts and lists. With
    CPython's default threshold the collector runs dozens of times per batch while they are
    alive, promotes them, and then scans the whole heap (every module, table and route) in
    full collections. Objects alive after start-up are frozen out of every collection, and
    young collections wait for 50,000 allocations, by which time a batch's objects are
    freed by reference counting.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_OBJECTS, 20, 20)


def _local_admin_token(data_dir: Path) -> str:
    """No REPLAYHUB_ADMIN_TOKEN: use (or make) one kept in DATA_DIR/admin-token."""
    path = data_dir / ADMIN_TOKEN_FILE
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    token = f"rh_{secrets.token_urlsafe(32)}"
    path.write_text(token + "\n")
    os.chmod(path, 0o600)
    return token


@main.command()
@config_option
@data_dir_option
@click.option("--sessions", default=40, show_default=True, help="How many demo sessions.")
def demo(config: str | None, data_dir: str | None, sessions: int) -> None:
    """Load demo sessions (real recordings, replayed as several users over the last week)."""
    from replayhub.demo import load_demo

    settings = _settings(config, data_dir=data_dir)
    loaded = _with_hub(settings, lambda hub: load_demo(hub, sessions))
    click.echo(f"Demo data: {loaded} new sessions in the app 'Demo shop' "
               f"({settings.data_dir}; at most {sessions} in all).")


@main.group()
def apps() -> None:
    """Recorded apps and their ingest keys."""


@apps.command("create")
@click.argument("name")
@config_option
@data_dir_option
def apps_create(name: str, config: str | None, data_dir: str | None) -> None:
    """Create an app and print its ingest key (shown once)."""
    settings = _settings(config, data_dir=data_dir)
    app, key = _with_hub(settings, lambda hub: create_app(hub.db, name))
    click.echo(f"app {app.id} ({app.name})\ningest key: {key}")


@main.group()
def tokens() -> None:
    """API tokens for people and scripts."""


@tokens.command("create")
@click.option("--name", required=True, help="Who or what uses the token.")
@click.option("--role", type=click.Choice(ROLES), default="viewer", show_default=True)
@config_option
@data_dir_option
def tokens_create(name: str, role: str, config: str | None, data_dir: str | None) -> None:
    """Create an API token and print it (shown once; only its hash is kept)."""
    settings = _settings(config, data_dir=data_dir)
    value = _with_hub(settings, lambda hub: create_token(hub.db, name, role))
    click.echo(value)


@main.command()
@config_option
@data_dir_option
def migrate(config: str | None, data_dir: str | None) -> None:
    """Apply database migrations (serve does this at start too)."""
    settings = _settings(config, data_dir=data_dir)

    async def done(_: Hub) -> None:
        return None

    _with_hub(settings, done)
    click.echo("database is up to date")


@main.command()
@click.argument("session_id")
@click.option("--at", "at", type=click.IntRange(min=0),
              help="Milliseconds from the session start (default: 500 ms before the first "
                   "error, else the last frame).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="PNG file to write.")
@click.option("--width", type=click.IntRange(200, 2560), default=1280, show_default=True)
@config_option
@data_dir_option
def snapshot(session_id: str, at: int | None, output: str, width: int, config: str | None,
             data_dir: str | None) -> None:
    """Render a moment of a session to a PNG (the renderer the API uses, and its cache)."""
    from replayhub.db.models import ReplaySession
    from replayhub.replay.moments import BadMoment, NothingToRender, picture_of
    from replayhub.replay.snapshot import SnapshotTimeout, SnapshotUnavailable

    async def render(hub: Hub) -> bytes:
        async with hub.db.read() as tx:
            session = await tx.get(ReplaySession, session_id)
        if session is None:
            raise click.ClickException(f"no session {session_id!r}")
        return await picture_of(hub, session, at, width)

    settings = _settings(config, data_dir=data_dir)
    try:
        png = _with_hub(settings, render)
    except (BadMoment, NothingToRender, SnapshotTimeout, SnapshotUnavailable) as error:
        raise click.ClickException(str(error)) from error
    Path(output).write_bytes(png)
    click.echo(f"{output}: {len(png)} bytes")


@main.command()
@config_option
@data_dir_option
def doctor(config: str | None, data_dir: str | None) -> None:
    """Check the database, the blob folder, the JS bundles and Chromium; print fixes."""
    from replayhub.doctor import report, run_checks

    settings = _settings(config, data_dir=data_dir)
    checks = asyncio.run(run_checks(settings))
    click.echo(report(checks))
    if not all(check.ok for check in checks):
        sys.exit(1)



@main.command()
@config_option
@data_dir_option
def jobs(config: str | None, data_dir: str | None) -> None:
    """List the scheduler's leader, ticks and schedules with their next and last runs."""
    from replayhub.scheduler import jobs_overview

    settings = _settings(config, data_dir=data_dir)
    for line in _with_hub(settings, jobs_overview):
        click.echo(line)


@main.group()
def connectors() -> None:
    """Connectors to the tools where people work (Zendesk...)."""


@connectors.command("check")
@config_option
@data_dir_option
def connectors_check(config: str | None, data_dir: str | None) -> None:
    """Call each enabled connector's cheapest authenticated endpoint; print OK or its error."""
    from replayhub.registry import check_connectors

    settings = _settings(config, data_dir=data_dir)
    results = _with_hub(settings, check_connectors)
    if not results:
        click.echo("no connector is enabled (add [connectors.<name>] with enabled = true)")
    for name, ok, message in results:
        click.echo(f"{name}: {'OK' if ok else 'FAILED'} {message}")
    if not all(ok for _, ok, _ in results):
        sys.exit(1)



@main.group()
def slack() -> None:
    """The Slack connector's app."""


@slack.command("manifest")
@click.option("--url", "hub_url", help="The hub's public https address "
              "(default: public_url from the settings).")
@config_option
@data_dir_option
def slack_manifest(hub_url: str | None, config: str | None, data_dir: str | None) -> None:
    """Print the Slack app manifest (Create New App → From an app manifest)."""
    import json

    from connectors.slack.manifest import build_manifest

    settings = _settings(config, data_dir=data_dir)
    url = hub_url or settings.base_url
    if not url.startswith("https://"):
        raise click.ClickException(f"Slack calls request URLs over https only, and the hub's "
                                   f"address is {url}: set public_url (or pass --url https://...)")
    unfurl = bool(settings.connectors.get("slack", {}).get("unfurl", True))
    click.echo(json.dumps(build_manifest(url, unfurl=unfurl), indent=2))


@main.group()
def zendesk() -> None:
    """The Zendesk connector's sidebar app."""


@zendesk.command("app-package")
@click.option("-o", "--output", default="replayhub-zendesk.zip", show_default=True,
              type=click.Path(dir_okay=False), help="Zip file to write.")
@click.option("--url", "hub_url", help="The hub's public https address "
              "(default: public_url from the settings).")
@click.option("--author-name", default="ReplayHub", show_default=True)
@click.option("--author-email", default="support@example.com", show_default=True,
              help="Where users of the app ask for help (Zendesk shows it).")
@config_option
@data_dir_option
def zendesk_app_package(output: str, hub_url: str | None, author_name: str, author_email: str,
                        config: str | None, data_dir: str | None) -> None:
    """Write the Zendesk sidebar app's zip (upload it as a private app in Zendesk)."""
    from connectors.zendesk.app_package import build_package

    url = hub_url or _settings(config, data_dir=data_dir).base_url
    if not url.startswith("https://"):
        raise click.ClickException(f"Zendesk loads apps over https only, and the hub's address "
                                   f"is {url}: set public_url (or pass --url https://...)")
    Path(output).write_bytes(build_package(url, author_name, author_email))
    click.echo(f"{output}: the sidebar opens {url.rstrip('/')}/zendesk/sidebar; set the app's "
               f"shared secret to connectors.zendesk.sidebar_shared_secret")


if __name__ == "__main__":
    sys.exit(main())
