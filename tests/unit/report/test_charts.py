from __future__ import annotations

import itertools
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from workers.report.web.charts import Bar, bar_chart, bar_heights


@given(
    st.lists(st.integers(min_value=-50, max_value=10**9), max_size=30), st.floats(min_value=1, max_value=500)
)
def test_bars_fit_the_room_and_keep_their_order(values: list[int], room: float) -> None:
    heights = bar_heights(values, room)
    assert len(heights) == len(values)
    assert all(0 <= h <= room + 1e-9 for h in heights)
    for (a, ha), (b, hb) in itertools.pairwise(zip(values, heights, strict=True)):
        if max(a, 0) < max(b, 0):
            assert ha <= hb


def test_the_tallest_bar_fills_the_room() -> None:
    assert bar_heights([Decimal("1.50"), 3, 0], 100) == [50.0, 100.0, 0.0]


def test_a_chart_names_itself_and_each_bar_and_escapes_labels() -> None:
    svg = str(bar_chart([Bar("run 1", 16), Bar("<b>", 1, caption="1 charge")], "Failures per run"))
    assert 'role="img"' in svg and "<title>Failures per run</title>" in svg
    assert "run 1: 16" in svg and "&lt;b&gt;: 1 charge" in svg and "<b>" not in svg


def test_an_empty_chart_says_so() -> None:
    assert "no data" in str(bar_chart([], "Nothing"))
