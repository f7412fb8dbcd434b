"""The aging chart's geometry (pure)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from workers.report.web.bill_chart import BOTTOM, HEIGHT, LEFT, TOP, WIDTH, bars, nice_step, short_money

D = Decimal


def test_bars_are_in_order_left_to_right_and_scaled_to_the_top_tick() -> None:
    chart = bars([("0-30", D("1000.00")), ("31-60", D("500.00")), ("61-90", D("0.00"))])
    assert [b.label for b in chart.bars] == ["0-30", "31-60", "61-90"]
    assert [t.value for t in chart.ticks] == [0, 250, 500, 750, 1000]
    first, second, empty = chart.bars
    assert first.y == TOP and first.height == HEIGHT - TOP - BOTTOM
    assert second.height == first.height / 2
    assert empty.height == 0 and empty.y == chart.baseline
    assert first.x < second.x < empty.x


def test_an_empty_report_draws_flat_bars_under_a_unit_axis() -> None:
    chart = bars([(b, D(0)) for b in ("a", "b")])
    assert all(b.height == 0 for b in chart.bars)
    assert chart.ticks[-1].value == 4


@given(st.lists(st.decimals(min_value=0, max_value=10**7, places=2), min_size=1, max_size=8))
def test_every_bar_fits_inside_the_plot(values: list[Decimal]) -> None:
    chart = bars([(str(i), v) for i, v in enumerate(values)])
    for bar in chart.bars:
        assert TOP - 0.01 <= bar.y <= chart.baseline
        assert bar.y + bar.height <= chart.baseline + 0.01
        assert bar.x >= LEFT and bar.x + bar.width <= WIDTH
    assert chart.ticks[-1].value >= max(values)


def test_steps_are_round_numbers() -> None:
    assert [nice_step(D(v)) for v in ("0", "0.3", "1", "7", "12", "230", "2400", "2600")] == [
        1,
        D("0.5"),
        1,
        10,
        20,
        D("250"),
        D("2500"),
        D("5000"),
    ]


def test_axis_labels_are_short() -> None:
    assert [short_money(D(v)) for v in ("0", "250", "312.5", "1000", "12500", "1200000")] == [
        "0",
        "250",
        "312.5",
        "1k",
        "12.5k",
        "1.2M",
    ]
