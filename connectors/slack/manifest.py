"""The Slack app manifest: scopes, events, request URLs and unfurl domain of this hub.

Paste it at https://api.slack.com/apps → Create New App → From an app manifest.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

BOT_SCOPES = [
    "chat:write",          # post alerts and thread replies, update them
    "chat:write.public",   # post in public channels without being invited first
    "channels:history",    # replies in public channels' threads (events, marker look-up)
    "groups:history",      # the same in private channels the app is invited to
    "channels:read",       # conversations.list: a channel configured by name → its id
    "groups:read",         # the same for private channels the app is invited to
    "files:write",         # upload snapshots into threads
    "files:read",          # check a snapshot was shared after a timeout
    "users:read",          # names of people replying in threads
    "users:read.email",    # users.lookupByEmail: mention owners by e-mail
]
UNFURL_SCOPES = ["links:read", "links:write"]


def build_manifest(hub_url: str, *, unfurl: bool = True, name: str = "ReplayHub") -> dict[str, Any]:
    """The manifest for a hub reachable at `hub_url` (https: Slack calls it)."""
    base = hub_url.rstrip("/")
    host = urlsplit(base).hostname or ""
    features: dict[str, Any] = {"bot_user": {"display_name": name, "always_online": True}}
    events = ["message.channels", "message.groups"]
    scopes = list(BOT_SCOPES)
    if unfurl:
        features["unfurl_domains"] = [host]
        events.append("link_shared")
        scopes += UNFURL_SCOPES
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": name,
            "description": "Session replays of your web app, where the team talks.",
            "background_color": "#1d4ed8",
        },
        "features": features,
        "oauth_config": {"scopes": {"bot": scopes}},
        "settings": {
            "event_subscriptions": {"request_url": f"{base}/webhooks/slack", "bot_events": events},
            "interactivity": {"is_enabled": True,
                              "request_url": f"{base}/webhooks/slack/interactivity"},
            "org_deploy_enabled": False,
            "socket_mode_enabled": False,
            "token_rotation_enabled": False,
        },
    }
