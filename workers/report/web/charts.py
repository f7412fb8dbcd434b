"""Charts as server-drawn SVG: a picture the page shows with no script and no chart library,
with a title and a text alternative for screen readers. Pure: numbers in, markup out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from markupsafe import Markup, escape


@dataclass(frozen=True)
class Bar:
    label: str
    value: Decimal | int
    #: Shown above the bar; the value itself when empty.
    caption: str = ""


@dataclass(frozen=True)
class Geometry:
    width: int = 640
    height: int = 220
    top: int = 22
    bottom: int = 34
    left: int = 12
    gap: float = 0.25  # share of each slot left empty between bars
    max_bar: float = 72  # a few bars stay bars, not blocks


def bar_heights(values: Sequence[Decimal | int], room: float) -> list[float]:
    """Each value's bar height in `room` pixels, the largest filling it; negatives draw as 0."""
    top = max((float(v) for v in values), default=0.0)
    if top <= 0:
        return [0.0 for _ in values]
    return [max(float(v), 0.0) / top * room for v in values]


def bar_chart(bars: Sequence[Bar], title: str, *, geometry: Geometry = Geometry()) -> Markup:
    """A vertical bar chart. The `<title>` and `aria-label` name it; each bar carries its
    label and value in its own `<title>` (a tooltip, and read by screen readers)."""
    g = geometry
    room = g.height - g.top - g.bottom
    slot = (g.width - 2 * g.left) / max(len(bars), 1)
    heights = bar_heights([b.value for b in bars], room)
    summary = "; ".join(f"{b.label}: {b.caption or b.value}" for b in bars) or "no data"
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {g.width} {g.height}" width="100%" '
        f'preserveAspectRatio="xMidYMid meet" aria-label="{escape(title)}: {escape(summary)}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{g.left}" y1="{g.height - g.bottom}" x2="{g.width - g.left}" '
        f'y2="{g.height - g.bottom}" stroke="#9aa5b1"/>',
    ]
    for i, (bar, h) in enumerate(zip(bars, heights, strict=True)):
        w = min(slot * (1 - g.gap), g.max_bar)
        x = g.left + i * slot + (slot - w) / 2
        y = g.height - g.bottom - h
        mid = x + w / 2
        label, caption = escape(bar.label), escape(bar.caption or str(bar.value))
        parts.append(
            f"<g><title>{label}: {caption}</title>"
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="#0b5cad" rx="2"/>'
            f'<text x="{mid:.1f}" y="{y - 5:.1f}" text-anchor="middle">{caption}</text>'
            f'<text x="{mid:.1f}" y="{g.height - g.bottom + 16:.1f}" text-anchor="middle">{label}</text>'
            "</g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
