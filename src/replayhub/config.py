"""Typed settings: a TOML file (optional) overridden by REPLAYHUB_* environment variables."""

from __future__ import annotations

import os
import re
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
    share_link_days: int = 30
    """How long the signed replay links in a draft work (at most 90 days)."""
    share_links: bool = True
    """Published documents carry signed share links to the evidence replays, so readers
    without a hub account can watch them; false: they link to the hub's replay pages only
    (a login needed). Drafts read in the hub carry share links for agents and admins only."""


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


class SchedulerSettings(msgspec.Struct, forbid_unknown_fields=True):
    """`[scheduler]`: interval ticks and report schedules, run by one leader process."""

    enabled: bool = True
    """Take part in the leader election in this process (any number of processes may)."""
    lease_seconds: float = 45
    """The leader renews its lease every third of this; another process takes over when
    it runs out (so within a minute with the default)."""
    pause_after_failures: int = 3
    """A schedule (a report) that fails this many times in a row is paused (0: never)."""


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


Patterns = str | list[str]


class OwnershipMatch(msgspec.Struct, forbid_unknown_fields=True):
    """What an ownership rule looks at; each key is a case-insensitive glob (or `re:REGEX`,
    searched anywhere in the value), or a list of them (any may match). Keys are ANDed."""

    app: Patterns = ""
    """App id or name (for an incident also its service)."""
    url: Patterns = ""
    """A page URL of the session / error group / incident scope."""
    error: Patterns = ""
    """An error's fingerprint, message or `Type: message`."""
    tags: Patterns = ""
    """One of the subject's tags."""

    def patterns(self) -> dict[str, list[str]]:
        """The keys that are set, each with its list of patterns."""
        found = {}
        for key in self.__struct_fields__:
            value = getattr(self, key)
            values = [value] if isinstance(value, str) else list(value)
            if any(values):
                found[key] = [v for v in values if v]
        return found


class OwnershipRule(msgspec.Struct, forbid_unknown_fields=True):
    """One `[[ownership]]` table; rules are tried in order (see replayhub.people)."""

    name: str
    match: OwnershipMatch = msgspec.field(default_factory=OwnershipMatch)
    """Empty: matches everything (a catch-all)."""
    owners: list[str] = []
    """`team:NAME` or an e-mail address."""
    stop: bool = False
    """When this rule matches, later rules are not tried."""

    def __post_init__(self) -> None:
        for key, patterns in self.match.patterns().items():
            for pattern in patterns:
                if pattern.startswith("re:"):
                    try:
                        re.compile(pattern[3:])
                    except re.error as error:
                        raise ValueError(f"ownership rule {self.name!r}: match.{key} "
                                         f"{pattern!r} is not a valid regex ({error})") from None
        for owner in self.owners:
            if not (owner.startswith("team:") and owner[5:].strip()) and "@" not in owner:
                raise ValueError(f"ownership rule {self.name!r}: owner {owner!r} is neither "
                                 "team:NAME nor an e-mail address")


ALERT_EVENTS = ("error.new", "error.regressed", "error.spike", "frustration",
                "playlist.new_sessions")
FRUSTRATION_SIGNALS = ("rage_click", "dead_click", "error_click")
DURATION = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*(?:(\d+)\s*s)?\s*$")


def duration_seconds(value: str | int) -> int:
    """`90` (seconds), `90s`, `15m`, `1h`, `1h30m`, `2d` as seconds; ValueError otherwise."""
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{value} is negative")
        return value
    found = DURATION.match(value)
    if not found or not any(found.groups()):
        raise ValueError(f"{value!r} is not a duration such as 90s, 15m, 1h or 1h30m")
    days, hours, minutes, seconds = (int(part or 0) for part in found.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


class AlertRule(msgspec.Struct, forbid_unknown_fields=True):
    """One `[[alerts]]` table: which event tells whom, how often (see replayhub.alerts)."""

    name: str
    on: str
    """error.new, error.regressed, error.spike, frustration or playlist.new_sessions."""
    match: OwnershipMatch = msgspec.field(default_factory=OwnershipMatch)
    """Like an ownership rule's: app, url, error, tags (globs or `re:`), ANDed; empty: all."""
    notify: str | list[str] = "owners"
    """"owners" (of the error or page, see [[ownership]]) or a list of `team:NAME` and
    e-mail addresses (`owners` may be one of them)."""
    cooldown: str | int = "1h"
    """One message per rule and subject per cool-down; later sessions update its counts."""
    digest: str = "off"
    """off, or a schedule (RRULE `FREQ=DAILY;BYHOUR=9` or cron `0 9 * * 1`) read in
    `timezone`: the events are collected and sent as one message at each occurrence."""
    timezone: str = "UTC"
    signals: list[str] = []
    """frustration: which signals (rage_click, dead_click, error_click); empty: all."""
    spike_ratio: float = 3.0
    """error.spike: the last hour's count is at least this times the mean of the same hour
    on the 7 previous days."""
    spike_min: int = 10
    """error.spike: the fewest occurrences in the hour that can be a spike."""

    @property
    def cooldown_ms(self) -> int:
        return duration_seconds(self.cooldown) * 1000

    @property
    def has_digest(self) -> bool:
        return self.digest.strip().lower() not in ("", "off")

    def targets(self) -> list[str]:
        return [self.notify] if isinstance(self.notify, str) else list(self.notify)

    def __post_init__(self) -> None:
        where = f"alert rule {self.name!r}"
        if self.on not in ALERT_EVENTS:
            raise ValueError(f"{where}: on = {self.on!r} is not one of {', '.join(ALERT_EVENTS)}")
        for key, patterns in self.match.patterns().items():
            for pattern in patterns:
                if pattern.startswith("re:"):
                    try:
                        re.compile(pattern[3:])
                    except re.error as error:
                        raise ValueError(f"{where}: match.{key} {pattern!r} is not a valid "
                                         f"regex ({error})") from None
        for target in self.targets():
            if target != "owners" and not (target.startswith("team:") and target[5:].strip()) \
                    and "@" not in target:
                raise ValueError(f"{where}: notify {target!r} is neither owners, team:NAME "
                                 "nor an e-mail address")
        try:
            duration_seconds(self.cooldown)
        except ValueError as error:
            raise ValueError(f"{where}: cooldown {error}") from None
        for signal in self.signals:
            if signal not in FRUSTRATION_SIGNALS:
                raise ValueError(f"{where}: signal {signal!r} is not one of "
                                 f"{', '.join(FRUSTRATION_SIGNALS)}")
        if self.has_digest:
            from replayhub.schedules import RuleError, validate_rule

            try:
                validate_rule(self.digest, self.timezone)
            except RuleError as error:
                raise ValueError(f"{where}: digest {error}") from None


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
    rate_limit_per_minute: int = 60
    """Mails a minute to the server (the outbox paces them like any vendor's calls)."""


class ReportSettings(msgspec.Struct, forbid_unknown_fields=True):
    """`[reports]`: what scheduled reports hold (each report's schedule is set through the API)."""

    skip_empty: bool = True
    """A new report sends nothing for a period without sessions or errors (each report can
    override it with `skip_empty`)."""
    snapshots: bool = True
    """Show a snapshot of each telling replay (rendered by Chromium; off: links only)."""
    max_error_groups: int = 10
    """New and regressed error groups listed, most affected users first."""
    max_replays: int = 3
    """Telling replays shown with their snapshot."""
    unsubscribe_days: int = 365
    """How long a mail's one-click unsubscribe link works."""


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
    retention_days: int = 30
    """Sessions older than this are deleted with their blobs (0: keep forever); sessions in a
    collection playlist are kept."""
    limits: LimitSettings = msgspec.field(default_factory=LimitSettings)
    blobs: BlobSettings = msgspec.field(default_factory=BlobSettings)
    scheduler: SchedulerSettings = msgspec.field(default_factory=SchedulerSettings)
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
    ownership: list[OwnershipRule] = msgspec.field(default_factory=list)
    """`[[ownership]]` rules, in order: each matching rule adds its owners, until a matching
    rule with `stop` (see replayhub.people and POST /api/v1/ownership/test)."""
    alerts: list[AlertRule] = msgspec.field(default_factory=list)
    """`[[alerts]]` rules: which events (new errors, regressions, spikes, frustration) tell
    whom, in chat or by e-mail (see replayhub.alerts)."""
    alert_link_days: int = 30
    """How long the "Open replay" link of a chat alert works (a fresh link on each update)."""
    smtp: SmtpSettings = msgspec.field(default_factory=SmtpSettings)
    reports: ReportSettings = msgspec.field(default_factory=ReportSettings)
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
