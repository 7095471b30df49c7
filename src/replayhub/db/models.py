"""The hub's tables. Times are integers: milliseconds since the Unix epoch (UTC)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, LargeBinary, Text, UniqueConstraint, text
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
        Index("ix_sessions_created", "created_at"),
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
    """One ingested batch: its events live compressed in the blob store under blob_key.

    A batch is first committed with its compressed events in `staged` (one commit makes
    the batch and its rows durable together); they are then written to the blob store and
    `staged` is cleared (see replayhub.ingest.staging). Readers use `staged` while it is set.
    """

    __tablename__ = "segments"
    __table_args__ = (
        Index("ix_segments_staged", "received_at", sqlite_where=text("staged IS NOT NULL"),
              postgresql_where=text("staged IS NOT NULL")),
    )
    session_id: str = Field(foreign_key="sessions.id", primary_key=True, max_length=128)
    seq: int = Field(primary_key=True)
    blob_key: str = Field(max_length=300)
    event_count: int
    first_ts: int = _ms()
    last_ts: int = _ms()
    size_bytes: int
    indexed: bool = False
    received_at: int = _ms()
    staged: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))


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
    __table_args__ = (Index("ix_frustrations_session", "session_id", "t"),
                      Index("ix_frustrations_t", "t", "session_id"))
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


class PostmortemSection(SQLModel, table=True):
    """A post-mortem section as a person edited it; it replaces the generated text until reset.

    `version` grows with every edit and reset (optimistic concurrency: an edit names the
    version it started from); `body` None: reset, the generated text shows again.
    """

    __tablename__ = "postmortem_sections"
    __table_args__ = (UniqueConstraint("incident_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    incident_id: str = Field(foreign_key="incidents.id", max_length=32)
    name: str = Field(max_length=100)
    """The section's name (summary, impact, root_cause, action_items...)."""
    body: str | None = Field(default=None, sa_type=Text)
    """Markdown; None: back to the generated text."""
    version: int = 0
    edited_by: str = Field(default="", max_length=200)
    edited_at: int = _ms()


class IncidentComment(SQLModel, table=True):
    """A comment in an incident's thread: written in the hub, or imported from a page the
    post-mortem is published on."""

    __tablename__ = "incident_comments"
    __table_args__ = (
        UniqueConstraint("incident_id", "connector", "external_id"),
        Index("ix_incident_comments_incident", "incident_id", "created_at"),
    )
    id: str = Field(primary_key=True, max_length=32)
    incident_id: str = Field(foreign_key="incidents.id", max_length=32)
    source: str = Field(max_length=50)
    """hub, or the connector it was imported from (confluence, notion...)."""
    connector: str = Field(default="hub", max_length=50)
    external_id: str | None = Field(default=None, max_length=200)
    """The vendor's comment id; for hub comments the client's Idempotency-Key, if it sent one."""
    target_id: str | None = Field(default=None, max_length=200)
    """The vendor page an imported comment came from."""
    author: str = Field(max_length=200)
    author_email: str = Field(default="", max_length=320)
    body: str = Field(sa_type=Text)
    created_at: int = _ms()


# --- Publications of post-mortems to Confluence, Notion, Git (migration 0007) ---


class Publication(SQLModel, table=True):
    """Where an incident's post-mortem is published at one connector (one page, updated in
    place: publishing again bumps its version, never makes a second page)."""

    __tablename__ = "publications"
    __table_args__ = (UniqueConstraint("incident_id", "connector"),)
    id: int | None = Field(default=None, primary_key=True)
    incident_id: str = Field(foreign_key="incidents.id", max_length=32)
    connector: str = Field(max_length=50)
    document_key: str = Field(max_length=200)
    """`postmortem:<incident id>`: the document's identity at the vendor (see Document.key)."""
    external_id: str = Field(max_length=200)
    """The vendor's id of the page (Confluence page id, Notion page id, Git path)."""
    url: str = Field(default="", sa_type=Text)
    version: str = Field(default="", max_length=100)
    """The vendor's version after the last publish (Confluence's number, a Git blob sha)."""
    published_at: int = _ms()
    delivery_id: str = Field(default="", max_length=32)
    """The outbox delivery that last published it."""


# --- People, teams and ownership (migration 0008) ---


class Person(SQLModel, table=True):
    """Someone the hub can mention, notify and name as an owner (from [[people]] or the API)."""

    __tablename__ = "people"
    email: str = Field(primary_key=True, max_length=320)
    """Lower case: the person's key."""
    name: str = Field(default="", max_length=200)
    slack: str = Field(default="", max_length=50)
    zendesk: str = Field(default="", max_length=50)
    teams_address: str = Field(default="", max_length=320)
    """Microsoft Teams sign-in address; empty: the e-mail."""
    source: str = Field(max_length=10)
    """config or api."""
    config_hash: str | None = Field(default=None, max_length=64)
    """Hash of the config entry last applied: a changed entry is applied again at start."""
    created_at: int = _ms()
    updated_at: int = _ms()


class Team(SQLModel, table=True):
    """A group of people with the places it is told things (from [[teams]] or the API)."""

    __tablename__ = "teams"
    name: str = Field(primary_key=True, max_length=100)
    slack_channel: str = Field(default="", max_length=200)
    teams_webhook: str = Field(default="", sa_type=Text)
    """A Power Automate Workflows URL: a secret, never returned or logged."""
    email: str = Field(default="", max_length=320)
    source: str = Field(max_length=10)
    config_hash: str | None = Field(default=None, max_length=64)
    created_at: int = _ms()
    updated_at: int = _ms()


class TeamMember(SQLModel, table=True):
    __tablename__ = "team_members"
    __table_args__ = (Index("ix_team_members_email", "email"),)
    team_name: str = Field(foreign_key="teams.name", primary_key=True, max_length=100)
    email: str = Field(foreign_key="people.email", primary_key=True, max_length=320)


class SlackIdCache(SQLModel, table=True):
    """Slack member ids found by e-mail (users.lookupByEmail), so each is looked up once."""

    __tablename__ = "slack_ids"
    email: str = Field(primary_key=True, max_length=320)
    slack_id: str = Field(default="", max_length=50)
    """Empty: looked up, no Slack member has this e-mail."""
    looked_up_at: int = _ms()



# --- Alert rules' state and cool-downs (migration 0009) ---


class AlertState(SQLModel, table=True):
    """One alert rule about one subject (an error group, a page element, a playlist): the
    message it posted in the current cool-down, the counts shown, whether it is resolved."""

    __tablename__ = "alert_states"
    __table_args__ = (UniqueConstraint("rule", "subject"),
                      Index("ix_alert_states_work", "needs_post", "dirty"),
                      Index("ix_alert_states_fingerprint", "fingerprint"))
    id: int | None = Field(default=None, primary_key=True)
    rule: str = Field(max_length=200)
    subject: str = Field(max_length=300)
    """error:<app>:<fingerprint>, spike:<app>:<fingerprint>, frustration:<hash> or
    playlist:<id>."""
    kind: str = Field(max_length=40)
    """The rule's event: error.new, error.regressed, error.spike, frustration, ..."""
    fingerprint: str = Field(default="", max_length=32)
    app_id: str = Field(default="", max_length=32)
    episode: int = 1
    """Which message: a new one each time the rule fires again after its cool-down."""
    fired_at: int = _ms()
    """When the current message was decided (the cool-down runs from here)."""
    since: int = _ms()
    """Counts cover what happened from here on."""
    sessions: int = 0
    users: int = 0
    occurrences: int = 0
    needs_post: bool = True
    """The current episode's messages are still to be enqueued (or wait for the digest)."""
    dirty: bool = False
    """Counts or resolution changed: the posted messages are to be updated."""
    revision: int = 0
    """Updates enqueued so far for this episode (each update's idempotency key)."""
    resolved: bool = False
    thread_of: str = Field(default="", max_length=40)
    """"reply": a regression, posted under each target's earlier message about the error."""
    detail: str = Field(default="{}", sa_type=Text)
    """JSON: what the message names (page, selector, playlist, watchers)."""
    created_at: int = _ms()
    updated_at: int = _ms()


class AlertMessage(SQLModel, table=True):
    """A message an alert posted to one target (Slack channel, Teams team, e-mail)."""

    __tablename__ = "alert_messages"
    __table_args__ = (UniqueConstraint("state_id", "episode", "target"),
                      Index("ix_alert_messages_fingerprint", "fingerprint", "target"))
    id: int | None = Field(default=None, primary_key=True)
    state_id: int = Field(foreign_key="alert_states.id")
    episode: int
    target: str = Field(max_length=300)
    """slack:<channel>, teams:team:<name> or email:<address>."""
    fingerprint: str = Field(default="", max_length=32)
    delivery_id: str = Field(max_length=32)
    """The outbox delivery that posts it; its external_id is the message's id."""
    created_at: int = _ms()


class AlertCursor(SQLModel, table=True):
    """How far the alert tick has read an index table (by row id)."""

    __tablename__ = "alert_cursors"
    name: str = Field(primary_key=True, max_length=50)
    last_id: int = _ms(default=0)
    """The highest id read by the last tick."""
    previous_id: int = _ms(default=0)
    """The highest id read by the tick before: rows between are read again once, so a
    write that committed late (PostgreSQL) is never missed."""
    updated_at: int = _ms()


class AlertDigest(SQLModel, table=True):
    """When a rule's digest is sent next (claimed with a compare-and-set)."""

    __tablename__ = "alert_digests"
    rule: str = Field(primary_key=True, max_length=200)
    schedule: str = Field(max_length=300)
    timezone: str = Field(max_length=100)
    next_run_at: int = _ms()
    last_run_at: int | None = _ms(nullable=True)


class ErrorResolution(SQLModel, table=True):
    """An error group marked resolved (in the hub or from chat); a new occurrence regresses it."""

    __tablename__ = "error_resolutions"
    __table_args__ = (Index("ix_error_resolutions_fingerprint", "fingerprint"),)
    group_id: int = Field(foreign_key="error_groups.id", primary_key=True)
    fingerprint: str = Field(max_length=32)
    resolved_at: int | None = _ms(nullable=True)
    """None: open again (it regressed)."""
    resolved_by: str = Field(default="", max_length=200)
    regressed_at: int | None = _ms(nullable=True)
    updated_at: int = _ms()


# --- Chat messages and threads (migration 0010) ---


class ChatMessage(SQLModel, table=True):
    """A chat message the hub posted or imported (Slack): which replay its thread is about.

    Thread replies become comments on `session_id`; a message whose `ts` is here is known, so
    its echo (the vendor's event for a message the hub posted) is never imported again.
    """

    __tablename__ = "chat_messages"
    __table_args__ = (
        UniqueConstraint("connector", "channel", "ts"),
        Index("ix_chat_messages_session", "session_id"),
        Index("ix_chat_messages_comment", "comment_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    connector: str = Field(max_length=50)
    channel: str = Field(max_length=100)
    """The vendor's channel id."""
    ts: str = Field(max_length=64)
    """The message's id in the channel (Slack's ts)."""
    thread_ts: str | None = Field(default=None, max_length=64)
    """The thread's first message (None: this message starts a thread)."""
    kind: str = Field(max_length=20)
    """alert, alert_reply, share, hub_comment (a hub comment posted) or chat_comment (a reply
    imported as a comment)."""
    session_id: str | None = Field(default=None, max_length=128)
    alert_key: str | None = Field(default=None, max_length=300)
    delivery_id: str | None = Field(default=None, max_length=32)
    comment_id: str | None = Field(default=None, max_length=32)
    created_at: int = _ms()
    deleted_at: int | None = _ms(nullable=True)
    """The vendor message was deleted (its imported comment is gone; the ts stays known)."""


# --- Scheduler: leader lease, schedules and runs (migration 0011) ---


class Lease(SQLModel, table=True):
    """A lease held by one hub process until `expires_at` (the scheduler's leader)."""

    __tablename__ = "leases"
    name: str = Field(primary_key=True, max_length=50)
    owner: str = Field(max_length=100)
    expires_at: int = _ms()


class TickStatus(SQLModel, table=True):
    """The last run of each scheduler tick, for `replayhub jobs`."""

    __tablename__ = "tick_status"
    name: str = Field(primary_key=True, max_length=50)
    owner: str = Field(default="", max_length=100)
    started_at: int | None = _ms(nullable=True)
    finished_at: int | None = _ms(nullable=True)
    result: str = Field(default="", sa_type=Text)
    """What the tick did (a count) or its error."""


class Schedule(SQLModel, table=True):
    """A recurring job (a report, a digest): an RRULE or cron rule in an IANA timezone."""

    __tablename__ = "schedules"
    __table_args__ = (Index("ix_schedules_due", "paused", "next_run_at"),
                      UniqueConstraint("kind", "target_id"))
    id: str = Field(primary_key=True, max_length=32)
    kind: str = Field(max_length=30)
    """What runs: a key of replayhub.scheduler.KINDS (report, ...)."""
    target_id: str = Field(max_length=64)
    """The report (or other object) the schedule runs."""
    rule: str = Field(max_length=300)
    timezone: str = Field(default="UTC", max_length=64)
    anchor_at: int = _ms()
    """Where an RRULE's recurrence starts (its DTSTART): the schedule's creation."""
    next_run_at: int = _ms()
    """The next occurrence, claimed by a compare-and-set so one process runs it."""
    last_run_at: int | None = _ms(nullable=True)
    paused: bool = False
    failures: int = 0
    """Failed runs in a row; the schedule pauses after [scheduler] pause_after_failures."""
    created_at: int = _ms()


class ScheduleRun(SQLModel, table=True):
    """One occurrence of a schedule; (schedule, fire time) is unique, so it runs once."""

    __tablename__ = "schedule_runs"
    __table_args__ = (UniqueConstraint("schedule_id", "fire_time"),
                      Index("ix_schedule_runs_schedule", "schedule_id", "fire_time"),
                      Index("ix_schedule_runs_lease", "status", "lease_until"))
    id: str = Field(primary_key=True, max_length=32)
    schedule_id: str = Field(foreign_key="schedules.id", max_length=32)
    fire_time: int = _ms()
    status: str = Field(max_length=10)
    """running, succeeded, skipped or failed."""
    claimed_by: str = Field(default="", max_length=100)
    """The process running it (host:pid); another one takes over when the lease runs out."""
    lease_until: int = _ms(default=0)
    """Renewed while the run lasts; a "running" run past it was interrupted and is resumed."""
    attempts: int = 1
    """Tries so far (1, plus one per takeover after an interruption)."""
    started_at: int = _ms()
    finished_at: int | None = _ms(nullable=True)
    error: str = Field(default="", sa_type=Text)
    delivered: str = Field(default="[]", sa_type=Text)
    """JSON list: what the run sent (delivery ids, a skip reason)."""


class PurgedSession(SQLModel, table=True):
    """A session deleted by retention: links to it say so instead of failing."""

    __tablename__ = "purged_sessions"
    id: str = Field(primary_key=True, max_length=128)
    purged_at: int = _ms()


# --- Playlists (migration 0012) ---


class Playlist(SQLModel, table=True):
    """A collection (sessions added by hand) or a saved search (filters); never both."""

    __tablename__ = "playlists"
    __table_args__ = (Index("ix_playlists_kind", "kind", "refreshed_at"),)
    id: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=20)
    """collection or search."""
    filters: str = Field(default="{}", sa_type=Text)
    """JSON: the filters of GET /api/v1/sessions (saved searches only)."""
    owner: str = Field(default="", max_length=200)
    created_at: int = _ms()
    updated_at: int = _ms()
    refreshed_at: int | None = _ms(nullable=True)
    counted_at: int | None = _ms(nullable=True)
    """The last full count; between two, refreshes add the new matches to it."""
    seen_until: int | None = _ms(nullable=True)
    """Sessions stored up to this time have been looked at; the next refresh takes the later
    ones (its new matches)."""
    match_count: int = 0
    """Matching sessions at the last refresh (at most COUNT_CAP; see count_capped)."""
    count_capped: bool = False
    new_count: int = 0
    """Sessions that joined the saved search at its last refresh."""


class PlaylistItem(SQLModel, table=True):
    """A session in a collection, with the moment to open it at and a note."""

    __tablename__ = "playlist_items"
    __table_args__ = (Index("ix_playlist_items_session", "session_id"),
                      Index("ix_playlist_items_added", "playlist_id", "added_at"))
    playlist_id: str = Field(foreign_key="playlists.id", primary_key=True, max_length=32)
    session_id: str = Field(foreign_key="sessions.id", primary_key=True, max_length=128)
    t: int = 0
    note: str = Field(default="", sa_type=Text)
    added_by: str = Field(default="", max_length=200)
    added_at: int = _ms()


class PlaylistWatcher(SQLModel, table=True):
    """Someone told about a saved search's new matches: an e-mail, team:NAME or slack:CHANNEL."""

    __tablename__ = "playlist_watchers"
    playlist_id: str = Field(foreign_key="playlists.id", primary_key=True, max_length=32)
    watcher: str = Field(primary_key=True, max_length=320)
    unwatched: int = 0
    """A person's matching sessions they have not opened yet (at the last refresh)."""
    created_at: int = _ms()


# --- Reports (migration 0013) ---


class Report(SQLModel, table=True):
    """A scheduled report: what it covers (filters or a playlist), its period and recipients.
    When it runs lives in `schedules` (kind "report", target_id = this id)."""

    __tablename__ = "reports"
    id: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=200)
    owner: str = Field(default="", max_length=320)
    """Who created it (an e-mail, or a token's name): told when the report is paused."""
    filters: str = Field(default="{}", sa_type=Text)
    """JSON: the filters of GET /api/v1/sessions (without since/until)."""
    playlist_id: str | None = Field(default=None, max_length=32)
    schedule: str = Field(max_length=300)
    timezone: str = Field(default="UTC", max_length=64)
    period: str = Field(default="", max_length=32)
    """ISO 8601 duration; empty: the time between two occurrences of the schedule."""
    deliver: str = Field(default="[]", sa_type=Text)
    """JSON list of {"email"} | {"slack": channel} | {"team": name}."""
    unsubscribed: str = Field(default="[]", sa_type=Text)
    """JSON list of addresses that unsubscribed although a team entry still names them."""
    skip_empty: bool = True
    created_at: int = _ms()
    updated_at: int = _ms()


class ReportRun(SQLModel, table=True):
    """What one run of a report said (its page in the hub), keyed by the schedule's run."""

    __tablename__ = "report_runs"
    __table_args__ = (Index("ix_report_runs_report", "report_id", "created_at"),)
    run_id: str = Field(primary_key=True, max_length=32)
    report_id: str = Field(foreign_key="reports.id", max_length=32)
    since: int = _ms()
    until: int = _ms()
    content: str = Field(sa_type=Text)
    """JSON: the figures, tables and links of the report."""
    chart_svg: str = Field(default="", sa_type=Text)
    created_at: int = _ms()
