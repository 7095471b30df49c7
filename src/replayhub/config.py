"""Typed settings: a TOML file (optional) overridden by REPLAYHUB_* environment variables."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import msgspec

MIB = 1024 * 1024


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key and the fix."""


class LimitSettings(msgspec.Struct, forbid_unknown_fields=True):
    """What one ingest request may carry; larger requests are refused with 413/422."""

    max_body_bytes: int = 8 * MIB
    """Largest request body as sent (compressed or not)."""
    max_decoded_bytes: int = 64 * MIB
    """Largest body after gzip decompression."""
    max_events_per_batch: int = 5000
    """Most rrweb events in one batch."""
    max_event_bytes: int = 16 * MIB
    """Largest single rrweb event (full snapshots are the big ones)."""


class SnapshotSettings(msgspec.Struct, forbid_unknown_fields=True):
    """Headless Chromium that renders moments of replays to PNG (see replay/snapshot.py)."""

    pool_size: int = 2
    """Pages rendering at once; more requests wait their turn."""
    render_timeout_seconds: float = 20
    """A render taking longer is abandoned (504) and its page replaced."""
    recycle_after: int = 200
    """A page is replaced by a fresh one after this many renders."""
    chromium_path: str = ""
    """Empty: `chromium` on PATH, else /usr/bin/chromium."""


class OutboxSettings(msgspec.Struct, forbid_unknown_fields=True):
    """The dispatcher that sends outgoing actions (notes, messages) to connectors."""

    dispatcher: bool = True
    """Run the dispatcher in this process (several processes may; they never send one twice)."""
    max_attempts: int = 8
    """Tries per delivery before it is parked as failed (retry it from the deliveries API)."""
    concurrency: int = 16
    """Deliveries in flight at once in this process."""
    lease_seconds: int = 120
    """A delivery claimed longer ago than this by a process that died is claimed again."""
    poll_seconds: float = 2.0
    """How often the dispatcher looks for due deliveries when it is not woken."""
    backoff_initial_seconds: float = 2.0
    backoff_max_seconds: float = 600.0


class IncidentServiceMapping(msgspec.Struct, forbid_unknown_fields=True):
    """One `[[incident_services]]` table: which apps and pages a vendor's service covers."""

    service: str
    """The vendor's service name or id, a glob (`checkout*`, `PF9KMXH`, `*`)."""
    apps: list[str] = []
    """App ids or names (globs) the service's incidents concern; empty: every app."""
    urls: list[str] = []
    """Page URL globs (`https://shop.example.com/checkout*`); empty: every page."""


class IncidentSettings(msgspec.Struct, forbid_unknown_fields=True):
    """How an incident's impact is measured (GET /api/v1/incidents/{id}/impact)."""

    window_before_minutes: int = 15
    """The impact window opens this many minutes before the incident started."""
    baseline_days: int = 7
    """Error counts are compared with the same window on each of this many previous days."""
    spike_ratio: float = 2.0
    """An error group spiked when its count in the window is at least this many times its
    baseline mean (any count over a zero baseline spikes)."""
    max_replays: int = 10
    """Most replays listed as evidence."""


class PostmortemSettings(msgspec.Struct, forbid_unknown_fields=True):
    """Post-mortem drafts (GET /api/v1/incidents/{id}/postmortem)."""

    template_dir: str = ""
    """A folder with your own `postmortem.md.j2` / `postmortem.html.j2`, searched before the
    built-in templates/postmortem/ (which stay reachable as `builtin/...` to extend)."""
    share_link_days: int = 90
    """How long the signed replay links in a draft work (at most 90 days)."""


class BlobSettings(msgspec.Struct, forbid_unknown_fields=True):
    """`[blobs]`: where compressed replay segments and snapshot PNGs are kept."""

    def __repr__(self) -> str:
        return masked_repr(self, ("secret_access_key",))

    def __post_init__(self) -> None:
        if self.backend not in ("local", "s3"):
            raise ValueError(f"blobs.backend must be local or s3, not {self.backend!r}")
        if self.backend == "s3" and not self.bucket:
            raise ValueError("blobs.bucket is required when blobs.backend is s3")

    backend: str = "local"
    """local (a folder) or s3 (any S3-compatible store; several hub processes share it)."""
    path: str = ""
    """local: the folder; empty: DATA_DIR/blobs."""
    bucket: str = ""
    prefix: str = ""
    """s3: keys are stored under this prefix (one bucket can serve several hubs)."""
    endpoint: str = ""
    """s3: empty for AWS; else the store's URL (http://minio:9000, https://<id>.r2...)."""
    region: str = ""
    access_key_id: str = ""
    """s3: empty: the AWS_* environment variables or the instance's role."""
    secret_access_key: str = ""


class PersonSettings(msgspec.Struct, forbid_unknown_fields=True):
    """One `[[people]]` table: someone the hub can mention, notify and name as an owner."""

    email: str
    name: str = ""
    slack: str = ""
    """Slack member id (U…); empty: looked up once by e-mail and cached."""
    zendesk: str = ""
    """Zendesk user id."""
    teams: str = ""
    """Microsoft Teams sign-in address (for <at> mentions); empty: the e-mail."""


class TeamSettings(msgspec.Struct, forbid_unknown_fields=True):
    """One `[[teams]]` table: a group of people with the places it is told things."""

    name: str
    members: list[str] = []
    """E-mails of the members (each should also be a `[[people]]` entry)."""
    slack_channel: str = ""
    teams_webhook: str = ""
    """A Power Automate Workflows URL (a secret: never logged)."""
    email: str = ""


class SmtpSettings(msgspec.Struct, forbid_unknown_fields=True):
    """`[smtp]`: the mail server that sends mentions, reports and alerts by e-mail."""

    def __repr__(self) -> str:
        return masked_repr(self, ("password",))

    host: str = ""
    """Empty: e-mail is off (mails are recorded as failed deliveries naming this key)."""
    port: int = 25
    username: str = ""
    password: str = ""
    security: str = "none"
    """none, starttls or tls."""
    sender: str = "ReplayHub <replayhub@localhost>"
    timeout_seconds: float = 30


def masked_repr(struct: msgspec.Struct, secrets: tuple[str, ...]) -> str:
    """The struct's repr with the values of `secrets` hidden (set ones show as ***)."""
    fields = []
    for name in struct.__struct_fields__:
        value = getattr(struct, name)
        shown = "'***'" if name in secrets and value else repr(value)
        fields.append(f"{name}={shown}")
    return f"{type(struct).__name__}({', '.join(fields)})"


class Settings(msgspec.Struct, forbid_unknown_fields=True):
    """Everything the hub reads at start; see config.example.toml for each key."""

    def __repr__(self) -> str:
        return masked_repr(self, ("admin_token", "secret_key", "database_url", "connectors",
                                  "teams", "smtp",
                                  "blobs"))

    data_dir: str = "./var"
    """Folder for the SQLite database, the blob store and generated secrets."""
    database_url: str = ""
    """Empty: SQLite in WAL mode at DATA_DIR/replayhub.db. Or postgresql://user@host:port/db."""
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""
    """The URL people reach the hub at; links in notes and messages use it."""
    admin_token: str = ""
    """At start, ensures an admin API token with exactly this value."""
    secret_key: str = ""
    """Signs login cookies and share links. Empty: generated once into DATA_DIR/secret-key."""
    session_quiet_seconds: int = 30
    """A session quiet this long has its last clicks judged (dead or rage) and is closed."""
    log_level: str = "info"
    log_format: str = "console"
    """console (readable) or json (one object a line)."""
    limits: LimitSettings = msgspec.field(default_factory=LimitSettings)
    blobs: BlobSettings = msgspec.field(default_factory=BlobSettings)
    snapshots: SnapshotSettings = msgspec.field(default_factory=SnapshotSettings)
    outbox: OutboxSettings = msgspec.field(default_factory=OutboxSettings)
    incidents: IncidentSettings = msgspec.field(default_factory=IncidentSettings)
    postmortem: PostmortemSettings = msgspec.field(default_factory=PostmortemSettings)
    incident_services: list[IncidentServiceMapping] = msgspec.field(default_factory=list)
    """`[[incident_services]]` tables: an incident's service → the apps and URLs it covers."""
    people: list[PersonSettings] = msgspec.field(default_factory=list)
    """`[[people]]` tables (also editable through /api/v1/people)."""
    teams: list[TeamSettings] = msgspec.field(default_factory=list)
    """`[[teams]]` tables (also editable through /api/v1/teams)."""
    smtp: SmtpSettings = msgspec.field(default_factory=SmtpSettings)
    connectors: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)
    """`[connectors.<name>]` tables, each checked by its connector's typed settings."""

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


ENVIRONMENT = {
    "REPLAYHUB_DATA_DIR": "data_dir",
    "REPLAYHUB_DATABASE_URL": "database_url",
    "REPLAYHUB_ADMIN_TOKEN": "admin_token",
    "REPLAYHUB_SECRET_KEY": "secret_key",
    "REPLAYHUB_PUBLIC_URL": "public_url",
    "REPLAYHUB_LOG_LEVEL": "log_level",
    "REPLAYHUB_LOG_FORMAT": "log_format",
}


def load_settings(config_file: str | None = None, **overrides: Any) -> Settings:
    """Read the TOML file (argument, else REPLAYHUB_CONFIG), the environment, then overrides."""
    raw: dict[str, Any] = {}
    path = config_file or os.environ.get("REPLAYHUB_CONFIG")
    if path:
        raw = _read_toml(Path(path))
    for variable, key in ENVIRONMENT.items():
        if os.environ.get(variable):
            raw[key] = os.environ[variable]
    raw.update({key: value for key, value in overrides.items() if value is not None})
    try:
        return msgspec.convert(raw, Settings)
    except msgspec.ValidationError as error:
        raise ConfigError(f"configuration: {error} (see config.example.toml)") from error


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as error:
        raise ConfigError(f"config file {path} does not exist (set REPLAYHUB_CONFIG)") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}") from error
