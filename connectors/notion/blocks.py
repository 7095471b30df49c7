"""Markdown to Notion blocks, kept within Notion's request limits.

Headings, paragraphs (bold, italic, strikethrough, inline code, links), bulleted and
numbered lists (nested), quotes, code, tables, rules and images become the matching blocks.
Limits (Notion's "Request limits"): 2,000 characters per rich text object, 100 rich text
objects per array, 100 blocks per children array, 1,000 blocks per request, and children
nested at most two levels below a request's top blocks. Text too long for one object is
split over several, a paragraph too long for one block continues in the next, a list nested
deeper than Notion takes is flattened into its parent's level, and a table where a table
cannot go becomes lines of text.

Images: the API version the connector speaks has no file upload, so an image is an image
block only when its URL is public (http(s) on a host that is not loopback, private, link-local
or a local name: Notion fetches it). An image naming an attached file uses the file's public
URL when the hub has one. Any other image is its alt text (linked when it has an http(s) URL;
an attached file without one is named).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

Block = dict[str, Any]
RichText = list[dict[str, Any]]

MAX_TEXT = 2000
"""Characters (UTF-16 code units, as Notion counts) in one rich text object."""
MAX_ITEMS = 100
"""Rich text objects in one array; blocks in one children array."""
MAX_DEPTH = 3
"""Top blocks are depth 1; a request may nest children two levels below them."""
MAX_REQUEST_BLOCKS = 1000
"""Blocks in one request, nested ones included."""
MAX_URL = 2000
BARE_URL = re.compile(r"https?://[^\s<>]+")
LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa")
CODE_LANGUAGES = frozenset({
    "bash", "c", "c#", "c++", "css", "diff", "docker", "go", "graphql", "html", "java",
    "javascript", "json", "kotlin", "makefile", "markdown", "plain text", "php", "python",
    "ruby", "rust", "scala", "shell", "sql", "swift", "toml", "typescript", "xml", "yaml"})
LANGUAGE_ALIASES = {"py": "python", "js": "javascript", "ts": "typescript", "sh": "shell",
                    "console": "shell", "yml": "yaml", "md": "markdown", "dockerfile": "docker",
                    "golang": "go", "rs": "rust", "rb": "ruby", "cpp": "c++", "cs": "c#"}


@dataclass(frozen=True)
class Style:
    bold: bool = False
    italic: bool = False
    strikethrough: bool = False
    code: bool = False
    color: str = ""
    link: str | None = None

    def annotations(self) -> dict[str, Any]:
        marks: dict[str, Any] = {name: True for name in ("bold", "italic", "strikethrough",
                                                        "code") if getattr(self, name)}
        if self.color:
            marks["color"] = self.color
        return marks


Piece = tuple[str, Style]


@dataclass
class Image:
    alt: str
    src: str


def public_url(url: str) -> bool:
    """An http(s) URL Notion can fetch: not loopback, private, link-local or a local name."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
    except ValueError:
        return False
    if parts.scheme not in {"http", "https"} or not host or len(url) > MAX_URL:
        return False
    if host == "localhost" or host.endswith(LOCAL_SUFFIXES):
        return False
    try:
        return ipaddress.ip_address(host).is_global
    except ValueError:
        return "." in host  # a single-label name only resolves on a private network


def linkable(url: str) -> bool:
    """A URL Notion takes as a link (an absolute http(s) or mailto URL)."""
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    return scheme in {"http", "https", "mailto"} and len(url) <= MAX_URL and " " not in url


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """`text` in parts of at most `limit` UTF-16 code units (never splitting a character)."""
    parts, start, size = [], 0, 0
    for index, char in enumerate(text):
        width = 2 if ord(char) > 0xFFFF else 1
        if size + width > limit:
            parts.append(text[start:index])
            start, size = index, 0
        size += width
    if start < len(text):
        parts.append(text[start:])
    return parts


def rich_text(pieces: list[Piece]) -> RichText:
    """Rich text objects for styled pieces: equal neighbours merged, long ones split."""
    merged: list[Piece] = []
    for text, style in pieces:
        if not text:
            continue
        if merged and merged[-1][1] == style:
            merged[-1] = (merged[-1][0] + text, style)
        else:
            merged.append((text, style))
    items = []
    for text, style in merged:
        for part in split_text(text):
            content: dict[str, Any] = {"content": part}
            if style.link:
                content["link"] = {"url": style.link}
            item: dict[str, Any] = {"type": "text", "text": content}
            if style.annotations():
                item["annotations"] = style.annotations()
            items.append(item)
    return items


def fit(items: RichText) -> RichText:
    """At most 100 objects: the tail from the 100th on joins one plain object (cut at 2,000)."""
    if len(items) <= MAX_ITEMS:
        return items
    tail = "".join(item["text"]["content"] for item in items[MAX_ITEMS - 1:])
    return [*items[:MAX_ITEMS - 1], {"type": "text", "text": {"content": split_text(tail)[0]}}]


def block(kind: str, **body: Any) -> Block:
    return {"type": kind, kind: body}


def text_blocks(kind: str, items: RichText, **extra: Any) -> list[Block]:
    """One block of `kind`, or several when the text needs more than 100 objects."""
    if not items:
        return [block(kind, rich_text=[], **extra)]
    return [block(kind, rich_text=items[i:i + MAX_ITEMS], **extra)
            for i in range(0, len(items), MAX_ITEMS)]


def children_of(item: Block) -> list[Block]:
    return list(item[item["type"]].get("children") or [])


def size(item: Block) -> int:
    """The block and every block nested in it."""
    return 1 + sum(size(child) for child in children_of(item))


def batches(blocks: list[Block]) -> list[list[Block]]:
    """The blocks in requests of at most 100 top blocks and 1,000 blocks in all."""
    found: list[list[Block]] = []
    current: list[Block] = []
    total = 0
    for item in blocks:
        cost = size(item)
        if current and (len(current) >= MAX_ITEMS or total + cost > MAX_REQUEST_BLOCKS):
            found.append(current)
            current, total = [], 0
        current.append(item)
        total += cost
    if current:
        found.append(current)
    return found


def marker_block(marker: str) -> Block:
    """A small grey line naming the document, so the hub can find the page again."""
    return block("paragraph", rich_text=rich_text([(marker, Style(color="gray"))]))


def autolinked(text: str, style: Style) -> list[Piece]:
    """Bare http(s) URLs in text become links (as GitHub and most renderers show them)."""
    if style.link or style.code:
        return [(text, style)]
    pieces: list[Piece] = []
    at = 0
    for found in BARE_URL.finditer(text):
        url = found.group(0).rstrip(".,;:!?)'\"")
        end = found.start() + len(url)
        if not linkable(url):
            continue
        pieces += [(text[at:found.start()], style), (url, replace(style, link=url))]
        at = end
    return [*pieces, (text[at:], style)]


def code_language(info: str) -> str:
    name = (info.split() or ["plain text"])[0].lower()
    name = LANGUAGE_ALIASES.get(name, name)
    return name if name in CODE_LANGUAGES else "plain text"


class MarkdownToBlocks:
    """Converts one document's Markdown; `attachments` maps the file names it may reference
    to a public URL of each ("" when there is none)."""

    def __init__(self, attachments: dict[str, str] | None = None) -> None:
        self.attachments = attachments or {}
        self.parser = MarkdownIt("commonmark", {"html": False}).enable(["table",
                                                                       "strikethrough"])
        self.parser.validateLink = lambda url: True  # each target is judged below

    def convert(self, markdown: str) -> list[Block]:
        root = SyntaxTreeNode(self.parser.parse(markdown))
        return self.blocks(root.children, 1)

    def blocks(self, nodes: list[SyntaxTreeNode], depth: int) -> list[Block]:
        found: list[Block] = []
        for node in nodes:
            found += self.block(node, depth)
        return found

    def block(self, node: SyntaxTreeNode, depth: int) -> list[Block]:
        kind = node.type
        if kind == "heading":
            pieces, images = self.inline(node)
            level = min(int(node.tag[1]), 3)
            return [block(f"heading_{level}", rich_text=fit(rich_text(pieces))),
                    *self.image_blocks(images)]
        if kind == "paragraph":
            return self.paragraph(node)
        if kind in {"bullet_list", "ordered_list"}:
            item_kind = "bulleted_list_item" if kind == "bullet_list" else "numbered_list_item"
            found: list[Block] = []
            for item in node.children:
                found += self.list_item(item, item_kind, depth)
            return found
        if kind == "blockquote":
            return self.quote(node, depth)
        if kind in {"fence", "code_block"}:
            return self.code(node.content.rstrip("\n"), code_language(node.info))
        if kind == "table":
            return self.table(node, depth)
        if kind == "hr":
            return [block("divider")]
        if node.content.strip():  # html_block and anything else: its text
            return text_blocks("paragraph", rich_text([(node.content.strip(), Style())]))
        return self.blocks(node.children, depth)

    # --- inline text --------------------------------------------------------------------

    def inline(self, node: SyntaxTreeNode) -> tuple[list[Piece], list[Image]]:
        """The styled text of a block's inline content, and the images in it."""
        pieces: list[Piece] = []
        images: list[Image] = []
        for child in node.children:
            if child.type == "inline":
                self._inline(child, Style(), pieces, images)
        return pieces, images

    def _inline(self, node: SyntaxTreeNode, style: Style, pieces: list[Piece],
                images: list[Image]) -> None:
        for child in node.children:
            kind = child.type
            if kind == "text" or kind == "html_inline":
                pieces += autolinked(child.content, style)
            elif kind == "code_inline":
                pieces.append((child.content, replace(style, code=True)))
            elif kind == "softbreak":
                pieces.append((" ", style))
            elif kind == "hardbreak":
                pieces.append(("\n", style))
            elif kind == "strong":
                self._inline(child, replace(style, bold=True), pieces, images)
            elif kind == "em":
                self._inline(child, replace(style, italic=True), pieces, images)
            elif kind == "s":
                self._inline(child, replace(style, strikethrough=True), pieces, images)
            elif kind == "link":
                href = str(child.attrs.get("href", ""))
                inner = replace(style, link=href) if linkable(href) else style
                self._inline(child, inner, pieces, images)
            elif kind == "image":
                image = Image(child.content, str(child.attrs.get("src", "")))
                images.append(image)
                pieces.append(self.image_text(image, style))
            else:
                self._inline(child, style, pieces, images)

    def image_url(self, image: Image) -> str:
        """Where the image is: an attached file's public URL, else its own target."""
        if image.src in self.attachments:
            return self.attachments[image.src]
        return image.src

    def image_text(self, image: Image, style: Style) -> Piece:
        """What stands in the text for an image: its alt text, linked or naming its file."""
        alt, url = image.alt or "image", self.image_url(image)
        if linkable(url):
            return alt, replace(style, link=url)
        if image.src in self.attachments:
            return f"{alt} ({image.src})", style
        return alt, style

    def image_blocks(self, images: list[Image]) -> list[Block]:
        """Image blocks for the images Notion can fetch (the others stay as text)."""
        found = []
        for image in images:
            url = self.image_url(image)
            if public_url(url):
                caption = {"caption": rich_text([(image.alt, Style())])} if image.alt else {}
                found.append(block("image", type="external", external={"url": url}, **caption))
        return found

    # --- blocks -------------------------------------------------------------------------

    def paragraph(self, node: SyntaxTreeNode) -> list[Block]:
        pieces, images = self.inline(node)
        pictures = self.image_blocks(images)
        alone = len(images) == 1 and "".join(text for text, _ in pieces).strip() == \
            self.image_text(images[0], Style())[0].strip()
        if alone and pictures:
            return pictures
        return [*text_blocks("paragraph", rich_text(pieces)), *pictures]

    def list_item(self, item: SyntaxTreeNode, kind: str, depth: int) -> list[Block]:
        nodes = list(item.children)
        pieces: list[Piece] = []
        images: list[Image] = []
        if nodes and nodes[0].type == "paragraph":
            pieces, images = self.inline(nodes.pop(0))
        nested = [*self.image_blocks(images), *self.blocks(nodes, depth + 1)]
        body = block(kind, rich_text=fit(rich_text(pieces)))
        if depth >= MAX_DEPTH:
            return [body, *nested]  # Notion takes no deeper children: they follow the item
        if nested:
            body[kind]["children"] = nested[:MAX_ITEMS]
        return [body, *nested[MAX_ITEMS:]]

    def quote(self, node: SyntaxTreeNode, depth: int) -> list[Block]:
        pieces: list[Piece] = []
        rest: list[SyntaxTreeNode] = []
        images: list[Image] = []
        for child in node.children:
            if child.type == "paragraph" and not rest:
                text, found = self.inline(child)
                pieces += ([("\n", Style())] if pieces else []) + text
                images += found
            else:
                rest.append(child)
        quotes = text_blocks("quote", rich_text(pieces))
        nested = [*self.image_blocks(images), *self.blocks(rest, depth + 1)]
        if nested and depth < MAX_DEPTH:
            quotes[-1]["quote"]["children"] = nested[:MAX_ITEMS]
            nested = nested[MAX_ITEMS:]
        return [*quotes, *nested]

    def code(self, content: str, language: str) -> list[Block]:
        items = rich_text([(content, Style())]) or [{"type": "text", "text": {"content": ""}}]
        return text_blocks("code", items, language=language)

    def table(self, node: SyntaxTreeNode, depth: int) -> list[Block]:
        rows = [[self.cell(cell) for cell in row.children]
                for section in node.children for row in section.children]
        width = max((len(row) for row in rows), default=0)
        if not rows or width == 0:
            return []
        if depth >= MAX_DEPTH:  # a table's rows would be one level too deep: lines of text
            lines: list[Block] = []
            for row in rows:
                line: list[Piece] = []
                for index, cell in enumerate(row):
                    line += ([(" | ", Style())] if index else []) + cell
                lines += text_blocks("paragraph", rich_text(line))
            return lines
        header, body = rows[0], rows[1:]
        tables = []
        for start in range(0, max(len(body), 1), MAX_ITEMS - 1):
            chunk = [header, *body[start:start + MAX_ITEMS - 1]]
            tables.append(block("table", table_width=width, has_column_header=True,
                                has_row_header=False,
                                children=[self.row(cells, width) for cells in chunk]))
        return tables

    def cell(self, node: SyntaxTreeNode) -> list[Piece]:
        pieces, _ = self.inline(node)
        return pieces

    def row(self, cells: list[list[Piece]], width: int) -> Block:
        padded = [*cells, *([[]] * (width - len(cells)))]
        return block("table_row", cells=[fit(rich_text(cell)) for cell in padded])


def markdown_to_blocks(markdown: str,
                       attachments: dict[str, str] | None = None) -> list[Block]:
    """The Notion blocks of a Markdown document."""
    return MarkdownToBlocks(attachments).convert(markdown)
