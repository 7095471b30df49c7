"""The `[connectors.confluence]` settings table."""

from __future__ import annotations

from typing import ClassVar

from replayhub.connector import ConnectorSettings


class ConfluenceSettings(ConnectorSettings, kw_only=True, forbid_unknown_fields=True):
    """One Confluence Cloud site and the space post-mortems are published in."""

    email: str = ""
    """The Atlassian account the hub acts as (with `api_token`); basic auth."""
    api_token: str = ""
    """An API token of that account (id.atlassian.com → Security → API tokens)."""
    space_id: str = ""
    """The numeric id of the space pages are created in (or give `space_key`)."""
    space_key: str = ""
    """The space's key (`ENG`), looked up once when `space_id` is empty."""
    parent_page_id: str = ""
    """Pages are created under this page; empty: under the space's home page."""

    SECRETS: ClassVar[tuple[str, ...]] = ("api_token",)
    REQUIRED: ClassVar[tuple[str, ...]] = ("base_url", "email", "api_token")

    def missing(self) -> list[str]:
        missing = super().missing()
        if not (self.space_id or self.space_key):
            missing.append("space_id")
        return missing

    @property
    def site_url(self) -> str:
        """The site's address, `https://<site>.atlassian.net` (no /wiki)."""
        return self.base_url.rstrip("/").removesuffix("/wiki")
