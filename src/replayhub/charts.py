"""Charts drawn with matplotlib's Agg backend (a `Figure`, never pyplot: no global state).

Drawing is CPU work, so callers run it in a thread (`await asyncio.to_thread(...)`), off the
event loop. One drawing gives both a PNG (e-mail, Slack) and an SVG (the hub's pages).
matplotlib is imported by the first drawing: loaded at start it took 40 MB of every hub
process, most of which never draws a chart.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

ERRORS_COLOUR = "#c2410c"
USERS_COLOUR = "#1d4ed8"
SVG_START = re.compile(r"<svg\b")
SVG_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)


def errors_figure(labels: Sequence[str], errors: Sequence[int], users: Sequence[int],
                  bucket: str = "day") -> Figure:
    """The chart of errors_chart, titled by what each point counts (`bucket`)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(6.4, 2.6), dpi=100)
    figure.subplots_adjust(left=0.07, right=0.98, top=0.86, bottom=0.12)
    axes = figure.add_subplot()
    positions = list(range(len(labels)))
    axes.bar(positions, errors, color=ERRORS_COLOUR, alpha=0.8, label="Errors")
    axes.plot(positions, users, color=USERS_COLOUR, marker="o", linewidth=2,
              label="Affected users")
    axes.set_xticks(positions, labels, fontsize=8)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylim(bottom=0, top=max([1, *errors, *users]) * 1.15)
    axes.tick_params(axis="y", labelsize=8)
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis="y", alpha=0.3)
    axes.legend(loc="upper left", fontsize=8, frameon=False, ncols=2)
    axes.set_title(f"Errors and affected users per {bucket}", fontsize=10, loc="left")
    return figure


def errors_chart(labels: Sequence[str], errors: Sequence[int], users: Sequence[int],
                 bucket: str = "day") -> tuple[bytes, str]:
    """Errors (bars) and affected users (line) per `bucket` (day, hour: what each point
    counts, named in the title): (PNG bytes, SVG markup)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.backends.backend_svg import FigureCanvasSVG

    figure = errors_figure(labels, errors, users, bucket)
    png = io.BytesIO()
    FigureCanvasAgg(figure).print_png(png)
    svg = io.StringIO()
    FigureCanvasSVG(figure).print_svg(svg, metadata={"Date": None, "Creator": None})
    return png.getvalue(), inline_svg(svg.getvalue())


def inline_svg(document: str) -> str:
    """The <svg> element alone (no XML declaration, doctype or metadata), for an HTML page."""
    match = SVG_START.search(document)
    body = document[match.start():] if match else document
    return SVG_METADATA.sub("", body).strip()
