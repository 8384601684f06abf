"""Server-rendered SVG charts: no JavaScript, no CDN, allowed by a strict CSP.

Colours come from classes styled in ``static/css/console.css`` (with ``fill`` attributes as a
fallback), never from ``style`` attributes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape
from typing import Protocol


class HourBucket(Protocol):
    """One hour of counts (``gate.crossings.queries.HourCount`` fits)."""

    @property
    def hour(self) -> datetime: ...  # aware local start of the hour

    @property
    def total(self) -> int: ...  # allowed crossings

    @property
    def refused(self) -> int: ...


WIDTH = 840
HEIGHT = 220
_LEFT, _RIGHT, _TOP, _BOTTOM = 36, 8, 10, 34


def hourly_crossings_svg(buckets: Sequence[HourBucket], *, title: str, refused_label: str) -> str:
    """A bar chart of crossings per hour: allowed bars with refused stacked on top.

    One bar per bucket in the given order; a label under the first hour of each local day
    (``MM-DD``); a y axis with the maximum. ``title`` becomes the accessible name. The result
    is a complete ``<svg>`` element, safe to embed (all text is escaped).
    """
    plot_w = WIDTH - _LEFT - _RIGHT
    plot_h = HEIGHT - _TOP - _BOTTOM
    peak = max((b.total + b.refused for b in buckets), default=0)
    scale_max = max(peak, 1)
    slot = plot_w / max(len(buckets), 1)
    bar_w = max(slot * 0.8, 0.5)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-hourly" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<line class="chart-axis" x1="{_LEFT}" y1="{_TOP + plot_h}" '
        f'x2="{WIDTH - _RIGHT}" y2="{_TOP + plot_h}" stroke="#999"/>',
        f'<text class="chart-label" x="{_LEFT - 4}" y="{_TOP + 8}" text-anchor="end" '
        f'font-size="10">{peak}</text>',
        f'<text class="chart-label" x="{_LEFT - 4}" y="{_TOP + plot_h}" text-anchor="end" '
        f'font-size="10">0</text>',
    ]
    previous_day = None
    for index, bucket in enumerate(buckets):
        x = _LEFT + index * slot
        allowed_h = plot_h * bucket.total / scale_max
        refused_h = plot_h * bucket.refused / scale_max
        base = _TOP + plot_h
        label = f"{bucket.hour:%m-%d %H:00}: {bucket.total} / {refused_label} {bucket.refused}"
        if allowed_h > 0:
            parts.append(
                f'<rect class="bar-allowed" x="{x:.2f}" y="{base - allowed_h:.2f}" '
                f'width="{bar_w:.2f}" height="{allowed_h:.2f}" fill="#2e7d32">'
                f"<title>{escape(label)}</title></rect>"
            )
        if refused_h > 0:
            parts.append(
                f'<rect class="bar-refused" x="{x:.2f}" y="{base - allowed_h - refused_h:.2f}" '
                f'width="{bar_w:.2f}" height="{refused_h:.2f}" fill="#c62828">'
                f"<title>{escape(label)}</title></rect>"
            )
        day = bucket.hour.date()
        if day != previous_day:
            previous_day = day
            parts.append(
                f'<line class="chart-tick" x1="{x:.2f}" y1="{base}" x2="{x:.2f}" '
                f'y2="{base + 4}" stroke="#999"/>'
                f'<text class="chart-label" x="{x:.2f}" y="{base + 16}" '
                f'font-size="10">{day:%m-%d}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)
