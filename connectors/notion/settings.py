"""The `[connectors.notion]` settings table."""

from __future__ import annotations

import re
from typing import ClassVar

from replayhub.connector import ConnectorSettings

NOTION_VERSION = "2025-09-03"
"""The API version the connector speaks (the one its OpenAPI description documents)."""
HEX_ID = re.compile(r"[0-9a-fA-F]{32}")


def dashed_id(value: str) -> str:
    """A Notion id as a dashed UUID: ids copied from a page URL come without dashes (and
    may end a `Title-1a2b…` slug)."""
    compact = value.strip().split("?")[0].replace("-", "")
    found = HEX_ID.search(compact[-32:]) if len(compact) >= 32 else None
    if not found:
        return value.strip()
    h = found.group(0).lower()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class NotionSettings(ConnectorSettings, kw_only=True, forbid_unknown_fields=True):
    """One Notion integration, publishing under one parent page (or into one database)."""

    token: str = ""
    """The integration's secret (Settings → Connections → Develop or manage integrations);
    share the parent page with the integration."""
    parent_page_id: str = ""
    """The page new documents are created under (its id, or its URL's trailing id)."""
    database_id: str = ""
    """A database new documents are created in, instead of `parent_page_id` (its first
    data source: Notion-Version 2025-09-03 creates pages in a data source)."""
    notion_version: str = NOTION_VERSION
    """The `Notion-Version` header sent with every request."""

    SECRETS: ClassVar[tuple[str, ...]] = ("token",)
    REQUIRED: ClassVar[tuple[str, ...]] = ("token",)

    def missing(self) -> list[str]:
        missing = super().missing()
        if not self.parent_page_id and not self.database_id:
            missing.append("parent_page_id")
        return missing

    @property
    def api_url(self) -> str:
        return (self.base_url or "https://api.notion.com").rstrip("/")

    @property
    def parent(self) -> dict[str, str]:
        """The configured parent: a page (the `parent` of a new page as is), or a database
        (the connector resolves its data source, the `parent` new pages get)."""
        if self.database_id:
            return {"database_id": dashed_id(self.database_id)}
        return {"page_id": dashed_id(self.parent_page_id)}
