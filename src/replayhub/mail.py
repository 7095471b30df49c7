"""E-mail: the one way the hub sends mail (mentions, reports, alerts), through the outbox.

`enqueue_mail` stores a delivery (inline PNGs go to the blob store under
`mail/{delivery id}/`, the JSON payload keeps their keys); the outbox action `email` builds a
multipart/alternative message (text and HTML, the HTML with its PNGs as multipart/related
parts referenced by `cid:`) and hands it to the SMTP server of `[smtp]` through the built-in
`email` connector, paced like any vendor. Once the server has taken the mail its PNGs are
deleted (a failed delivery keeps them for its retry). SMTP 4xx answers are retried, 5xx
answers fail the delivery at once.

Headers given by the caller (List-Unsubscribe, In-Reply-To...) are written as given when they
are ASCII, folded only at their spaces: the library's default folding rewrites a long URL
without spaces as RFC 2047 encoded words, which List-Unsubscribe readers (RFC 8058) do not
decode. Subject, From and To keep the standard encoding (non-ASCII subjects as RFC 2047).
"""

from __future__ import annotations

import email.policy
import email.utils
import re
from collections.abc import Mapping, Sequence
from email.headerregistry import HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.policy import Policy
from typing import TYPE_CHECKING, Any, ClassVar

import aiosmtplib
import structlog
from sqlalchemy import update

from replayhub.blobs import BlobNotFound, BlobStore
from replayhub.clock import now_ms
from replayhub.config import SmtpSettings
from replayhub.connector import Connector, ConnectorSettings, VendorError
from replayhub.db.models import Delivery
from replayhub.outbox.store import FAILED, PENDING, enqueue, new_delivery_id

if TYPE_CHECKING:
    from replayhub.hub import Hub
    from replayhub.outbox.actions import Attempt

log = structlog.get_logger(__name__)

EMAIL = "email"
"""The outbox action and the built-in connector that send mail."""
MAIL_OFF = ("e-mail is off: set [smtp] host (and port, sender) in the configuration, "
            "restart, then retry this delivery")
SECURITY = ("none", "starttls", "tls")
FIXED_HEADERS = {"from", "to", "cc", "bcc", "sender", "return-path", "subject", "date",
                 "message-id", "mime-version", "content-type", "content-transfer-encoding"}
"""Set by the hub from enqueue_mail's arguments (recipients only ever come from `to`)."""
HEADER_NAME = re.compile(r"^[!-9;-~]+$")
"""RFC 5322 field names: printable ASCII without colon or space."""
CID = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+$")
FOLD_AT = 78
"""Lines a header should keep to (RFC 5322 §2.1.1), when its spaces allow."""
LINE_LIMIT = 998
"""Lines a header must keep to (RFC 5322 §2.1.1)."""


class MailConnector(Connector):
    """The SMTP server of `[smtp]`: built by the hub when `[smtp] host` is set."""

    name: ClassVar[str] = EMAIL
    title: ClassVar[str] = "E-mail (SMTP)"
    settings_type: ClassVar[type[ConnectorSettings]] = ConnectorSettings
    default_rate_limit_per_minute: ClassVar[int] = 60

    def __init__(self, settings: SmtpSettings, blobs: BlobStore) -> None:
        super().__init__(settings)
        self.smtp = settings
        self.blobs = blobs

    @property
    def account(self) -> str:
        return f"{self.smtp.host}:{self.smtp.port}"

    @property
    def rate_limit_per_minute(self) -> int:
        return self.smtp.rate_limit_per_minute or self.default_rate_limit_per_minute

    def _options(self) -> dict[str, Any]:
        smtp = self.smtp
        return {"hostname": smtp.host, "port": smtp.port, "timeout": smtp.timeout_seconds,
                "username": smtp.username or None, "password": smtp.password or None,
                "use_tls": smtp.security == "tls",
                "start_tls": smtp.security == "starttls"}

    async def check(self) -> str:
        """Connect, greet (and log in) and say goodbye: the server answers and takes us."""
        client = aiosmtplib.SMTP(**self._options())
        try:
            await client.connect()
            await client.noop()
            await client.quit()
        except (aiosmtplib.SMTPException, OSError) as error:
            raise smtp_error(error) from None
        return f"{self.smtp.username or 'anonymous'} at {self.account}"

    async def send(self, message: EmailMessage) -> None:
        """Hand the message to the server; VendorError says whether to try again."""
        try:
            _refused, _answer = await aiosmtplib.send(message, **self._options())
        except (aiosmtplib.SMTPException, OSError) as error:
            raise smtp_error(error) from None


def smtp_error(error: Exception) -> VendorError:
    """4xx (and lost connections, timeouts): try again later; 5xx: the server refuses."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        codes = [refused.code for refused in error.recipients]
        code = min(codes) if codes else 550
        text = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in error.recipients)
        return VendorError(f"SMTP recipients refused: {text}"[:500], status=code,
                           retryable=400 <= code < 500)
    if isinstance(error, aiosmtplib.SMTPResponseException):
        return VendorError(f"SMTP {error.code}: {error.message}"[:500], status=error.code,
                           retryable=400 <= error.code < 500)
    return VendorError(f"SMTP: {type(error).__name__}: {error}"[:500], retryable=True,
                       uncertain=isinstance(error, aiosmtplib.SMTPServerDisconnected))


def mail_connector(settings: SmtpSettings, blobs: BlobStore) -> MailConnector | None:
    """The built-in `email` connector, or None while `[smtp] host` is empty."""
    if not settings.host:
        return None
    if settings.security not in SECURITY:
        from replayhub.config import ConfigError

        raise ConfigError(f"smtp.security must be one of {', '.join(SECURITY)}, "
                          f"not {settings.security!r}")
    return MailConnector(settings, blobs)


# --- enqueue -------------------------------------------------------------------------------


def _check_headers(headers: Mapping[str, str]) -> dict[str, str]:
    checked = {}
    for name, value in headers.items():
        if not HEADER_NAME.match(name) or name.lower() in FIXED_HEADERS:
            raise ValueError(f"mail header {name!r} cannot be set")
        if "\r" in value or "\n" in value:
            raise ValueError(f"mail header {name!r} has a line break")
        if value.isascii() and any(len(name) + 2 + len(word) > LINE_LIMIT
                                   for word in value.split()):
            raise ValueError(f"mail header {name!r} has a word too long for one line "
                             f"({LINE_LIMIT} characters)")
        checked[name] = value
    return checked


def _check_addresses(to: Sequence[str]) -> list[str]:
    found = [address.strip() for address in to if address.strip()]
    if not found:
        raise ValueError("a mail needs at least one recipient")
    for address in found:
        parsed = email.utils.getaddresses([address])
        if len(parsed) != 1 or not ADDRESS.match(parsed[0][1]) or "\n" in address:
            raise ValueError(f"not one e-mail address: {address!r}")
    return found


def _check_images(images: Sequence[tuple[str, bytes]]) -> None:
    cids = [cid for cid, _ in images]
    for cid in cids:
        if not CID.match(cid):
            raise ValueError(f"inline image id {cid!r}: letters, digits, '.', '_' and '-' only")
    if len(set(cids)) != len(cids):
        raise ValueError("inline image ids must differ")


def images_folder(delivery_id: str) -> str:
    """The blob folder holding one mail's inline PNGs (deleted once the mail is sent)."""
    return f"mail/{delivery_id}/"


async def _store_images(hub: Hub, delivery_id: str,
                        images: Sequence[tuple[str, bytes]]) -> list[dict[str, Any]]:
    """The mail's PNGs in its own blob folder, so sending it can delete them."""
    stored = []
    for cid, png in images:
        blob = f"{images_folder(delivery_id)}{cid}.png"
        await hub.blobs.put(blob, png)
        stored.append({"cid": cid, "blob": blob, "size": len(png)})
    return stored


async def enqueue_mail(hub: Hub, *, key: str, to: Sequence[str], subject: str, text: str,
                       html: str, inline_images: Sequence[tuple[str, bytes]] = (),
                       headers: Mapping[str, str] | None = None,
                       session_id: str | None = None) -> str:
    """Store one mail in the outbox, once per `key`; the delivery's id.

    `html` refers to each inline PNG as `<img src="cid:ID">`; `headers` adds fields such as
    `In-Reply-To` or `List-Unsubscribe` (From, To, Date, Message-ID are the hub's). Without
    `[smtp] host` the delivery is stored as failed, naming the key to set.
    """
    recipients, checked = _check_addresses(to), _check_headers(headers or {})
    _check_images(inline_images)
    delivery_id = new_delivery_id()
    payload = {"to": recipients, "subject": " ".join(subject.split())[:900],
               "text": text, "html": html, "headers": checked,
               "images": await _store_images(hub, delivery_id, inline_images)}
    connector = hub.connectors.get(EMAIL)
    now = now_ms()
    found, created = await enqueue(
        hub.db, delivery_id=delivery_id, connector=EMAIL,
        account=connector.account if connector else "", action=EMAIL, payload=payload,
        key=f"email:{key}", now_ms=now, session_id=session_id)
    if not created and inline_images:
        await hub.blobs.delete_prefix(images_folder(delivery_id))  # the first one's are kept
    if created and connector is None:
        async with hub.db.write() as tx:
            await tx.execute(update(Delivery).where(Delivery.id == found,
                                                    Delivery.status == PENDING)
                             .values(status=FAILED, last_error=MAIL_OFF, updated_at=now))
        log.warning("mail.off", delivery=found, hint="set [smtp] host")
    elif created:
        hub.dispatcher.notify()
    return found


# --- the outbox action ---------------------------------------------------------------------


def message_id(delivery_id: str, sender: str) -> str:
    """The same for every try of a delivery: a retry after a lost answer is recognisable."""
    domain = email.utils.parseaddr(sender)[1].rpartition("@")[2] or "replayhub.invalid"
    return f"<{delivery_id}@{domain}>"


def fold_at_spaces(name: str, value: str, linesep: str) -> str | None:
    """`Name: value` folded only between words, lines kept to FOLD_AT characters when the
    words allow; None when a word cannot fit LINE_LIMIT."""
    lines, line = [], f"{name}:"
    for word in value.split():
        if len(line) + 1 + len(word) > FOLD_AT and line != f"{name}:":
            lines.append(line)
            line = ""
        line += f" {word}"
    lines.append(line)
    if any(len(one) > LINE_LIMIT for one in lines):
        return None
    return linesep.join(lines) + linesep


class VerbatimHeader(UnstructuredHeader):
    """An ASCII header written as given, folded only at its spaces (never RFC 2047)."""

    def fold(self, *, policy: Policy) -> str:
        folded = fold_at_spaces(self.name, str(self), policy.linesep)
        return folded if folded is not None else super().fold(policy=policy)


def message_policy(verbatim: Sequence[str]) -> Policy:
    """The default e-mail policy, with the `verbatim` headers written as VerbatimHeader.

    The header objects carry their own folding, so it holds whatever policy the message is
    flattened with (aiosmtplib flattens with email.policy.SMTP)."""
    registry = HeaderRegistry()
    for name in verbatim:
        registry.map_to_type(name.lower(), VerbatimHeader)
    return email.policy.default.clone(header_factory=registry)


def build_message(payload: Mapping[str, Any], *, sender: str, delivery_id: str, sent_at: float,
                  images: Sequence[tuple[str, bytes]] = ()) -> EmailMessage:
    """multipart/alternative: text/plain, then text/html (multipart/related with its PNGs)."""
    extra: dict[str, str] = payload.get("headers", {})
    message = EmailMessage(policy=message_policy(
        [name for name, value in extra.items() if value.isascii()]))
    message["From"] = sender
    message["To"] = ", ".join(payload["to"])
    message["Subject"] = payload["subject"]
    message["Date"] = email.utils.formatdate(sent_at, usegmt=True)
    message["Message-ID"] = message_id(delivery_id, sender)
    for name, value in extra.items():
        message[name] = value
    message.set_content(payload["text"])
    message.add_alternative(payload["html"], subtype="html")
    if images:
        html_part = message.get_payload()[1]  # type: ignore[index]
        for cid, png in images:
            html_part.add_related(png, maintype="image", subtype="png", cid=f"<{cid}>",
                                  filename=f"{cid}.png", disposition="inline")
    return message


async def send_email(attempt: Attempt) -> str:
    """Read the inline images back, build the message and send it (paced); its Message-ID."""
    connector = attempt.connector
    if not isinstance(connector, MailConnector):
        raise VendorError(f"connector {connector.name!r} cannot send e-mail")
    payload = attempt.payload
    images = []
    for image in payload.get("images", []):
        try:
            images.append((image["cid"], await connector.blobs.get(image["blob"])))
        except BlobNotFound:
            raise VendorError(f"inline image {image['cid']!r} is gone from the blob store "
                              f"({image['blob']})") from None
    message = build_message(payload, sender=connector.smtp.sender,
                            delivery_id=attempt.delivery_id, sent_at=attempt.now(),
                            images=images)
    await attempt.pace()
    await connector.send(message)
    await _forget_images(connector.blobs, attempt.delivery_id, payload)
    return str(message["Message-ID"])


async def _forget_images(blobs: BlobStore, delivery_id: str, payload: Mapping[str, Any]) -> None:
    """Delete the sent mail's PNGs; a failure only leaves them behind (the mail is sent)."""
    folder = images_folder(delivery_id)
    if not any(image["blob"].startswith(folder) for image in payload.get("images", [])):
        return
    try:
        await blobs.delete_prefix(folder)
    except Exception as error:  # the mail went out: never fail (and send it again)
        log.warning("mail.images_left", delivery=delivery_id, blob_folder=folder,
                    error=f"{type(error).__name__}: {error}"[:300])
