"""The hub's tables. Times are integers: milliseconds since the Unix epoch (UTC)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def _ms(nullable: bool = False, default: int | None = None) -> object:
    """An epoch-milliseconds column (BIGINT)."""
    return Field(default=default, sa_column=Column(BigInteger, nullable=nullable))


class App(SQLModel, table=True):
    """A recorded web application; its ingest key may only write sessions to it."""

    __tablename__ = "apps"
    id: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=200)
    ingest_key_hash: str = Field(max_length=64, unique=True)
    ingest_key_hint: str = Field(max_length=16)
    created_at: int = _ms()


class ApiToken(SQLModel, table=True):
    """A bearer token with a role (viewer, agent, admin); only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    id: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=200)
    role: str = Field(max_length=16)
    token_hash: str = Field(max_length=64, unique=True)
    token_hint: str = Field(max_length=16)
    created_at: int = _ms()
    revoked_at: int | None = _ms(nullable=True)


class ReplaySession(SQLModel, table=True):
    """One recorded browser session: the row search reads, kept small."""

    __tablename__ = "sessions"
    __table_args__ = (
        Index("ix_sessions_started", "started_at", "id"),
        Index("ix_sessions_app_started", "app_id", "started_at", "id"),
        Index("ix_sessions_user_email", "user_email", "started_at", "id"),
        Index("ix_sessions_user_id", "user_id", "started_at", "id"),
        Index("ix_sessions_open", "needs_close", "updated_at"),
    )
    id: str = Field(primary_key=True, max_length=128)
    app_id: str = Field(foreign_key="apps.id", max_length=32)
    started_at: int = _ms()
    """Sort key: the first event time of the first batch stored; never changes."""
    ended_at: int = _ms()
    duration_ms: int = _ms(default=0)
    user_id: str | None = Field(default=None, max_length=200)
    user_email: str | None = Field(default=None, max_length=320)
    user_name: str | None = Field(default=None, max_length=200)
    first_url: str = Field(default="", sa_type=Text)
    last_url: str = Field(default="", sa_type=Text)
    user_agent: str = Field(default="", sa_type=Text)
    browser: str = Field(default="", max_length=100)
    os: str = Field(default="", max_length=100)
    device: str = Field(default="", max_length=50)
    viewport_width: int | None = None
    viewport_height: int | None = None
    page_count: int = 0
    click_count: int = 0
    error_count: int = 0
    rage_click_count: int = 0
    dead_click_count: int = 0
    error_click_count: int = 0
    event_count: int = 0
    size_bytes: int = _ms(default=0)
    segment_count: int = 0
    indexed_seq: int = -1
    """Highest seq such that every batch 0..seq has been indexed."""
    needs_close: bool = False
    """Indexed batches wait for the session to go quiet: clicks at its end are decided then."""
    created_at: int = _ms()
    updated_at: int = _ms()


class Segment(SQLModel, table=True):
    """One ingested batch: its events live compressed in the blob store under blob_key."""

    __tablename__ = "segments"
    session_id: str = Field(foreign_key="sessions.id", primary_key=True, max_length=128)
    seq: int = Field(primary_key=True)
    blob_key: str = Field(max_length=300)
    event_count: int
    first_ts: int = _ms()
    last_ts: int = _ms()
    size_bytes: int
    indexed: bool = False
    received_at: int = _ms()


class IndexCheckpoint(SQLModel, table=True):
    """The indexer's state after the session's last indexed batch (DOM mirror, pending clicks)."""

    __tablename__ = "index_checkpoints"
    session_id: str = Field(foreign_key="sessions.id", primary_key=True, max_length=128)
    seq: int
    state: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class PageView(SQLModel, table=True):
    __tablename__ = "page_views"
    __table_args__ = (Index("ix_page_views_session", "session_id", "t"),)
    id: int | None = Field(default=None, primary_key=True)
    session_id: str = Field(foreign_key="sessions.id", max_length=128)
    url_id: int = Field(foreign_key="urls.id", index=True)
    t: int = _ms()
    url: str = Field(sa_type=Text)
    title: str = Field(default="", sa_type=Text)


class Url(SQLModel, table=True):
    """Distinct page URLs, so a substring search scans URLs, not every page view."""

    __tablename__ = "urls"
    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(sa_type=Text, unique=True)


class SessionUrl(SQLModel, table=True):
    """Which sessions visited which URL, ordered for newest-first search."""

    __tablename__ = "session_urls"
    __table_args__ = (
        Index("ix_session_urls_url_started", "url_id", "started_at", "session_id"),
        Index("ix_session_urls_session", "session_id", "url_id"),
    )
    url_id: int = Field(foreign_key="urls.id", primary_key=True)
    session_id: str = Field(foreign_key="sessions.id", primary_key=True, max_length=128)
    started_at: int = _ms()


class Action(SQLModel, table=True):
    """A click or a field the user typed in (the field only, never the value)."""

    __tablename__ = "actions"
    __table_args__ = (Index("ix_actions_session", "session_id", "t"),)
    id: int | None = Field(default=None, primary_key=True)
    session_id: str = Field(foreign_key="sessions.id", max_length=128)
    t: int = _ms()
    kind: str = Field(max_length=20)
    selector: str = Field(sa_type=Text)
    tag: str = Field(default="", max_length=50)
    element_id: str = Field(default="", max_length=200)
    classes: str = Field(default="", sa_type=Text)
    text: str = Field(default="", sa_type=Text)
    url: str = Field(default="", sa_type=Text)


class ErrorGroup(SQLModel, table=True):
    """Errors of one app grouped by fingerprint."""

    __tablename__ = "error_groups"
    __table_args__ = (UniqueConstraint("app_id", "fingerprint"),)
    id: int | None = Field(default=None, primary_key=True)
    app_id: str = Field(foreign_key="apps.id", max_length=32)
    fingerprint: str = Field(max_length=32, index=True)
    type: str = Field(default="", max_length=200)
    message: str = Field(sa_type=Text)
    first_seen: int = _ms()
    last_seen: int = _ms()


class ErrorEvent(SQLModel, table=True):
    """One occurrence of an error in a session."""

    __tablename__ = "error_events"
    __table_args__ = (
        Index("ix_error_events_group_t", "group_id", "t", "session_id", "user_key"),
        Index("ix_error_events_t", "t", "group_id"),
        Index("ix_error_events_session", "session_id", "t"),
    )
    id: int | None = Field(default=None, primary_key=True)
    session_id: str = Field(foreign_key="sessions.id", max_length=128)
    group_id: int = Field(foreign_key="error_groups.id")
    t: int = _ms()
    user_key: str = Field(max_length=330)
    """user id or email, else the session id: what "distinct users" counts."""
    type: str = Field(default="", max_length=200)
    message: str = Field(sa_type=Text)
    stack: str = Field(default="", sa_type=Text)
    url: str = Field(default="", sa_type=Text)
    source: str = Field(default="custom", max_length=20)


class Frustration(SQLModel, table=True):
    """A frustration signal: rage_click, dead_click or error_click."""

    __tablename__ = "frustrations"
    __table_args__ = (Index("ix_frustrations_session", "session_id", "t"),)
    id: int | None = Field(default=None, primary_key=True)
    session_id: str = Field(foreign_key="sessions.id", max_length=128)
    t: int = _ms()
    kind: str = Field(max_length=20)
    selector: str = Field(sa_type=Text)
    url: str = Field(default="", sa_type=Text)
    clicks: int = 1
    error_fingerprint: str | None = Field(default=None, max_length=32)


class ReplayView(SQLModel, table=True):
    """One opening of the player: who watched a session, through a page or a share link."""

    __tablename__ = "replay_views"
    __table_args__ = (Index("ix_replay_views_session", "session_id", "viewed_at"),)
    id: int | None = Field(default=None, primary_key=True)
    session_id: str = Field(foreign_key="sessions.id", max_length=128)
    viewer: str = Field(max_length=200)
    """The API token's name, or "share link"."""
    via: str = Field(max_length=10)
    """page or share."""
    share_token_hash: str | None = Field(default=None, max_length=64)
    viewed_at: int = _ms()


class Delivery(SQLModel, table=True):
    """An outgoing action (a note, a message), stored before it is attempted (the outbox)."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        Index("ix_deliveries_created", "created_at", "id"),
    )
    id: str = Field(primary_key=True, max_length=32)
    connector: str = Field(max_length=50)
    account: str = Field(max_length=200)
    action: str = Field(max_length=50)
    payload: str = Field(sa_type=Text)
    """JSON: what to send, rendered by the core."""
    progress: str = Field(default="{}", sa_type=Text)
    """JSON: the vendor's answer to each finished step, so a retry resumes after it."""
    idempotency_key: str = Field(max_length=300, unique=True)
    status: str = Field(max_length=10)
    """pending, sending, sent or failed."""
    attempts: int = 0
    next_attempt_at: int = _ms()
    lease_until: int | None = _ms(nullable=True)
    lease_owner: str | None = Field(default=None, max_length=64)
    last_error: str | None = Field(default=None, sa_type=Text)
    external_id: str | None = Field(default=None, max_length=200)
    session_id: str | None = Field(default=None, max_length=128)
    created_at: int = _ms()
    updated_at: int = _ms()
    sent_at: int | None = _ms(nullable=True)


class WebhookDelivery(SQLModel, table=True):
    """A verified inbound webhook, stored before it is processed; its key makes it once."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("connector", "event_key"),
                      Index("ix_webhook_deliveries_due", "status", "next_attempt_at"))
    id: int | None = Field(default=None, primary_key=True)
    connector: str = Field(max_length=50)
    event_key: str = Field(max_length=200)
    """The vendor's event id, else a hash of the body."""
    body: str = Field(sa_type=Text)
    status: str = Field(max_length=10)
    """received, retrying (waits for next_attempt_at), processed or failed."""
    error: str | None = Field(default=None, sa_type=Text)
    received_at: int = _ms()
    processed_at: int | None = _ms(nullable=True)
    attempts: int = 0
    """Processing attempts so far (the first one runs right after the answer)."""
    next_attempt_at: int | None = _ms(nullable=True)
    """When a retrying row (or a received one whose process died) is taken up again."""


class SessionLink(SQLModel, table=True):
    """A session attached to a vendor's ticket: comments flow both ways along it."""

    __tablename__ = "session_links"
    __table_args__ = (
        UniqueConstraint("connector", "target_id", "session_id"),
        Index("ix_session_links_session", "session_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    session_id: str = Field(foreign_key="sessions.id", max_length=128)
    connector: str = Field(max_length=50)
    target_id: str = Field(max_length=200)
    """The ticket's id at the vendor."""
    created_at: int = _ms()


class Comment(SQLModel, table=True):
    """A comment on a session, written in the hub or imported from a linked ticket."""

    __tablename__ = "comments"
    __table_args__ = (
        UniqueConstraint("session_id", "connector", "external_id"),
        Index("ix_comments_session", "session_id", "created_at"),
    )
    id: str = Field(primary_key=True, max_length=32)
    session_id: str = Field(foreign_key="sessions.id", max_length=128)
    source: str = Field(max_length=50)
    """hub, or the connector it was imported from."""
    connector: str = Field(default="hub", max_length=50)
    external_id: str | None = Field(default=None, max_length=200)
    """The vendor's comment id (imported comments)."""
    target_id: str | None = Field(default=None, max_length=200)
    """The ticket an imported comment came from."""
    author: str = Field(max_length=200)
    body: str = Field(sa_type=Text)
    created_at: int = _ms()


class Incident(SQLModel, table=True):
    """An incident from an on-call tool (or entered by hand); its impact is measured on replays."""

    __tablename__ = "incidents"
    __table_args__ = (UniqueConstraint("source", "external_id"),
                      Index("ix_incidents_started", "started_at", "id"))
    id: str = Field(primary_key=True, max_length=32)
    source: str = Field(max_length=50)
    """The connector it came from (pagerduty, incidentio, opsgenie, incidents) or manual."""
    external_id: str = Field(max_length=200)
    title: str = Field(default="", sa_type=Text)
    status: str = Field(max_length=20)
    """triggered, acknowledged or resolved."""
    service: str = Field(default="", max_length=300)
    url: str = Field(default="", sa_type=Text)
    started_at: int = _ms()
    resolved_at: int | None = _ms(nullable=True)
    app_ids: str = Field(default="[]", sa_type=Text)
    """JSON list of app ids the incident concerns; empty: every app."""
    url_patterns: str = Field(default="[]", sa_type=Text)
    """JSON list of page URL globs; empty: every page."""
    created_at: int = _ms()
    updated_at: int = _ms()


class IncidentEvent(SQLModel, table=True):
    """The incident's timeline: triggered, acknowledged, resolved, with their times."""

    __tablename__ = "incident_events"
    __table_args__ = (UniqueConstraint("incident_id", "event_key"),
                      Index("ix_incident_events_incident", "incident_id", "at"))
    id: int | None = Field(default=None, primary_key=True)
    incident_id: str = Field(foreign_key="incidents.id", max_length=32)
    kind: str = Field(max_length=20)
    at: int = _ms()
    event_key: str = Field(max_length=200)
    """The inbox key of the webhook that brought it (a redelivery adds nothing)."""



# --- Post-mortem notebook: edited sections, incident comments (migration 0006) ---


# --- Publications of post-mortems to Confluence, Notion, Git (migration 0007) ---


# --- People, teams and ownership (migration 0008) ---


# --- Alert rules' state and cool-downs (migration 0009) ---


# --- Chat messages and threads (migration 0010) ---


# --- Scheduler: leader lease, schedules and runs (migration 0011) ---


# --- Playlists (migration 0012) ---


# --- Reports (migration 0013) ---
