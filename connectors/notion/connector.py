"""The Notion connector: documents published as pages of blocks, page comments both ways.

A document is one page under `parent_page_id` (or in the data source of `database_id`).
Publishing again keeps the page: the title is set, the new blocks are appended, then the old
ones are deleted, so the page id never changes and the page is never empty. Notion has no
version number: the page's `last_edited_time` stands for it.
"""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from connectors.notion.blocks import (
    Style,
    batches,
    markdown_to_blocks,
    marker_block,
    rich_text,
    split_text,
)
from connectors.notion.client import NotionClient
from connectors.notion.settings import NotionSettings
from replayhub.connector import (
    Connector,
    Document,
    DocumentComments,
    PublishDocument,
    PublishedDocument,
    VendorComment,
    VendorError,
)
from replayhub.vendor_http import epoch_ms


def plain_text(items: list[dict[str, Any]] | None) -> str:
    """The text of a rich text array as Notion returns it."""
    return "".join(item.get("plain_text") or (item.get("text") or {}).get("content", "")
                   for item in items or [])


def block_text(block: dict[str, Any]) -> str:
    return plain_text((block.get(block.get("type", "")) or {}).get("rich_text"))


def page_title(page: dict[str, Any]) -> str:
    """The page's title (the one property of type `title`, whatever its name)."""
    for value in (page.get("properties") or {}).values():
        if isinstance(value, dict) and value.get("type") == "title":
            return plain_text(value.get("title"))
    return ""


def compact(notion_id: str) -> str:
    return notion_id.replace("-", "").lower()


def title_property(data_source: dict[str, Any]) -> str:
    """The name of the data source's title property (every data source has exactly one;
    its id, `title`, is also accepted as a key)."""
    for name, value in (data_source.get("properties") or {}).items():
        if isinstance(value, dict) and value.get("type") == "title":
            return str(name)
    return "title"


def trashed(item: dict[str, Any]) -> bool:
    return bool(item.get("archived") or item.get("in_trash"))


BLOCK_COMMENT_LIMIT = 100
"""Comments are read on the first 100 top-level blocks of a page: one request each, as
Notion tells no block's discussions apart from its other blocks."""


class NotionConnector(Connector, PublishDocument, DocumentComments):
    name: ClassVar[str] = "notion"
    title: ClassVar[str] = "Notion"
    settings_type = NotionSettings
    default_rate_limit_per_minute: ClassVar[int] = 180
    """Notion allows an average of three requests a second per integration."""

    settings: NotionSettings

    def __init__(self, settings: NotionSettings,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(settings)
        self.client = NotionClient(settings, transport)
        self.user_names: dict[str, str] = {}
        self.target: tuple[dict[str, str], str] | None = None
        """The `parent` of new pages and their title property, resolved once."""
        self.replaced: dict[str, dict[str, dict[str, Any]]] = {}
        """Page id → comments read on blocks an update deleted, by comment id: the next
        comment listing returns them, so the sync imports them (kept in memory only)."""

    async def check(self) -> str:
        me = await self.client.me()
        parent = await self._parent_reachable()
        return f"signed in as {me.get('name') or me.get('id', '?')} ({me.get('type', '?')}); " \
               f"{parent}"

    async def _parent_reachable(self) -> str:
        parent = self.settings.parent
        if "page_id" in parent:
            page = await self.client.page(parent["page_id"])
            return f"parent page {page_title(page) or parent['page_id']!r} is shared with it"
        database = await self.client.database(parent["database_id"])
        source, _ = await self._target()
        return f"database {plain_text(database.get('title')) or parent['database_id']!r} " \
               f"(data source {source['data_source_id']}) is shared with it"

    async def _target(self) -> tuple[dict[str, str], str]:
        """Where new pages go and the name of their title property. A database is not a
        parent in Notion-Version 2025-09-03: its (first) data source is, and the title
        property is the one that data source declares."""
        if self.target is None:
            parent = self.settings.parent
            if "page_id" in parent:
                self.target = (parent, "title")
            else:
                database = await self.client.database(parent["database_id"])
                sources = database.get("data_sources") or []
                if not sources:
                    raise VendorError(f"notion database {parent['database_id']} has no data "
                                      "source shared with the integration", retryable=False)
                source = await self.client.data_source(str(sources[0]["id"]))
                self.target = ({"data_source_id": str(source["id"])}, title_property(source))
        return self.target

    # --- publishing ---------------------------------------------------------------------

    def blocks_of(self, document: Document) -> list[dict[str, Any]]:
        """The page's blocks: the marker first (unless the Markdown carries it), then the
        Markdown's blocks."""
        blocks = markdown_to_blocks(document.markdown, {attachment.filename: attachment.url
                                                        for attachment in document.attachments})
        if document.marker and document.marker not in document.markdown:
            blocks.insert(0, marker_block(document.marker))
        return blocks

    async def publish_document(self, document: Document,
                               existing: PublishedDocument | None) -> PublishedDocument:
        chunks = batches(self.blocks_of(document))
        title = rich_text([(document.title or document.key, Style())])[:100]
        parent, title_key = await self._target()
        page = await self._live_page(existing.external_id) if existing else None
        if page is None:
            page = await self.client.create_page(parent, title_key, title,
                                                 chunks[0] if chunks else [])
            page_id = str(page["id"])
            await self._append(page_id, chunks[1:])
        else:
            page_id = str(page["id"])
            await self.client.set_title(page_id, title_key, title)
            old = [str(child["id"]) async for child in self.client.children(page_id)]
            await self._append(page_id, chunks)
            await self._keep_comments(page_id, old[:BLOCK_COMMENT_LIMIT])
            for block_id in old:
                await self.client.delete_block(block_id)
        return self.published(await self.client.page(page_id))

    async def _keep_comments(self, page_id: str, block_ids: list[str]) -> None:
        """Read the comments on blocks about to be deleted (deleting a block deletes its
        discussions), for the next comment listing to return."""
        kept = await self._block_comments(block_ids)
        if kept:
            self.replaced.setdefault(page_id, {}).update({str(c["id"]): c for c in kept})

    async def _live_page(self, page_id: str) -> dict[str, Any] | None:
        """The published page, or None when someone deleted it (then it is created again)."""
        try:
            page = await self.client.page(page_id)
        except VendorError as error:
            if error.status == 404:
                return None
            raise
        return None if trashed(page) else page

    async def _append(self, page_id: str, chunks: list[list[dict[str, Any]]]) -> None:
        for chunk in chunks:
            await self.client.append(page_id, chunk)

    @staticmethod
    def published(page: dict[str, Any]) -> PublishedDocument:
        return PublishedDocument(external_id=str(page["id"]), url=str(page.get("url") or ""),
                                 version=str(page.get("last_edited_time") or ""))

    async def find_document(self, document: Document) -> PublishedDocument | None:
        """The page titled like the document, under our parent, whose blocks carry the
        marker, newest first. Under a parent page, the parent's `child_page` blocks are
        read, as they show a page the moment it exists; Notion's search index lags behind
        writes, so search is used only for a database, which lists no child blocks."""
        title = document.title or document.key
        parent = self.settings.parent
        if "page_id" in parent:
            candidates = await self._child_pages(parent["page_id"], title)
        else:
            candidates = await self._searched_pages(title)
        for page_id in candidates:
            if document.marker and not await self._carries(page_id, document.marker):
                continue
            page = await self._live_page(page_id)
            if page is not None:
                return self.published(page)
        return None

    async def _child_pages(self, parent_id: str, title: str) -> list[str]:
        """The ids of the parent's sub-pages titled `title`, newest first."""
        found = [str(block["id"]) async for block in self.client.children(parent_id)
                 if block.get("type") == "child_page" and not trashed(block)
                 and (block.get("child_page") or {}).get("title") == title]
        return found[::-1]

    async def _searched_pages(self, title: str) -> list[str]:
        """The ids of pages titled `title` in our database that search finds (newest
        first; search is fuzzy, so the title decides)."""
        await self._target()
        return [str(page["id"]) async for page in self.client.search_pages(title)
                if not trashed(page) and page_title(page) == title and self._in_parent(page)]

    def _in_parent(self, page: dict[str, Any]) -> bool:
        """Whether the page's parent is our parent page, database or its data source."""
        wanted = {compact(value) for value in self.settings.parent.values()}
        if self.target is not None:
            wanted |= {compact(value) for value in self.target[0].values()}
        parent = page.get("parent") or {}
        return any(isinstance(value, str) and compact(value) in wanted
                   for value in parent.values())

    async def _carries(self, page_id: str, marker: str) -> bool:
        async for child in self.client.children(page_id):
            if marker in block_text(child):
                return True
        return False

    # --- comments -----------------------------------------------------------------------

    async def list_document_comments(self, published: PublishedDocument) -> list[VendorComment]:
        """The page's open comments, oldest first: its page-level discussion, the
        discussions on its first 100 top-level blocks, and those read on blocks an update
        has since deleted (Notion lists no resolved comments)."""
        page_id = published.external_id
        comments = {str(c["id"]): c async for c in self.client.comments(page_id)}
        blocks = [str(block["id"]) async for block
                  in self.client.children(page_id, limit=BLOCK_COMMENT_LIMIT)]
        comments.update({str(c["id"]): c for c in await self._block_comments(blocks)})
        for comment_id, comment in self.replaced.get(page_id, {}).items():
            comments.setdefault(comment_id, comment)
        found = [await self._comment(comment) for comment in comments.values()]
        return sorted(found, key=lambda c: (c.created_at, c.external_id))

    async def _block_comments(self, block_ids: list[str]) -> list[dict[str, Any]]:
        """The open comments on these blocks (a block deleted meanwhile has none)."""
        found: list[dict[str, Any]] = []
        for block_id in block_ids:
            try:
                found += [comment async for comment in self.client.comments(block_id)]
            except VendorError as error:
                if error.status != 404:
                    raise
        return found

    async def _comment(self, comment: dict[str, Any]) -> VendorComment:
        return VendorComment(
            external_id=str(comment["id"]),
            author=await self._name(comment.get("created_by") or {}),
            created_at=epoch_ms(comment.get("created_time")),
            body=plain_text(comment.get("rich_text")))

    async def _name(self, user: dict[str, Any]) -> str:
        """The author's name (read once per user; a user the integration cannot see is
        named by id)."""
        if user.get("name"):
            return str(user["name"])
        user_id = str(user.get("id") or "")
        if not user_id:
            return "Notion user"
        if user_id not in self.user_names:
            try:
                found = await self.client.user(user_id)
            except VendorError:
                found = None
            self.user_names[user_id] = str((found or {}).get("name") or "")
        return self.user_names[user_id] or f"Notion user {user_id[:8]}"

    async def post_document_comment(self, published: PublishedDocument, body: str,
                                    marker: str) -> str:
        texts = split_text(body)[:99 if marker else 100]
        if marker:
            texts.append(f"\n{marker}")
        parts = [{"text": {"content": text}} for text in texts]
        comment = await self.client.add_comment(published.external_id, parts)
        return str(comment["id"])

    async def close(self) -> None:
        await self.client.close()
