"""The Confluence connector: publishes documents as pages and syncs their footer comments."""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from connectors.confluence.client import ConfluenceClient, page_url
from connectors.confluence.settings import ConfluenceSettings
from connectors.confluence.storage import comment_body, plain_text, storage_body
from replayhub.connector import (
    Connector,
    Document,
    DocumentComments,
    PublishDocument,
    PublishedDocument,
    VendorComment,
)
from replayhub.vendor_http import epoch_ms


def version_of(page: dict[str, Any]) -> int:
    return int((page.get("version") or {}).get("number") or 1)


def storage_of(item: dict[str, Any]) -> str:
    return str(((item.get("body") or {}).get("storage") or {}).get("value") or "")


class ConfluenceConnector(Connector, PublishDocument, DocumentComments):
    name: ClassVar[str] = "confluence"
    title: ClassVar[str] = "Confluence Cloud"
    settings_type = ConfluenceSettings
    default_rate_limit_per_minute: ClassVar[int] = 300
    """Confluence Cloud limits by cost, not count; this stays well under it for one site."""

    settings: ConfluenceSettings

    def __init__(self, settings: ConfluenceSettings,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(settings)
        self.client = ConfluenceClient(settings, transport)

    @property
    def account(self) -> str:
        return self.settings.site_url

    async def check(self) -> str:
        space = await self.client.space()
        return f"space {space.get('key', '?')} ({space.get('name', '?')}), id {space.get('id')}"

    async def publish_document(self, document: Document,
                               existing: PublishedDocument | None) -> PublishedDocument:
        """Create the page, or write a new version of it; then upload its pictures (a file
        with the same name becomes a new version of the attachment)."""
        storage = storage_body(document)
        page = await self.client.page(existing.external_id) if existing else None
        if page is None:
            page = await self.client.create_page(document.title, storage)
        else:
            page = await self.client.update_page(str(page["id"]), document.title, storage,
                                                 version_of(page) + 1)
        page_id = str(page["id"])
        for attachment in document.attachments:
            await self.client.upload_attachment(page_id, attachment.filename, attachment.data,
                                                attachment.content_type)
        return PublishedDocument(external_id=page_id,
                                 url=page_url(page, self.settings.site_url),
                                 version=str(version_of(page)))

    async def find_document(self, document: Document) -> PublishedDocument | None:
        """The space's page with the document's title that carries its marker."""
        for page in await self.client.pages_titled(document.title):
            if document.marker and document.marker in storage_of(page):
                return PublishedDocument(external_id=str(page["id"]),
                                         url=page_url(page, self.settings.site_url),
                                         version=str(version_of(page)))
        return None

    async def list_document_comments(self, published: PublishedDocument) -> list[VendorComment]:
        found = []
        for comment in await self.client.footer_comments(published.external_id):
            version = comment.get("version") or {}
            author = str(version.get("authorId") or "")
            storage = storage_of(comment)
            found.append(VendorComment(
                external_id=str(comment["id"]), created_at=epoch_ms(version.get("createdAt")),
                author=await self.client.user_name(author) if author else "Confluence",
                body=plain_text(storage), html_body=storage))
        return sorted(found, key=lambda c: (c.created_at, c.external_id))

    async def post_document_comment(self, published: PublishedDocument, body: str,
                                    marker: str) -> str:
        answer = await self.client.create_footer_comment(published.external_id,
                                                         comment_body(body, marker))
        return str(answer["id"])

    async def close(self) -> None:
        await self.client.close()
