"""The metrics-cost summary: a geometric mean of the rounds' ratios, with its interval."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.overhead import summarize


def test_opposite_order_effects_cancel() -> None:
    # Starting first made one process 5% cheaper: on-first and off-first rounds cancel.
    out = summarize([1.02 / 1.05, 1.02 * 1.05])
    assert out["overhead_pct"] == pytest.approx(2.0, abs=0.01)
    low, high = out["ci95_pct"]
    assert low < 2.0 < high


def test_equal_rounds_have_a_zero_width_interval() -> None:
    out = summarize([1.01, 1.01, 1.01, 1.01])
    assert out["overhead_pct"] == pytest.approx(1.0)
    assert out["ci95_pct"] == [pytest.approx(1.0), pytest.approx(1.0)]
    assert out["spread_pct"] == 0


def test_one_round_has_no_interval() -> None:
    assert "ci95_pct" not in summarize([0.99])


@given(st.lists(st.floats(min_value=0.5, max_value=2.0), min_size=2, max_size=12))
def test_the_estimate_lies_inside_its_interval_and_the_spread(ratios: list[float]) -> None:
    out = summarize(ratios)
    low, high = out["ci95_pct"]
    assert low - 1e-6 <= out["overhead_pct"] <= high + 1e-6
    assert (min(ratios) - 1) * 100 - 0.01 <= out["overhead_pct"] <= (max(ratios) - 1) * 100 + 0.01
    assert math.isfinite(high)
