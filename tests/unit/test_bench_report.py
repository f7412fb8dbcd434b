"""The report rung of `python -m bench` runs at a tiny scale and writes every figure.

Shapes only, never speeds: docs/PERFORMANCE.md holds the figures at a million failures.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import bench.__main__ as bench_main
from bench import report

pytestmark = pytest.mark.timeout(300)


def test_generated_failures_are_spread_and_well_formed() -> None:
    rows = list(report.generate(3000))
    failures = [r for r, _ in rows]
    assert len({r[0] for r in failures}) == 3000
    assert {r[1] for r in failures} == {report.company_id(c) for c in range(report.COMPANIES)}
    statuses = {r[11] for r in failures}
    assert statuses == {"open", "reprocessing", "resolved"}
    assert any(r[2] is None for r in failures)  # a practice-less group exists
    assert all(1 <= len(reasons) <= 3 for _, reasons in rows)
    assert all(r[8] <= r[9] for r in failures)  # oldest failure on or before the last


def test_the_rung_runs_on_sqlite_and_writes_its_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench_main, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(report, "BENCH_HOME", tmp_path / "home")
    monkeypatch.setitem(report.REPEATS, "quick", 3)
    assert bench_main.main(["--quick", "--report", "--report-rows", "2000", "--report-db", "sqlite"]) == 0

    results = json.loads((tmp_path / "results" / "latest.json").read_text())
    assert results["mode"] == "report-quick"
    rung = results["report"]
    assert (rung["rows"], rung["companies"], rung["target_p95_ms"]) == (2000, 10, 300.0)
    sqlite = rung["sqlite"]
    assert "error" not in sqlite, sqlite
    assert sqlite["company_rows"] > 0 and sqlite["company_open_rows"] > 0
    assert set(sqlite["queries"]) == set(report.QUESTIONS)
    for name, q in sqlite["queries"].items():
        assert q["requests"] == 3, name
        assert 0 < q["p50_ms"] <= q["p95_ms"] <= q["max_ms"], (name, q)
        assert isinstance(q["met"], bool), name
    assert sqlite["queries"]["drill_down_reason"]["rows_found_median"] > 0
    assert sqlite["queries"]["deep_page"]["rows_found_median"] > 0
    assert results["targets"]["report_sqlite_p95_ms"]["value"] == sqlite["worst_p95_ms"]
    assert "postgresql" not in rung
    assert not list((tmp_path / "home").rglob("*.db"))  # the database is not left behind
