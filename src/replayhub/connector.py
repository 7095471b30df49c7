"""The contract every connector implements: declared fields, typed settings, capabilities."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import msgspec

from replayhub.config import masked_repr

CAPABILITIES = ("post_note", "upload_image", "list_comments", "find_user", "tag_ticket",
                "set_ticket_field", "publish_document", "document_comments", "post_chat_alert",
                "verify_webhook")


class ConnectorSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What every connector's settings table `[connectors.<name>]` has."""

    enabled: bool = False
    """Turn the connector on; its required keys are checked at start."""
    base_url: str = ""
    """The vendor's API address; empty: the vendor's own (tests and proxies point it elsewhere)."""
    rate_limit_per_minute: int = 0
    """Requests a minute to one account; 0: the vendor's documented limit."""

    SECRETS: ClassVar[tuple[str, ...]] = ()
    """Fields whose values never reach a log line or an error message."""
    REQUIRED: ClassVar[tuple[str, ...]] = ()
    """Fields that must be set when the connector is enabled."""

    def __repr__(self) -> str:
        return masked_repr(self, self.SECRETS)

    def missing(self) -> list[str]:
        """Required fields left empty (an enabled connector cannot start without them)."""
        return [name for name in self.REQUIRED if not getattr(self, name)]


class VendorError(Exception):
    """A vendor call failed; the message never carries a secret.

    `retryable`: trying again later may work (429, 5xx, network); `retry_after`: seconds the
    vendor asked us to wait; `uncertain`: the request may have reached the vendor (a timeout
    after sending), so a retry must first check whether it took effect.
    """

    def __init__(self, message: str, *, status: int | None = None,
                 retry_after: float | None = None, retryable: bool = False,
                 uncertain: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.retryable = retryable
        self.uncertain = uncertain
        self.pace_key = ""
        """The narrower pacing key a 429 concerns (one Slack channel); "": the whole account."""


class WebhookRejected(Exception):
    """An inbound webhook the hub refuses; `status` is the HTTP answer (400, 401)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def json_object(body: bytes) -> dict[str, Any]:
    """A webhook body that must be one JSON object; anything else is a 400 for the vendor."""
    try:
        data = json.loads(body)
    except ValueError:
        raise WebhookRejected(400, "the body is not JSON") from None
    if not isinstance(data, dict):
        raise WebhookRejected(400, "the body is not a JSON object")
    return data


class Person(msgspec.Struct, omit_defaults=True):
    """A vendor's user as the hub needs it: how to match them to recorded sessions."""

    external_id: str
    """The vendor's own id of the user."""
    name: str = ""
    email: str | None = None
    user_id: str | None = None
    """The id the vendor keeps for the user in our system (matches a session's user id)."""


class Note(msgspec.Struct):
    """An internal note on a ticket, rendered by the core."""

    html_body: str
    marker: str
    """A line inside the note naming the delivery; found again after an uncertain failure."""
    uploads: list[str] = []
    """Upload tokens of images attached to the note."""


class VendorComment(msgspec.Struct):
    """A comment read back from a ticket."""

    external_id: str
    author: str
    created_at: int
    """Epoch milliseconds."""
    body: str
    html_body: str = ""
    public: bool = True


class TicketCreated(msgspec.Struct):
    """A ticket was opened: attach the requester's recent replays."""

    event_key: str
    ticket_id: str
    requester_id: str | None = None
    requester_email: str | None = None
    requester_external_id: str | None = None


class CommentAdded(msgspec.Struct):
    """A comment was added to a ticket: read the ticket's comments again."""

    event_key: str
    ticket_id: str


class IncidentUpdate(msgspec.Struct, kw_only=True):
    """An incident was opened, acknowledged or resolved at an on-call or incident tool."""

    event_key: str
    external_id: str
    """The vendor's incident id (unique per source)."""
    status: str
    """triggered, acknowledged or resolved."""
    occurred_at: int
    """Epoch milliseconds of this change (the timeline entry's time)."""
    title: str = ""
    services: list[str] = []
    """The vendor's names and ids of the affected service(s): matched to `[[incident_services]]`."""
    started_at: int | None = None
    """Epoch milliseconds the incident began (None: `occurred_at` of its first update)."""
    resolved_at: int | None = None
    url: str = ""
    """The incident's page at the vendor."""


WebhookEvent = TicketCreated | CommentAdded | IncidentUpdate


class Attachment(msgspec.Struct):
    """A file published with a document (a snapshot, a chart)."""

    filename: str
    content_type: str
    data: bytes
    url: str = ""
    """The same file at a public address (a signed share link's snapshot when the hub's URL is
    public), for vendors that cannot take an upload and show images by URL (Notion)."""


class Document(msgspec.Struct, kw_only=True):
    """A document rendered by the core (a post-mortem, a report), ready to publish."""

    key: str
    """Stable identity (`postmortem:inc_…`): publishing it again updates the same page."""
    title: str
    markdown: str = ""
    html: str = ""
    """XHTML body (Confluence storage format takes it as is)."""
    attachments: list[Attachment] = []
    marker: str = ""
    """A line the published document carries so the hub can find it again."""


class PublishedDocument(msgspec.Struct, kw_only=True):
    """Where a document lives at the vendor."""

    external_id: str
    url: str
    version: str = ""
    """The vendor's version (Confluence's number, a Git blob sha): updates name it."""


class ChatPerson(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Someone an alert mentions, with the ids each chat vendor mentions them by."""

    email: str
    name: str = ""
    slack: str = ""
    teams: str = ""


class SnapshotRef(msgspec.Struct):
    session_id: str
    t: int
    """Milliseconds from the session start."""


class ChatAlert(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What an alert says, rendered by the core; each chat connector lays it out its way."""

    key: str
    """The alert rule and its subject (`rule:fingerprint`): one message per key and cool-down."""
    kind: str
    """error.new, error.regressed, error.spike, frustration or playlist.new_sessions."""
    title: str
    summary: str
    """One line: what went wrong, where, for how many."""
    page_url: str = ""
    sessions: int = 0
    users: int = 0
    mentions: list[ChatPerson] = []
    replay_url: str = ""
    """A signed share link deep-linked to the moment."""
    hub_url: str = ""
    """The hub's page for the subject (the error group, the playlist)."""
    session_id: str = ""
    """The replay the message presents (thread replies become its comments)."""
    snapshot: SnapshotRef | None = None
    snapshot_url: str = ""
    """A public URL of the PNG, only when the hub has a public (non-loopback) URL."""
    facts: dict[str, str] = {}
    resolved: bool = False


class NotePolicy(msgspec.Struct):
    """How the core attaches replays to a new ticket (a ticketing connector's settings)."""

    lookback_hours: int = 24
    max_sessions: int = 3
    no_sessions_note: bool = False
    tag: str = "replay_attached"
    custom_field_id: int | None = None
    template: str = "notes/note.html"


class Connector(ABC):
    """One vendor account: declared with class fields, built once from its settings."""

    name: ClassVar[str]
    """The settings table and webhook path: `[connectors.<name>]`, `/webhooks/<name>`."""
    title: ClassVar[str]
    settings_type: ClassVar[type[ConnectorSettings]]
    default_rate_limit_per_minute: ClassVar[int] = 60
    """The vendor's documented limit for one account."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings

    @property
    def account(self) -> str:
        """Which vendor account this is (pacing and deliveries are kept per account)."""
        return self.name

    @property
    def rate_limit_per_minute(self) -> int:
        return self.settings.rate_limit_per_minute or self.default_rate_limit_per_minute

    @property
    def capabilities(self) -> set[str]:
        return {name for name, base in CAPABILITY_BASES.items() if isinstance(self, base)}

    def note_policy(self) -> NotePolicy:
        return NotePolicy()

    def route_handlers(self) -> list[Any]:
        """Litestar handlers the connector serves itself while enabled (none by default)."""
        return []

    @abstractmethod
    async def check(self) -> str:
        """Call the vendor's cheapest authenticated endpoint; return who we are there."""

    async def close(self) -> None:  # noqa: B027  (a connector without a client has none)
        """Release the HTTP client."""


class PostNote(ABC):
    @abstractmethod
    async def post_note(self, ticket_id: str, note: Note) -> str:
        """Post an internal note; return the vendor's id of it."""

    @abstractmethod
    async def find_note(self, ticket_id: str, marker: str) -> str | None:
        """The id of a note on the ticket carrying `marker`, if one was already posted."""


class UploadImage(ABC):
    @abstractmethod
    async def upload_image(self, filename: str, data: bytes) -> str:
        """Upload a PNG; return the token a note attaches it with."""


class ListComments(ABC):
    @abstractmethod
    async def list_comments(self, ticket_id: str) -> list[VendorComment]:
        """The ticket's comments, oldest first."""


class FindUser(ABC):
    @abstractmethod
    async def find_user(self, user_id: str) -> Person | None:
        """The vendor's user with this id (None: there is none)."""


class TagTicket(ABC):
    @abstractmethod
    async def tag_ticket(self, ticket_id: str, tags: list[str]) -> None:
        """Add tags to a ticket (keeping the ones it has)."""


class SetTicketField(ABC):
    @abstractmethod
    async def set_ticket_field(self, ticket_id: str, field_id: int, value: str) -> None:
        """Fill a custom field of a ticket."""


class PublishDocument(ABC):
    @abstractmethod
    async def publish_document(self, document: Document,
                               existing: PublishedDocument | None) -> PublishedDocument:
        """Create the document, or update `existing` in place (a new version, never a
        second page); return where it now is."""

    @abstractmethod
    async def find_document(self, document: Document) -> PublishedDocument | None:
        """The document published earlier under `document.key` (after an uncertain failure)."""


class DocumentComments(ABC):
    @abstractmethod
    async def list_document_comments(self, published: PublishedDocument) -> list[VendorComment]:
        """The document's comments, oldest first."""

    @abstractmethod
    async def post_document_comment(self, published: PublishedDocument, body: str,
                                    marker: str) -> str:
        """Add a comment carrying `marker`; return the vendor's id of it."""


class PostChatAlert(ABC):
    @abstractmethod
    async def post_alert(self, channel: str, alert: ChatAlert, marker: str) -> str:
        """Post the alert as a new message in `channel`; return the message's id."""

    async def update_alert(self, channel: str, message_id: str, alert: ChatAlert) -> bool:
        """Update a posted alert's message in place; False: the vendor cannot (post again)."""
        return False

    async def find_alert(self, channel: str, marker: str) -> str | None:
        """The id of a message carrying `marker`, if an earlier try already posted it."""
        return None


class VerifyWebhook(ABC):
    @abstractmethod
    def verify_webhook(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        """Raise WebhookRejected unless the request is signed by the vendor and fresh."""

    def verify_request(self, headers: Mapping[str, str], query: Mapping[str, str], body: bytes,
                       now: float) -> None:
        """The whole request (a vendor without signatures may send a token in the query)."""
        self.verify_webhook(headers, body, now)

    @abstractmethod
    def parse_webhook(self, body: bytes) -> WebhookEvent | None:
        """The typed event (None: one the hub ignores); raise WebhookRejected(400) if malformed."""


CAPABILITY_BASES: dict[str, type] = {
    "post_note": PostNote, "upload_image": UploadImage, "list_comments": ListComments,
    "find_user": FindUser, "tag_ticket": TagTicket, "set_ticket_field": SetTicketField,
    "publish_document": PublishDocument, "document_comments": DocumentComments,
    "post_chat_alert": PostChatAlert, "verify_webhook": VerifyWebhook,
}
