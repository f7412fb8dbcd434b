"""The aging chart: one bar per bucket, drawn as server-side SVG (pure geometry, no script).

`bars` computes where each bar goes; the template draws them inside an `<svg role="img">`
with a `<title>` and a `<desc>` that says every value in words, and the aging table beside
it is the chart's full text alternative.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

WIDTH = 520
HEIGHT = 260
#: Room for the value axis's labels on the left and the bucket names below.
LEFT, RIGHT, TOP, BOTTOM = 72, 12, 16, 40


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: Decimal
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class Tick:
    value: Decimal
    y: float


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    #: Where the bars stand (the zero line) and the plot's left and right edges.
    baseline: float
    left: float
    right: float


TICKS = 4


def nice_step(largest: Decimal) -> Decimal:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above `largest`: the value axis
    goes up in such steps, so its labels are round numbers."""
    if largest <= 0:
        return Decimal(1)
    magnitude = Decimal(10) ** (largest.adjusted())
    for step in (1, 2, Decimal("2.5"), 5, 10):
        top = magnitude * step
        if top >= largest:
            return top
    return magnitude * 10  # unreachable: 10 * magnitude is always above `largest`


def bars(values: Sequence[tuple[str, Decimal]], width: int = WIDTH, height: int = HEIGHT) -> Chart:
    """Bars for (label, value) pairs, left to right; negative values draw as zero height
    (aging holds balances above zero only)."""
    plot_w = width - LEFT - RIGHT
    plot_h = height - TOP - BOTTOM
    step = nice_step(max((v for _, v in values), default=Decimal(0)) / TICKS)
    top = step * TICKS
    slot = plot_w / max(len(values), 1)
    bar_w = slot * 0.62
    baseline = TOP + plot_h
    drawn = []
    for i, (label, value) in enumerate(values):
        h = float(max(value, Decimal(0)) / top) * plot_h
        x = LEFT + i * slot + (slot - bar_w) / 2
        drawn.append(Bar(label, value, round(x, 2), round(baseline - h, 2), round(bar_w, 2), round(h, 2)))
    ticks = tuple(Tick(step * k, round(baseline - plot_h * k / TICKS, 2)) for k in range(TICKS + 1))
    return Chart(width, height, tuple(drawn), ticks, baseline, LEFT, width - RIGHT)


def short_money(value: Decimal) -> str:
    """An axis label: 12,500 -> '12.5k', 1,200,000 -> '1.2M'."""
    for size, suffix in ((Decimal(1_000_000), "M"), (Decimal(1000), "k")):
        if abs(value) >= size:
            return _trim(value / size) + suffix
    return _trim(value)


def _trim(value: Decimal) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")
