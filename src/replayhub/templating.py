"""Where the Jinja2 templates live (installed package first, else the repository) and rendering."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jinja2

PACKAGE = Path(__file__).resolve().parent


def templates_dir() -> Path:
    """The wheel's replayhub/templates, else the repository's top-level templates/."""
    installed = PACKAGE / "templates"
    if installed.is_dir():
        return installed
    return PACKAGE.parents[1] / "templates"


def clock(ms: int) -> str:
    """Milliseconds as m:ss (h:mm:ss past an hour)."""
    seconds = max(0, int(ms) // 1000)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(templates_dir()),
                             autoescape=jinja2.select_autoescape(["html", "xml"]),
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["clock"] = clock
    return env


def render(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)
