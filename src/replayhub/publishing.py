"""Post-mortems published where the team writes (Confluence, Notion, Git), kept in step.

`publish_postmortem` enqueues one outbox delivery per target, at most one waiting per
incident and target. The delivery ("publish_document") renders the post-mortem when it is sent
(Markdown, XHTML, the chart and the evidence snapshots as PNG attachments), so a late retry
never publishes an older version; it holds a lease per incident and target while it works, so
two deliveries never publish at once. It looks for the page before creating one, updates it
in place when it exists (a new version, never a second page) and records it in
`publications`; then, for an incident that came from PagerDuty, it enqueues one note on the
incident with the link ("incident_note"). Comments flow both ways: the
`sync_document_comments` tick imports a published page's comments into the incident's thread
(never the hub's own), and `push_incident_comment` posts a comment written in the hub onto
every page ("document_comment").
"""

from __future__ import annotations

import asyncio
import hashlib
import io
from html import escape
from typing import TYPE_CHECKING, Any

import msgspec
import structlog
from sqlalchemy import or_, select, update

from replayhub.clock import now_ms
from replayhub.connector import (
    Attachment,
    Connector,
    Document,
    DocumentComments,
    PostNote,
    PublishDocument,
    PublishedDocument,
    VendorComment,
    VendorError,
)
from replayhub.db.models import Delivery, Incident, Lease, Publication
from replayhub.db.upsert import insert_ignore
from replayhub.index.sessions import iso
from replayhub.outbox.store import (
    PENDING,
    SENDING,
    enqueue,
    new_delivery_id,
    sent_external_ids,
)
from replayhub.postmortem import (
    TEMPLATES,
    Chart,
    PostmortemContext,
    environment,
    postmortem_context,
)
from replayhub.templating import render

if TYPE_CHECKING:
    from replayhub.db.engine import Database
    from replayhub.hub import Hub
    from replayhub.outbox.actions import Attempt, SnapshotFn

log = structlog.get_logger(__name__)
PUBLISH_DOCUMENT = "publish_document"
INCIDENT_NOTE = "incident_note"
DOCUMENT_COMMENT = "document_comment"
DOCUMENT_MARKER = "replayhub-document:"
PAGERDUTY = "pagerduty"
HUB = "hub"


class UnknownTarget(ValueError):
    """A target that is not an enabled connector able to publish documents."""


class PublicationItem(msgspec.Struct):
    connector: str
    document_key: str
    external_id: str
    """The vendor's id of the page."""
    url: str
    version: str
    published_at: str
    delivery_id: str


class PublishDelivery(msgspec.Struct):
    """One delivery `publish_postmortem` enqueued (see GET /api/v1/deliveries/{id})."""

    id: str
    connector: str
    action: str
    status: str


def document_key(incident_id: str) -> str:
    return f"postmortem:{incident_id}"


# --- the document ----------------------------------------------------------------------------


def chart_filename(incident_id: str) -> str:
    return f"{incident_id}-chart.png"


def snapshot_filename(incident_id: str, number: int) -> str:
    return f"{incident_id}-replay-{number}.png"


def chart_png(chart: Chart) -> bytes:
    """The chart as a PNG (errors as bars, affected users as a line), for pages that cannot
    show inline SVG."""
    from matplotlib.figure import Figure

    labels = [bucket.start[11:16] for bucket in chart.buckets]
    positions = list(range(len(labels)))
    figure = Figure(figsize=(7.2, 2.6), dpi=100)
    errors = figure.add_subplot()
    errors.bar(positions, [b.errors for b in chart.buckets], color="#f04438", label="errors")
    errors.set_ylabel(f"errors per {chart.bucket_minutes} min", color="#b42318")
    users = errors.twinx()
    users.plot(positions, [b.users for b in chart.buckets], color="#175cd3", linewidth=2,
               label="affected users")
    users.set_ylabel("affected users", color="#175cd3")
    step = max(1, len(labels) // 8)
    errors.set_xticks(positions[::step], labels[::step])
    errors.set_xlabel("UTC")
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def publishable_context(context: PostmortemContext, incident_id: str) -> PostmortemContext:
    """The context with pictures that travel: the chart and each snapshot named by the file
    the document carries (the SVG and the hub's snapshot URLs need the hub)."""
    name = chart_filename(incident_id)
    alt = escape(f"Errors and affected users per {context.chart.bucket_minutes} min", True)
    chart = msgspec.structs.replace(
        context.chart, svg=f'<img src="{name}" alt="{alt}" width="720"/>', data_uri=name)
    evidence = [msgspec.structs.replace(item, snapshot_url=snapshot_filename(incident_id, n))
                for n, item in enumerate(context.evidence, 1)]
    return msgspec.structs.replace(context, chart=chart, evidence=evidence)


async def with_edits(hub: Hub, incident_id: str, fmt: str, text: str) -> str:
    """The sections people edited in the notebook in place of the generated ones."""
    from replayhub.notebook import apply_edits

    return await apply_edits(hub, incident_id, fmt, text)


async def render_document(hub: Hub, incident: Incident, snapshot: SnapshotFn) -> Document:
    """The post-mortem as it is now (the sections edited in the notebook included), with the
    chart and the evidence snapshots as PNG attachments (a snapshot that cannot be rendered
    is left out, and the page shows no picture for it). Rendered when the delivery is sent,
    so a late try never publishes an older version."""
    share_links = hub.settings.postmortem.share_links
    context = publishable_context(
        await postmortem_context(hub, incident, share_links=share_links), incident.id)
    env = environment(hub.settings.postmortem.template_dir)
    values = {"pm": context, "incident": context.incident}
    markdown = env.get_template(TEMPLATES["markdown"]).render(**values)
    html = env.get_template(TEMPLATES["html"]).render(**values)
    png = await asyncio.to_thread(chart_png, context.chart)
    attachments = [Attachment(chart_filename(incident.id), "image/png", png)]
    for number, item in enumerate(context.evidence, 1):
        shot = await snapshot(item.session_id, item.t)
        if shot is not None:
            attachments.append(Attachment(snapshot_filename(incident.id, number), "image/png",
                                          shot))
    key = document_key(incident.id)
    return Document(
        key=key, title=f"Post-mortem: {context.incident.title} ({incident.id})",
        markdown=await with_edits(hub, incident.id, "markdown", markdown),
        html=await with_edits(hub, incident.id, "html", html),
        marker=f"{DOCUMENT_MARKER}{key}", attachments=attachments)


# --- publishing ----------------------------------------------------------------------------


def publish_targets(hub: Hub, targets: list[str] | None) -> list[str]:
    """The connectors to publish to: the ones named, else every enabled one that can."""
    able = sorted(name for name, connector in hub.connectors.items()
                  if isinstance(connector, PublishDocument))
    if targets is None:
        return able
    unknown = [name for name in targets if name not in able]
    if unknown:
        able_text = ", ".join(able) or "none (enable confluence, notion or github)"
        raise UnknownTarget(f"cannot publish to {', '.join(unknown)}: the connectors that can "
                            f"are {able_text}")
    return list(dict.fromkeys(targets))


def note_route(hub: Hub, incident: Incident) -> dict[str, str] | None:
    """Where the link to the published page goes: the PagerDuty incident it came from."""
    connector = hub.connectors.get(PAGERDUTY)
    if incident.source != PAGERDUTY or not isinstance(connector, PostNote):
        return None
    settings = connector.settings
    if not (getattr(settings, "api_token", "") and getattr(settings, "from_email", "")):
        log.info("publishing.no_incident_note", incident=incident.id,
                 reason="connectors.pagerduty api_token and from_email are not both set")
        return None
    return {"connector": connector.name, "account": connector.account,
            "incident_external_id": incident.external_id}


async def publish_postmortem(hub: Hub, incident_id: str,
                             targets: list[str] | None = None) -> list[PublishDelivery]:
    """Enqueue the publish of the post-mortem to each target (None: every enabled connector
    that publishes documents), one delivery in flight per target (see `enqueue_publish`).
    LookupError: no such incident; UnknownTarget: a target that cannot publish."""
    async with hub.db.read() as tx:
        incident = await tx.get(Incident, incident_id)
    if incident is None:
        raise LookupError(f"no incident {incident_id!r}")
    chosen = publish_targets(hub, targets)
    deliveries = [await enqueue_publish(hub, incident.id, name, now_ms()) for name in chosen]
    if deliveries:
        hub.dispatcher.notify()
        log.info("publishing.enqueued", incident=incident.id, targets=chosen,
                 deliveries=[d.id for d in deliveries])
    return deliveries


def publish_key_prefix(incident_id: str, connector: str) -> str:
    return f"publish:{incident_id}:{connector}:"


async def publish_deliveries(db: Database, incident_id: str, connector: str) -> list[Any]:
    """(id, status, lease_until) of the incident's publish deliveries to the connector,
    newest first."""
    async with db.read() as tx:
        return list((await tx.execute(
            select(Delivery.id, Delivery.status, Delivery.lease_until).where(
                Delivery.action == PUBLISH_DOCUMENT, Delivery.connector == connector,
                Delivery.idempotency_key.startswith(publish_key_prefix(incident_id, connector),
                                                    autoescape=True))
            .order_by(Delivery.created_at.desc(), Delivery.id.desc()))).all())


async def enqueue_publish(hub: Hub, incident_id: str, name: str, at: int) -> PublishDelivery:
    """At most one publish waiting per incident and connector. A pending one is returned as
    it is (it renders the document when sent, so it carries this publish too); while one is
    being sent, one follow-up is enqueued to run after it. Two requests at once agree on the
    same delivery: its key names the newest delivery it follows."""
    rows = await publish_deliveries(hub.db, incident_id, name)
    waiting = [row for row in rows if row[1] == PENDING]
    if waiting:
        return PublishDelivery(waiting[0][0], name, PUBLISH_DOCUMENT, PENDING)
    prefix = publish_key_prefix(incident_id, name)
    key = f"{prefix}after:{rows[0][0]}" if rows else f"{prefix}first"
    found, status = await enqueue_publish_row(hub, name, incident_id, key, at)
    if status != PENDING:  # the key's delivery already ran: publish again after it
        found, status = await enqueue_publish_row(hub, name, incident_id,
                                                  f"{prefix}after:{found}", at)
    running = [row for row in rows if row[1] == SENDING and row[0] != found]
    if running and running[0][2]:
        async with hub.db.write() as tx:  # wait for the one in flight (woken when it ends)
            await tx.execute(update(Delivery).where(
                Delivery.id == found, Delivery.status == PENDING,
                Delivery.attempts == 0).values(next_attempt_at=max(at, running[0][2])))
    return PublishDelivery(found, name, PUBLISH_DOCUMENT, status)


async def enqueue_publish_row(hub: Hub, name: str, incident_id: str, key: str,
                              at: int) -> tuple[str, str]:
    """The delivery with this key (made now unless there): its id and status."""
    found, _ = await enqueue(
        hub.db, delivery_id=new_delivery_id(), connector=name,
        account=hub.connectors[name].account, action=PUBLISH_DOCUMENT,
        payload={"incident_id": incident_id}, key=key, now_ms=at)
    async with hub.db.read() as tx:
        status = (await tx.execute(select(Delivery.status).where(
            Delivery.id == found))).scalar_one()
    return found, status


async def wake_followers(db: Database, incident_id: str, connector: str, delivery_id: str,
                         at: int) -> None:
    """A publish ended: the one waiting behind it may go now."""
    async with db.write() as tx:
        await tx.execute(update(Delivery).where(
            Delivery.action == PUBLISH_DOCUMENT, Delivery.connector == connector,
            Delivery.idempotency_key.startswith(publish_key_prefix(incident_id, connector),
                                                autoescape=True),
            Delivery.status == PENDING, Delivery.id != delivery_id,
            Delivery.next_attempt_at > at).values(next_attempt_at=at))


# --- one publish at a time per incident and connector ------------------------------------


def lock_name(incident_id: str, connector: str) -> str:
    """The lease a publish holds (leases.name keeps 50 characters: a digest of the pair)."""
    digest = hashlib.sha256(f"{incident_id}\n{connector}".encode()).hexdigest()[:40]
    return f"publish:{digest}"


async def take_lock(db: Database, name: str, owner: str, at: int, ms: int) -> bool:
    """Take or renew the lease; False while another delivery holds an unexpired one."""
    async with db.write() as tx:
        renewed = await tx.execute(update(Lease).where(
            Lease.name == name, or_(Lease.owner == owner, Lease.expires_at < at))
            .values(owner=owner, expires_at=at + ms))
        if renewed.rowcount == 1:  # type: ignore[attr-defined]
            return True
        return await insert_ignore(tx, Lease, name=name, owner=owner, expires_at=at + ms)


async def release_lock(db: Database, name: str, owner: str) -> None:
    async with db.write() as tx:
        await tx.execute(update(Lease).where(Lease.name == name, Lease.owner == owner)
                         .values(expires_at=0))


async def stored_publication(db: Database, incident_id: str,
                             connector: str) -> Publication | None:
    async with db.read() as tx:
        return (await tx.execute(select(Publication).where(
            Publication.incident_id == incident_id,
            Publication.connector == connector))).scalar_one_or_none()


def published_of(row: Publication) -> PublishedDocument:
    return PublishedDocument(external_id=row.external_id, url=row.url, version=row.version)


async def record_publication(db: Database, incident_id: str, connector: str, key: str,
                             published: PublishedDocument, delivery_id: str, at: int) -> None:
    """Insert or update the incident's publication at this connector."""
    values = {"document_key": key, "external_id": published.external_id,
              "url": published.url, "version": published.version, "published_at": at,
              "delivery_id": delivery_id}
    async with db.write() as tx:
        if not await insert_ignore(tx, Publication, incident_id=incident_id,
                                   connector=connector, **values):
            await tx.execute(update(Publication).where(
                Publication.incident_id == incident_id,
                Publication.connector == connector).values(**values))


async def publish_document(attempt: Attempt) -> str:
    """The "publish_document" action, one at a time per incident and connector (a lease; a
    delivery that finds it taken tries again after the other): render the post-mortem as it
    is now, find the page when none is recorded (a try that failed after sending may have
    made it), create or update it, record it, then enqueue the incident note. The page's id."""
    connector, hub = attempt.connector, attempt.hub
    assert isinstance(connector, PublishDocument)
    if hub is None or attempt.db is None:
        raise VendorError("publishing needs the running hub", retryable=False)
    incident_id = attempt.payload["incident_id"]
    lock = lock_name(incident_id, connector.name)
    lease_ms = hub.settings.outbox.lease_seconds * 1000
    if not await take_lock(attempt.db, lock, attempt.delivery_id, now_of(attempt), lease_ms):
        raise VendorError(f"another publish of this post-mortem to {connector.title} is under "
                          "way; this one follows it", retryable=True)
    try:
        published = await publish_locked(attempt, hub, incident_id, lock, lease_ms)
    finally:
        await release_lock(attempt.db, lock, attempt.delivery_id)
    await wake_followers(attempt.db, incident_id, connector.name, attempt.delivery_id,
                         now_of(attempt))
    return published.external_id


def now_of(attempt: Attempt) -> int:
    return int(attempt.now() * 1000)


async def publish_locked(attempt: Attempt, hub: Hub, incident_id: str, lock: str,
                         lease_ms: int) -> PublishedDocument:
    """The publish itself, under the lease."""
    connector, progress = attempt.connector, attempt.progress
    assert isinstance(connector, PublishDocument) and attempt.db is not None
    async with attempt.db.read() as tx:
        incident = await tx.get(Incident, incident_id)
    if incident is None:
        raise VendorError(f"incident {incident_id} no longer exists", retryable=False)
    if "published" not in progress:
        document = await render_document(hub, incident, attempt.snapshot)
        if not await take_lock(attempt.db, lock, attempt.delivery_id, now_of(attempt),
                               lease_ms):
            raise VendorError("the publish took longer than its lease; trying again",
                              retryable=True)
        row = await stored_publication(attempt.db, incident_id, connector.name)
        existing = published_of(row) if row is not None else None
        if existing is None:
            await attempt.pace()
            existing = await connector.find_document(document)
        progress["attempted"] = True
        await attempt.save()
        await attempt.pace()
        published = await connector.publish_document(document, existing)
        progress["published"] = msgspec.to_builtins(published)
        progress["title"] = document.title
        await attempt.save()
    published = msgspec.convert(progress["published"], PublishedDocument)
    await record_publication(attempt.db, incident_id, connector.name,
                             document_key(incident_id), published, attempt.delivery_id,
                             now_of(attempt))
    route = note_route(hub, incident)
    if route:
        await enqueue_incident_note(attempt.db, route, incident_id,
                                    str(progress.get("title") or incident.title), connector,
                                    published, now_of(attempt))
    return published


async def enqueue_incident_note(db: Database, route: dict[str, str], incident_id: str,
                                title: str, connector: Connector, published: PublishedDocument,
                                at: int) -> str:
    """One note per incident and page, whatever the number of publishes (its key)."""
    from replayhub.outbox.actions import marker_for

    delivery_id = new_delivery_id()
    html = render("postmortem/publish_note.html", title=title, url=published.url,
                  where=connector.title, marker=marker_for(delivery_id))
    found, _ = await enqueue(
        db, delivery_id=delivery_id, connector=route["connector"], account=route["account"],
        action=INCIDENT_NOTE,
        payload={"ticket_id": route["incident_external_id"], "html_body": html},
        key=f"incident-note:{incident_id}:{connector.name}", now_ms=at)
    return found


async def incident_note(attempt: Attempt) -> str:
    """The "incident_note" action: the note on the incident, looked for before a re-post."""
    from replayhub.outbox.actions import post_note_once

    return await post_note_once(attempt, [])


# --- publications --------------------------------------------------------------------------


def publication_item(row: Publication) -> PublicationItem:
    return PublicationItem(row.connector, row.document_key, row.external_id, row.url,
                           row.version, iso(row.published_at), row.delivery_id)


async def publications_of(hub: Hub, incident_id: str) -> list[PublicationItem]:
    async with hub.db.read() as tx:
        rows = (await tx.execute(select(Publication).where(
            Publication.incident_id == incident_id).order_by(Publication.connector))).scalars()
        return [publication_item(row) for row in rows]


# --- comments ------------------------------------------------------------------------------


async def push_incident_comment(hub: Hub, comment: Any) -> list[str]:
    """Send a comment written in the hub to every page the incident's post-mortem is on (one
    delivery per comment and page); imported comments never go back out. The delivery ids."""
    if getattr(comment, "source", HUB) != HUB:
        return []
    async with hub.db.read() as tx:
        rows = list((await tx.execute(select(Publication).where(
            Publication.incident_id == comment.incident_id)
            .order_by(Publication.connector))).scalars())
    found = []
    for row in rows:
        connector = hub.connectors.get(row.connector)
        if not isinstance(connector, DocumentComments):
            continue
        found.append(await enqueue_document_comment(hub, connector, row, comment))
    if found:
        hub.dispatcher.notify()
    return found


async def enqueue_document_comment(hub: Hub, connector: Connector, row: Publication,
                                   comment: Any) -> str:
    body = render("postmortem/publish_comment.txt", author=comment.author,
                  body=comment.body).strip()
    delivery_id, _ = await enqueue(
        hub.db, delivery_id=new_delivery_id(), connector=connector.name,
        account=connector.account, action=DOCUMENT_COMMENT,
        payload={"incident_id": comment.incident_id, "published": msgspec.to_builtins(
            published_of(row)), "body": body, "comment_id": comment.id},
        key=f"document-comment:{comment.id}:{connector.name}:{row.external_id}",
        now_ms=now_ms())
    return delivery_id


async def document_comment(attempt: Attempt) -> str:
    """The "document_comment" action: the comment on the page, carrying the delivery's
    marker, looked for before a re-post."""
    from replayhub.outbox.actions import marker_for

    connector, progress = attempt.connector, attempt.progress
    assert isinstance(connector, DocumentComments)
    published = msgspec.convert(attempt.payload["published"], PublishedDocument)
    marker = marker_for(attempt.delivery_id)
    if progress.get("comment_id"):
        return str(progress["comment_id"])
    if progress.get("attempted"):
        await attempt.pace()
        for comment in await connector.list_document_comments(published):
            if marker in comment.body or marker in comment.html_body:
                progress["comment_id"] = comment.external_id
                await attempt.save()
                return comment.external_id
    progress["attempted"] = True
    await attempt.save()
    await attempt.pace()
    comment_id = await connector.post_document_comment(published, attempt.payload["body"],
                                                       marker)
    progress["comment_id"] = comment_id
    await attempt.save()
    return comment_id


async def their_comments(hub: Hub, connector: Connector,
                         comments: list[VendorComment]) -> list[VendorComment]:
    """The comments people wrote at the vendor: not the hub's own (their marker, or an id
    the outbox recorded when it posted them)."""
    from replayhub.outbox.actions import MARKER

    ours = await sent_external_ids(hub.db, connector.name, [c.external_id for c in comments])
    return [c for c in comments if c.external_id not in ours
            and MARKER not in c.body and MARKER not in c.html_body]


async def sync_document_comments(hub: Hub) -> int:
    """Import the comments of every published page into its incident's thread (each once).
    A vendor that asks to wait (429) is skipped until the next tick and paced meanwhile."""
    from replayhub.notebook import import_incident_comments

    async with hub.db.read() as tx:
        rows = list((await tx.execute(select(Publication).order_by(Publication.id))).scalars())
    imported, waiting = 0, set()
    for row in rows:
        connector = hub.connectors.get(row.connector)
        if not isinstance(connector, DocumentComments) or row.connector in waiting:
            continue
        try:
            await hub.dispatcher.pace(connector)
            comments = await connector.list_document_comments(published_of(row))
        except VendorError as error:
            log.warning("publishing.comments_failed", connector=row.connector,
                        incident=row.incident_id, error=str(error))
            if error.retry_after:
                hub.dispatcher.pacer.bucket(connector.name, connector.account,
                                            connector.rate_limit_per_minute
                                            ).pause(error.retry_after)
                waiting.add(row.connector)
            continue
        fresh = await their_comments(hub, connector, comments)
        if fresh:
            imported += await import_incident_comments(hub, row.incident_id, row.connector,
                                                       row.external_id, fresh)
    if imported:
        log.info("publishing.comments_imported", count=imported)
    return imported
