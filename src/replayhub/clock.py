"""The hub's clock: epoch milliseconds, the unit of every time it stores."""

from __future__ import annotations

import time


def now_ms() -> int:
    """The current time in epoch milliseconds."""
    return int(time.time() * 1000)
