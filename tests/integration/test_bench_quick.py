"""`python -m bench --quick` runs end to end and reports every figure.

Checks the shape of the results, never their size: speed is the benchmark's business
(docs/PERFORMANCE.md), and a timed test on a shared 2-core machine would only be flaky.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
LATEST = ROOT / "bench" / "results" / "latest.json"


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def test_quick_bench_writes_every_figure() -> None:
    before = LATEST.stat().st_mtime if LATEST.exists() else 0.0
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert LATEST.stat().st_mtime > before, "latest.json was not rewritten"
    results = json.loads(LATEST.read_text())

    assert results["mode"] == "quick"
    assert {"nproc", "memory_gib", "cpu_model"} <= set(results["machine"])

    ceiling = results["ceiling"]
    passthrough = ceiling["python_passthrough"]
    assert _number(passthrough["msg_per_s"]), ceiling
    # The ratios' denominator: rounds before and after the workers, their mean and spread.
    assert {r["when"] for r in passthrough["rounds"]} == {"before", "after"}, passthrough
    assert all(_number(r["msg_per_s"]) for r in passthrough["rounds"]), passthrough
    for figure in ("mean_before", "mean_after", "min_msg_per_s", "max_msg_per_s", "spread_pct"):
        assert _number(passthrough[figure]), (figure, passthrough)
    assert passthrough["min_msg_per_s"] <= passthrough["msg_per_s"] <= passthrough["max_msg_per_s"]
    perf = ceiling["kafka_perf"]
    assert _number(perf["producer_msg_per_s"]) and _number(perf["consumer_msg_per_s"]), perf

    # The floor under the formatter's ratio: each rung measured and set against the ceiling.
    for name in ("decode", "decode_tracking_row", "decode_rules_tracking_row"):
        rung = results["ladder"][name]
        assert _number(rung["msg_per_s"]) and _number(rung["ratio_to_ceiling"]), (name, rung)
        assert rung["messages"] >= 1 and rung["work"] == name, (name, rung)

    for name in ("formatter", "posting_sqlite", "posting_postgres", "remittance_sqlite"):
        worker = results["workers"][name]
        assert "error" not in worker and "skipped" not in worker, (name, worker)
        assert _number(worker["msg_per_s"]) and _number(worker["ratio_to_ceiling"]), (name, worker)
        assert worker["outputs"] >= 1, (name, worker)
        memory = worker["memory"]
        assert _number(memory["peak_rss_mb"]) and isinstance(memory["growth_pct"], int | float), memory

    # 835 claim payments per second, and the postings they made.
    era = results["workers"]["remittance_sqlite"]
    assert era["unit"] == "claim payments" and _number(era["postings_per_s"]), era
    assert era["postings"] >= era["messages"], era

    for name in ("formatter", "posting"):
        lat = results["latency"][name]
        assert "error" not in lat, (name, lat)
        assert lat["answered"] >= 1, (name, lat)
        for figure in ("p50_ms", "p99_ms", "p999_ms"):
            assert _number(lat[figure]), (name, figure, lat)

    # Metrics on versus off, side by side; on means served and scraped every second.
    for name in ("formatter", "posting_sqlite"):
        cost = results["metrics_overhead"][name]
        assert len(cost["rounds"]) == 2, cost
        assert isinstance(cost["overhead_pct"], float), cost
        for r in cost["rounds"]:
            assert r["on_cpu_us_per_msg"] > 0 and r["off_cpu_us_per_msg"] > 0 and r["scrapes"] >= 1, cost

    for name, target in results["targets"].items():
        assert target["value"] is not None, name
        assert target["met"] in (True, False), name
