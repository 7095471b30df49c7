"""The post-mortem notebook: sections people edit, and the incident's comment thread.

The generated draft (replayhub.postmortem) is cut into named sections at its `## ` headings
(Markdown) and `<section id>` elements (HTML). A section someone edited replaces the generated
one in every output until it is reset; the others keep refreshing their figures. Edits use
optimistic concurrency: each names the version it started from.

Comments are written in the hub or imported from the pages the post-mortem is published on.
`@mentions` (`@alice@example.com`, `@Alice Smith`, `@alice`) are resolved against the people
directory and each person mentioned gets one e-mail per comment, through replayhub.mail.
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import msgspec
import structlog
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup
from sqlalchemy import select, update

from replayhub.clock import now_ms
from replayhub.connector import VendorComment
from replayhub.db.models import Incident, IncidentComment, PostmortemSection
from replayhub.db.upsert import insert_ignore
from replayhub.index.sessions import iso
from replayhub.mail import enqueue_mail
from replayhub.postmortem import render_postmortem, when
from replayhub.templating import render

if TYPE_CHECKING:
    from replayhub.hub import Hub

log = structlog.get_logger(__name__)
HUB = "hub"
MAX_BODY = 100_000
"""Longest section or comment, in characters."""


class UnknownSection(LookupError):
    """The draft has no section of that name."""


class StaleVersion(Exception):
    """The section changed since the editor loaded it."""

    def __init__(self, current: int) -> None:
        super().__init__(f"the section is at version {current}")
        self.current = current


# --- Markdown, safely ----------------------------------------------------------------------

SAFE_DATA = re.compile(r"^data:image/(gif|png|jpeg|webp|svg\+xml);", re.IGNORECASE)
BAD_SCHEME = re.compile(r"^(javascript|vbscript|file|data):", re.IGNORECASE)


def _allowed_url(url: str) -> bool:
    """No script URLs; data: only for images (an <img> never runs what it shows)."""
    url = url.strip()
    return not BAD_SCHEME.match(url) or bool(SAFE_DATA.match(url))


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "xhtmlOut": True}).enable("table")
    md.validateLink = _allowed_url  # type: ignore[method-assign]

    def link_open(renderer: Any, tokens: Sequence[Token], index: int, options: Any,
                  env: Any) -> str:
        token = tokens[index]
        if str(token.attrGet("href") or "").lower().startswith("data:"):
            token.attrSet("href", "#")
        token.attrSet("rel", "noopener noreferrer")
        return str(renderer.renderToken(tokens, index, options, env))

    md.add_render_rule("link_open", link_open)
    md.core.ruler.push("mentions", _highlight_mentions)
    return md


def _highlight_mentions(state: Any) -> None:
    """Wrap the mentions found before rendering (env["mentions"]) in <span class="mention">."""
    labels: list[str] = state.env.get("mentions") or []
    if not labels:
        return
    pattern = re.compile("|".join(re.escape(label) for label in
                                  sorted(set(labels), key=len, reverse=True)))
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        children: list[Token] = []
        for token in block.children:
            if token.type != "text" or not pattern.search(token.content):
                children.append(token)
                continue
            children.extend(_split_text(token.content, pattern))
        block.children = children


def _split_text(text: str, pattern: re.Pattern[str]) -> list[Token]:
    parts: list[Token] = []
    position = 0
    for found in pattern.finditer(text):
        if found.start() > position:
            parts.append(_text(text[position:found.start()]))
        mention = Token("html_inline", "", 0)
        mention.content = f'<span class="mention">{html.escape(found.group(0))}</span>'
        parts.append(mention)
        position = found.end()
    if position < len(text):
        parts.append(_text(text[position:]))
    return parts


def _text(content: str) -> Token:
    token = Token("text", "", 0)
    token.content = content
    return token


MARKDOWN = _markdown()


def markdown_html(text: str, mentions: Sequence[str] = ()) -> Markup:
    """Markdown as HTML: raw HTML escaped, script and data: links dropped, well-formed
    (XHTML empty tags), with the `mentions` (as written, `@…`) highlighted."""
    return Markup(MARKDOWN.render(text, {"mentions": list(mentions)}))


# --- sections ------------------------------------------------------------------------------


class SectionItem(msgspec.Struct):
    name: str
    """summary, impact, timeline, root_cause, evidence, stakeholders, action_items, ..."""
    title: str
    body: str
    """Markdown: the edited text, else the generated one."""
    generated: str
    """What the hub generates for the section now (its figures refreshed)."""
    edited: bool
    version: int
    """Send it back with an edit; 0: never edited."""
    edited_by: str | None = None
    edited_at: str | None = None


@dataclass
class Chunk:
    """A piece of a rendered document: a section (name set) or the text around sections."""

    text: str
    name: str = ""
    title: str = ""


HEADING = re.compile(r"^## (.+?)\s*#*\s*$")
FENCE = re.compile(r"^\s{0,3}(```|~~~)")
HTML_SECTION = re.compile(r'<section id="([A-Za-z0-9_-]+)"[^>]*>.*?</section>', re.DOTALL)
HTML_TITLE = re.compile(r"<h2[^>]*>(.*?)</h2>", re.DOTALL)


def section_name(title_or_id: str) -> str:
    """`Root cause` and `root-cause` both name the section `root_cause`."""
    return re.sub(r"[^a-z0-9]+", "_", title_or_id.lower()).strip("_")[:100]


def split_markdown(text: str) -> list[Chunk]:
    """The document cut before each `## ` heading (outside fenced code)."""
    chunks = [Chunk("")]
    fenced = False
    for line in text.splitlines(keepends=True):
        if FENCE.match(line):
            fenced = not fenced
        heading = None if fenced else HEADING.match(line.rstrip("\n"))
        if heading:
            title = heading.group(1).strip()
            chunks.append(Chunk("", section_name(title), title))
        chunks[-1].text += line
    return [chunk for chunk in chunks if chunk.text or chunk.name]


def split_html(text: str) -> list[Chunk]:
    """The document cut around each `<section id="…">` element."""
    chunks: list[Chunk] = []
    position = 0
    for found in HTML_SECTION.finditer(text):
        chunks.append(Chunk(text[position:found.start()]))
        title = HTML_TITLE.search(found.group(0))
        chunks.append(Chunk(found.group(0), section_name(found.group(1)),
                            title.group(1).strip() if title else found.group(1)))
        position = found.end()
    chunks.append(Chunk(text[position:]))
    return chunks


def section_body(chunk: Chunk) -> str:
    """A Markdown section without its heading line."""
    return chunk.text.split("\n", 1)[1].strip() if "\n" in chunk.text else ""


def edited_note(edit: PostmortemSection) -> str:
    return f"Edited by {edit.edited_by} on {when(iso(edit.edited_at))}."


def edited_markdown(chunk: Chunk, edit: PostmortemSection) -> str:
    return f"## {chunk.title}\n\n{(edit.body or '').strip()}\n\n_{edited_note(edit)}_\n\n"


def edited_html(chunk: Chunk, edit: PostmortemSection) -> str:
    anchor = chunk.name.replace("_", "-")
    return (f'<section id="{anchor}" class="edited" data-section="{chunk.name}">\n'
            f"  <h2>{chunk.title}</h2>\n{markdown_html(edit.body or '')}"
            f'  <p class="edited-note"><em>{html.escape(edited_note(edit))}</em></p>\n'
            "</section>")


async def section_edits(hub: Hub, incident_id: str) -> dict[str, PostmortemSection]:
    """Every stored section of the incident (reset ones too, for their versions)."""
    async with hub.db.read() as tx:
        rows = (await tx.execute(select(PostmortemSection).where(
            PostmortemSection.incident_id == incident_id))).scalars()
        return {row.name: row for row in rows}


async def apply_edits(hub: Hub, incident_id: str, fmt: str, text: str) -> str:
    """The rendered document with the edited sections in place of the generated ones."""
    edits = {name: row for name, row in (await section_edits(hub, incident_id)).items()
             if row.body is not None}
    if not edits:
        return text
    if fmt == "markdown":
        return "".join(edited_markdown(c, edits[c.name]) if c.name in edits else c.text
                       for c in split_markdown(text))
    return "".join(edited_html(c, edits[c.name]) if c.name in edits else c.text
                   for c in split_html(text))


async def list_sections(hub: Hub, incident: Incident) -> list[SectionItem]:
    """Each section of the draft, in order: its text now, the generated one, its version."""
    generated = await render_postmortem(hub, incident, "markdown", edits=False)
    edits = await section_edits(hub, incident.id)
    items = []
    for chunk in split_markdown(generated):
        if not chunk.name:
            continue
        body = section_body(chunk)
        edit = edits.get(chunk.name)
        edited = edit is not None and edit.body is not None
        items.append(SectionItem(
            name=chunk.name, title=chunk.title,
            body=edit.body if edit is not None and edit.body is not None else body,
            generated=body, edited=edited, version=edit.version if edit else 0,
            edited_by=edit.edited_by if edit else None,
            edited_at=iso(edit.edited_at) if edit else None))
    return items


async def _section(hub: Hub, incident: Incident, name: str) -> SectionItem:
    for item in await list_sections(hub, incident):
        if item.name == name:
            return item
    raise UnknownSection(name)


async def save_section(hub: Hub, incident: Incident, name: str, body: str | None,
                       version: int | None, author: str) -> SectionItem:
    """Store an edit (`body`) or a reset (None) made from `version` (None: whatever it is
    now); StaleVersion if the section changed since, UnknownSection if there is none."""
    await _section(hub, incident, name)
    now = now_ms()
    async with hub.db.write() as tx:
        row = (await tx.execute(select(PostmortemSection).where(
            PostmortemSection.incident_id == incident.id,
            PostmortemSection.name == name))).scalar_one_or_none()
        current = row.version if row is not None else 0
        if version is not None and version != current:
            raise StaleVersion(current)
        values = {"body": body, "edited_by": author[:200], "edited_at": now}
        if row is None:
            if not await insert_ignore(tx, PostmortemSection, incident_id=incident.id,
                                       name=name, version=1, **values):
                raise StaleVersion(current + 1)
        else:
            result = await tx.execute(
                update(PostmortemSection).where(PostmortemSection.id == row.id,
                                                PostmortemSection.version == current)
                .values(version=current + 1, **values))
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise StaleVersion(current + 1)
    log.info("notebook.section_saved", incident=incident.id, section=name,
             reset=body is None, version=current + 1)
    return await _section(hub, incident, name)


# --- people and mentions -------------------------------------------------------------------


class PersonLike(Protocol):
    email: str
    name: str


async def people_directory(hub: Hub) -> list[PersonLike]:
    """Everyone who can be mentioned: the hub's directory of people (replayhub.people:
    `[[people]]` tables and /api/v1/people)."""
    from replayhub.people import list_people

    return list(await list_people(hub))


MENTION_AT = re.compile(r"(?<![\w.@+-])@")
WORD_GOES_ON = re.compile(r"[\w@]")
"""After a mention: `@alice.` and `@alice-team` mention alice, `@alice@x.org` does not."""


def _labels(people: Sequence[PersonLike]) -> list[tuple[str, PersonLike]]:
    """What a person can be mentioned by: e-mail, full name, e-mail local part, first name
    (a first name or local part two people share names neither)."""
    labels: list[tuple[str, PersonLike]] = []
    short: dict[str, list[PersonLike]] = {}
    for person in people:
        labels.append((person.email.lower(), person))
        if person.name.strip():
            labels.append((" ".join(person.name.split()).lower(), person))
            short.setdefault(person.name.split()[0].lower(), []).append(person)
        short.setdefault(person.email.split("@")[0].lower(), []).append(person)
    for label, owners in short.items():
        if len({owner.email.lower() for owner in owners}) == 1:
            labels.append((label, owners[0]))
    return sorted(labels, key=lambda pair: len(pair[0]), reverse=True)


def find_mentions(text: str, people: Sequence[PersonLike]) -> list[tuple[str, PersonLike]]:
    """(the mention as written, its person) for each `@…` naming someone, in order."""
    labels = _labels(people)
    found: list[tuple[str, PersonLike]] = []
    lowered = text.lower()
    for at in MENTION_AT.finditer(text):
        start = at.end()
        for label, person in labels:
            end = start + len(label)
            if lowered.startswith(label, start) and (end == len(text)
                                                     or not WORD_GOES_ON.match(text[end])):
                found.append((text[at.start():end], person))
                break
    return found


async def resolve_mentions(hub: Hub, text: str) -> list[PersonLike]:
    """The people the text mentions, each once, in the order first mentioned."""
    people: dict[str, PersonLike] = {}
    for _, person in find_mentions(text, await people_directory(hub)):
        people.setdefault(person.email.lower(), person)
    return list(people.values())


async def email_of(hub: Hub, author: str) -> str:
    """The directory's e-mail for an author named by name or e-mail ('' if unknown)."""
    wanted = " ".join(author.split()).lower()
    for person in await people_directory(hub):
        if wanted in (person.email.lower(), " ".join(person.name.split()).lower()):
            return person.email
    return ""


# --- comments ------------------------------------------------------------------------------


class IncidentCommentItem(msgspec.Struct):
    id: str
    incident_id: str
    source: str
    """hub, or the connector it was imported from."""
    author: str
    author_email: str
    body: str
    """Markdown, as written."""
    html: str
    """The body rendered safely, mentions highlighted."""
    mentions: list[str]
    """E-mails of the people mentioned."""
    created_at: str
    url: str
    """The comment on the notebook page."""
    connector: str = HUB
    external_id: str | None = None
    target_id: str | None = None


def notebook_url(hub: Hub, incident_id: str) -> str:
    return f"{hub.settings.base_url}/incidents/{incident_id}/postmortem"


def _item(hub: Hub, row: IncidentComment,
          people: Sequence[PersonLike]) -> IncidentCommentItem:
    mentions = find_mentions(row.body, people)
    emails = list(dict.fromkeys(person.email for _, person in mentions))
    return IncidentCommentItem(
        id=row.id, incident_id=row.incident_id, source=row.source, author=row.author,
        author_email=row.author_email, body=row.body,
        html=str(markdown_html(row.body, [written for written, _ in mentions])),
        mentions=emails, created_at=iso(row.created_at),
        url=f"{notebook_url(hub, row.incident_id)}#comment-{row.id}",
        connector=row.connector, external_id=row.external_id, target_id=row.target_id)


async def incident_comments(hub: Hub, incident_id: str) -> list[IncidentCommentItem]:
    """The thread, oldest first (imported comments at the time they were written)."""
    async with hub.db.read() as tx:
        rows = list((await tx.execute(
            select(IncidentComment).where(IncidentComment.incident_id == incident_id)
            .order_by(IncidentComment.created_at, IncidentComment.id))).scalars())
    people = await people_directory(hub)
    return [_item(hub, row, people) for row in rows]


class KeyReused(ValueError):
    """An idempotency key came back with another comment."""


async def add_incident_comment(hub: Hub, incident_id: str, author: str, author_email: str,
                               body: str, *,
                               idempotency_key: str | None = None) -> IncidentCommentItem:
    """Store a comment written in the hub, mail each person it mentions (once per comment
    and person), then hand it to publishing for the pages the post-mortem is on."""
    item, _ = await post_incident_comment(hub, incident_id, author, author_email, body,
                                          idempotency_key)
    return item


async def post_incident_comment(hub: Hub, incident_id: str, author: str, author_email: str,
                                body: str, idempotency_key: str | None
                                ) -> tuple[IncidentCommentItem, bool]:
    """add_incident_comment, and whether the comment is new.

    A retry with the same `idempotency_key` finds the comment stored the first time (and
    KeyReused if the key came with another text); the mails and the hand-over are keyed by
    the comment, so doing them again (a first try may have stopped halfway) sends nothing
    twice.
    """
    from replayhub.publishing import push_incident_comment

    comment_id = f"icm_{secrets.token_hex(8)}"
    query = select(IncidentComment).where(IncidentComment.id == comment_id)
    if idempotency_key is not None:
        query = select(IncidentComment).where(
            IncidentComment.incident_id == incident_id, IncidentComment.connector == HUB,
            IncidentComment.external_id == idempotency_key)
    async with hub.db.write() as tx:
        created = await insert_ignore(
            tx, IncidentComment, id=comment_id, incident_id=incident_id, source=HUB,
            connector=HUB, external_id=idempotency_key, target_id=None, author=author[:200],
            author_email=author_email[:320], body=body, created_at=now_ms())
        row = (await tx.execute(query)).scalar_one()
    if not created and (row.body != body or row.author != author[:200]):
        raise KeyReused(idempotency_key)
    item = _item(hub, row, await people_directory(hub))
    await notify_mentions(hub, item)
    await push_incident_comment(hub, item)
    return item, created


async def import_incident_comments(hub: Hub, incident_id: str, connector_name: str,
                                   target_id: str, comments: Sequence[VendorComment]) -> int:
    """Copy a published page's comments into the thread, each once; the hub's own comments
    echoed back (carrying the outbox marker) stay out. Imported comments notify no one and
    are never pushed back out. The number newly stored."""
    from replayhub.outbox.actions import MARKER  # (the outbox's actions import publishing)

    stored = 0
    async with hub.db.write() as tx:
        for comment in comments:
            if MARKER in comment.body or MARKER in comment.html_body:
                continue
            stored += await insert_ignore(
                tx, IncidentComment, id=f"icm_{secrets.token_hex(8)}", incident_id=incident_id,
                source=connector_name, connector=connector_name,
                external_id=comment.external_id[:200], target_id=target_id[:200],
                author=comment.author[:200], author_email="", body=comment.body,
                created_at=comment.created_at)
    return stored


async def notify_mentions(hub: Hub, comment: IncidentCommentItem) -> list[str]:
    """One e-mail per person mentioned (never the author), keyed by comment and person;
    the delivery ids. A person whose directory e-mail is not a valid address is skipped with
    a warning, so the others are still mailed and the comment still reaches publishing."""
    async with hub.db.read() as tx:
        incident = await tx.get(Incident, comment.incident_id)
    title = (incident.title or incident.external_id) if incident else comment.incident_id
    deliveries = []
    for person in await resolve_mentions(hub, comment.body):
        address = person.email.strip().lower()
        if address == comment.author_email.strip().lower():
            continue
        context = {"comment": comment, "person": person, "title": title,
                   "html_body": Markup(comment.html)}
        try:
            deliveries.append(await enqueue_mail(
                hub, key=f"mention:{comment.id}:{address}", to=[person.email],
                subject=f"{comment.author} mentioned you on the post-mortem of {title}",
                text=render("mail/mention.txt", **context),
                html=render("mail/mention.html", **context),
                headers={"Auto-Submitted": "auto-generated",
                         "X-ReplayHub-Incident": comment.incident_id}))
        except ValueError as bad:  # a malformed address in the people directory
            log.warning("notebook.mention_not_mailed", comment=comment.id,
                        person=person.name, error=str(bad))
    return deliveries
