"""The interval ticks the scheduler runs on the leader process.

Each tick is `async def tick(hub) -> int` (how much it did) named by a "module:function"
string, so this list imports nothing and any module can have a tick. The scheduler
(replayhub.scheduler) runs each one every `seconds`; tests call the functions directly.
"""

from __future__ import annotations

from typing import NamedTuple


class Tick(NamedTuple):
    name: str
    seconds: float
    target: str
    """"module:function" of an `async def tick(hub: Hub) -> int`."""


TICKS: list[Tick] = [
    Tick("alerts", 30, "replayhub.alerts:alerts_tick"),
    Tick("retention", 3600, "replayhub.retention:retention_tick"),
    Tick("playlists", 300, "replayhub.playlists:refresh_playlists"),
    Tick("document_comments", 60, "replayhub.publishing:sync_document_comments"),
]
