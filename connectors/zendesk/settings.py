"""The `[connectors.zendesk]` settings table."""

from __future__ import annotations

from typing import ClassVar

from replayhub.connector import ConnectorSettings


class ZendeskSettings(ConnectorSettings, kw_only=True, forbid_unknown_fields=True):
    """One Zendesk Support account."""

    subdomain: str = ""
    """The account's subdomain: `acme` for https://acme.zendesk.com."""
    email: str = ""
    """The agent the hub acts as (with `api_token`)."""
    api_token: str = ""
    """An API token (Admin Center → Apps and integrations → Zendesk API); basic auth."""
    oauth_token: str = ""
    """An OAuth access token, instead of `email` + `api_token`."""
    webhook_secret: str = ""
    """The signing secret of the Zendesk webhook that calls POST /webhooks/zendesk."""
    lookback_hours: int = 24
    """Sessions of the requester started this many hours before the ticket are attached."""
    max_sessions: int = 3
    """Most sessions in one note."""
    no_sessions_note: bool = False
    """Post a short "no recordings" note when the requester has no recent session."""
    custom_field_id: int | None = None
    """A ticket field filled with the top replay's link (none: no field is filled)."""
    tag: str = "replay_attached"
    """Tag added to a ticket that got replays."""
    sidebar_shared_secret: str = ""
    """The sidebar app's `shared_secret` setting: Zendesk signs the app's URL (an HS256 JWT)
    with it. Empty: POST /zendesk/sidebar refuses every request."""
    sidebar_installation_id: int | None = None
    """The sidebar app's installation id: only its JWTs are taken (none: any installation on
    this subdomain)."""

    SECRETS: ClassVar[tuple[str, ...]] = ("api_token", "oauth_token", "webhook_secret",
                                          "sidebar_shared_secret")
    REQUIRED: ClassVar[tuple[str, ...]] = ("subdomain", "webhook_secret")

    def missing(self) -> list[str]:
        missing = super().missing()
        if not self.oauth_token:
            missing += [name for name in ("email", "api_token") if not getattr(self, name)]
        return missing

    @property
    def zendesk_host(self) -> str:
        """The account's own host, as Zendesk names it in the JWTs of its apps."""
        return f"{self.subdomain}.zendesk.com"

    @property
    def api_url(self) -> str:
        return (self.base_url or f"https://{self.subdomain}.zendesk.com").rstrip("/")
