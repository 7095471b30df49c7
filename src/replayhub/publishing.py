"""Post-mortems published where the team writes (Confluence, Notion, Git), kept in step."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from replayhub.hub import Hub


async def push_incident_comment(hub: Hub, comment: Any) -> None:
    """Send a comment written in the hub to every page the incident's post-mortem is on."""
