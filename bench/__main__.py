"""`python -m bench [--quick|--medium|--full] [--report]`: every figure of the issues, in one run.

Starts a dedicated broker (port 28092 or another free pair below the ephemeral range, data
under var/bench/kafka) and a throwaway PostgreSQL, measures the ceilings, each worker's
throughput and memory, and the latency at 20% of each worker's peak, then writes
bench/results/latest.json (plus a timestamped copy) and prints a table. Last, the Failed
Charges report's searches at scale (bench/report.py); `--report` runs only that rung.
Nothing here asserts speed: `--quick` exists to keep the bench working.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import os
import platform
import shutil
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench import ceiling, ladder, latency, overhead, remittance, report, workers
from bench.common import BenchEnv, close_env, start_env

RESULTS = Path(__file__).resolve().parent / "results"
#: Offered load for the latency figures, as a share of the peak measured in the same run.
LATENCY_LOAD = 0.2

TARGETS = {
    "formatter_ratio": 0.5,
    "posting_sqlite_ratio": 0.3,
    "posting_postgres_ratio": 0.2,
    "p99_ms": 50.0,
    "rss_growth_pct": 10.0,
    #: The clearinghouse worker's claims/s over the claims/s the formatter makes in the same run
    #: (its charges/s times the claims it makes per charge): at 1.0 or more it is not the bottleneck.
    "clearinghouse_to_formatter": 1.0,
    "report_p95_ms": report.TARGET_MS,
}


@dataclass(frozen=True)
class Mode:
    name: str
    ceiling: int
    perf: int
    formatter: int
    posting_sqlite: int
    posting_postgres: int
    latency_seconds: float
    #: Ceiling rounds (of `ceiling` messages) before the workers, and as many after.
    ceiling_rounds: int
    overhead_rounds: int
    overhead_messages: int
    #: 835 claim payments (in files of bench.remittance.PER_FILE) for the remittance worker.
    remittance: int = 1_000


MODES = {
    "quick": Mode("quick", 5_000, 20_000, 3_000, 3_000, 2_000, 8, 1, 2, 3_000, 500),
    "medium": Mode("medium", 100_000, 500_000, 200_000, 200_000, 50_000, 30, 2, 4, 50_000, 5_000),
    "full": Mode("full", 200_000, 1_000_000, 1_000_000, 1_000_000, 200_000, 60, 3, 4, 100_000, 20_000),
}
#: The most throughput metrics may cost (issue #18), as a percentage.
METRICS_OVERHEAD_PCT = 3.0

#: Wide enough for the tables when the output is a pipe (make, CI logs), not a terminal.
console = Console(width=None if sys.stdout.isatty() else 140)


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "cpu_model": cpu,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def _ratio(worker: dict[str, Any] | None, ceiling_rate: float | None) -> float | None:
    if not worker or not ceiling_rate or worker.get("msg_per_s") is None:
        return None
    return round(worker["msg_per_s"] / ceiling_rate, 3)


def _section(results: dict[str, Any], name: str, fn: Callable[[], Any]) -> Any:
    """Run one measurement; a failure is recorded in the JSON instead of ending the run."""
    console.print(f"[bold]bench[/bold] {name} ...")
    started = time.monotonic()
    try:
        value = fn()
    except Exception as exc:
        traceback.print_exc()
        value = {"error": f"{type(exc).__name__}: {exc}"}
    console.print(f"[bold]bench[/bold] {name} done in {time.monotonic() - started:.0f}s")
    results.setdefault("timings_s", {})[name] = round(time.monotonic() - started, 1)
    return value


def _run(coro_fn: Callable[[], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        return await coro_fn()

    return asyncio.run(main())


def run(mode: Mode) -> dict[str, Any]:
    from claimflow.settings import get_settings

    version = get_settings().kafka_version
    results: dict[str, Any] = {
        "mode": mode.name,
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, "-m", "bench", *sys.argv[1:]]),
        "machine": machine(),
        "kafka_version": version,
        "counts": mode.__dict__,
        "targets": {},
    }
    env: BenchEnv = start_env(with_postgres=True)
    results["broker"] = env.bootstrap
    try:
        # Ratios divide by the mean of ceiling rounds timed before and after the workers
        # (bench/ceiling.py says why); they are computed once both sides are in.
        timed: list[dict[str, Any]] = []

        def ceiling_rounds(when: str) -> None:
            value = _section(
                results,
                f"ceiling_{when}",
                lambda: _run(lambda: ceiling.rounds(env, mode.ceiling, mode.ceiling_rounds, when)),
            )
            timed.extend(value if isinstance(value, list) else [{**value, "when": when}])

        ceiling_rounds("before")
        record_size = ceiling.avg_charge_bytes()
        perf = _section(
            results, "kafka_perf", lambda: ceiling.kafka_perf(env, mode.perf, record_size, version)
        )
        # The floor under the formatter's target: the ceiling's loop doing only what no
        # formatter can skip (bench/ladder.py).
        rungs = _section(results, "ladder", lambda: _run(lambda: ladder.ladder(env, mode.ceiling)))
        results["ladder"] = rungs

        fmt = _section(results, "formatter", lambda: _run(lambda: workers.formatter(env, mode.formatter)))
        results["workers"] = {"formatter": fmt}
        if mode.name != "quick":
            # Scale-out, reported beside the per-process target: two formatters in one group
            # on one SQLite file (writers take turns; decoding and Kafka run side by side).
            results["workers"]["formatter_2_processes"] = _section(
                results,
                "formatter_2_processes",
                lambda: _run(lambda: workers.formatter(env, mode.formatter, processes=2)),
            )
        # Beside the formatter, on claims the formatter would make of the same charges: it
        # must keep up with the formatter's output (targets: clearinghouse_keeps_up).
        results["workers"]["clearinghouse"] = _section(
            results, "clearinghouse", lambda: _run(lambda: workers.clearinghouse(env, mode.formatter))
        )
        missing = workers.posting_available()
        if missing is None:
            results["workers"]["posting_sqlite"] = _section(
                results,
                "posting_sqlite",
                lambda: _run(lambda: workers.posting(env, mode.posting_sqlite, "sqlite")),
            )
            results["workers"]["posting_postgres"] = _section(
                results,
                "posting_postgres",
                lambda: _run(lambda: workers.posting(env, mode.posting_postgres, "postgresql")),
            )
            if mode.name != "quick":
                # Scale-out, reported beside the targets (which are per process): two posting
                # workers in one group on PostgreSQL, where writers do not take turns.
                results["workers"]["posting_postgres_2_processes"] = _section(
                    results,
                    "posting_postgres_2_processes",
                    lambda: _run(
                        lambda: workers.posting(env, mode.posting_postgres, "postgresql", processes=2)
                    ),
                )
        else:
            skipped = {"skipped": f"posting worker not available: {missing}"}
            results["workers"]["posting_sqlite"] = skipped
            results["workers"]["posting_postgres"] = skipped

        # 835 claim payments per second, and the postings they make (bench/remittance.py).
        results["workers"]["remittance_sqlite"] = _section(
            results,
            "remittance_sqlite",
            lambda: _run(lambda: remittance.remittance(env, mode.remittance, "sqlite")),
        )

        ceiling_rounds("after")
        py = ceiling.summarize(timed)
        results["ceiling"] = {"python_passthrough": py, "kafka_perf": perf}
        ceiling_rate = py.get("msg_per_s")
        for r in rungs.values() if "error" not in rungs else ():
            r["ratio_to_ceiling"] = _ratio(r, ceiling_rate)
        for w in results["workers"].values():
            if isinstance(w, dict):
                w["ratio_to_ceiling"] = _ratio(w, ceiling_rate)

        results["latency"] = {}
        for name, key, fn in (
            ("formatter", "formatter", latency.formatter),
            ("posting", "posting_sqlite", latency.posting),
        ):
            peak = results["workers"].get(key, {}).get("msg_per_s")
            if not peak:
                results["latency"][name] = {"skipped": f"no peak measured for {key}"}
                continue
            rate = max(peak * LATENCY_LOAD, 1.0)
            results["latency"][name] = _section(
                results,
                f"latency_{name}",
                lambda fn=fn, rate=rate: _run(lambda: fn(env, rate, mode.latency_seconds)),  # type: ignore[misc]
            )
            results["latency"][name]["load_share_of_peak"] = LATENCY_LOAD
        if workers.posting_available() is None:
            n = mode.overhead_messages
            results["metrics_overhead"] = _section(
                results,
                "metrics_overhead",
                lambda: _run(lambda: overhead.metrics_overhead(env, n, n, mode.overhead_rounds)),
            )
        results["report"] = _section(
            results,
            "report",
            lambda: report.report(env, report.ROWS[mode.name], report.REPEATS[mode.name]),
        )
    finally:
        close_env(env)
    results["targets"] = targets(results)
    results["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return results


def targets(results: dict[str, Any]) -> dict[str, Any]:
    w = results.get("workers", {})
    lat = results.get("latency", {})

    def check(value: float | None, limit: float, above: bool) -> dict[str, Any]:
        met = None if value is None else (value >= limit if above else value < limit)
        return {"value": value, "target": limit, "met": met}

    out = {
        "formatter_ratio": check(
            w.get("formatter", {}).get("ratio_to_ceiling"), TARGETS["formatter_ratio"], True
        ),
        "posting_sqlite_ratio": check(
            w.get("posting_sqlite", {}).get("ratio_to_ceiling"), TARGETS["posting_sqlite_ratio"], True
        ),
        "posting_postgres_ratio": check(
            w.get("posting_postgres", {}).get("ratio_to_ceiling"), TARGETS["posting_postgres_ratio"], True
        ),
    }
    x12 = w.get("clearinghouse", {})
    fmt = w.get("formatter", {}).get("msg_per_s")
    claims_out = fmt * x12["claims_per_charge"] if fmt and x12.get("claims_per_charge") else None
    out["clearinghouse_keeps_up"] = check(
        None if not claims_out or x12.get("msg_per_s") is None else round(x12["msg_per_s"] / claims_out, 2),
        TARGETS["clearinghouse_to_formatter"],
        True,
    )
    for name in ("formatter", "posting"):
        out[f"{name}_p99_ms"] = check(lat.get(name, {}).get("p99_ms"), TARGETS["p99_ms"], False)
    for name in ("formatter", "posting_sqlite"):
        growth = w.get(name, {}).get("memory", {}).get("growth_pct")
        out[f"{name}_rss_growth_pct"] = check(growth, TARGETS["rss_growth_pct"], False)
        cost = results.get("metrics_overhead", {}).get(name, {}).get("overhead_pct")
        out[f"{name}_metrics_overhead_pct"] = check(cost, METRICS_OVERHEAD_PCT, False)
    rung = results.get("report")
    if rung is not None:
        for db in ("sqlite", "postgresql"):
            figures = rung.get(db)
            if isinstance(figures, dict):
                out[f"report_{db}_p95_ms"] = check(
                    figures.get("worst_p95_ms"), TARGETS["report_p95_ms"], False
                )
    return out


def run_report(mode: Mode, rows: int | None, databases: tuple[str, ...]) -> dict[str, Any]:
    """`--report`: the report rung alone (no broker), at the mode's scale or `rows`."""
    results: dict[str, Any] = {
        "mode": f"report-{mode.name}",
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, "-m", "bench", *sys.argv[1:]]),
        "machine": machine(),
        "targets": {},
    }
    env = report.standalone_env()
    try:
        results["report"] = _section(
            results,
            "report",
            lambda: report.report(env, rows or report.ROWS[mode.name], report.REPEATS[mode.name], databases),
        )
    finally:
        if env.postgres is not None:
            env.postgres.stop()
    results["targets"] = {k: v for k, v in targets(results).items() if k.startswith("report_")}
    results["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return results


def write(results: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = results["started_at"].replace(":", "").replace("-", "").replace("+0000", "Z")
    path = RESULTS / f"{stamp}-{results['mode']}.json"
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    shutil.copyfile(path, RESULTS / "latest.json")
    return path


def _fmt(value: Any, suffix: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3f}{suffix}" if value < 10 else f"{value:,.0f}{suffix}"
    return f"{value:,}{suffix}" if isinstance(value, int) else f"{value}{suffix}"


def show_report(rung: dict[str, Any]) -> None:
    """The report rung's table: p50/p95/max per question per database against the target."""
    if "error" in rung:
        console.print(f"[red]report: {rung['error']}[/red]")
        return
    table = Table(
        title=f"Failed Charges report at {rung['rows']:,} failures over {rung['companies']} companies "
        f"(ms per request through the API; target p95 < {rung['target_p95_ms']:.0f})"
    )
    for col in ("question", "database", "rows found", "p50", "p95", "max", "met"):
        table.add_column(col, justify="left" if col in ("question", "database") else "right")
    for db in ("sqlite", "postgresql"):
        figures = rung.get(db)
        if not isinstance(figures, dict):
            continue
        if "error" in figures:
            table.add_row("-", db, f"[red]{figures['error'][:80]}[/red]")
            continue
        for name, f in figures["queries"].items():
            met = "[green]yes[/green]" if f["met"] else "[red]no[/red]"
            table.add_row(
                name,
                db,
                _fmt(f["rows_found_median"]),
                _fmt(f["p50_ms"]),
                _fmt(f["p95_ms"]),
                _fmt(f["max_ms"]),
                met,
            )
    console.print(table)


def show(results: dict[str, Any]) -> None:
    m = results["machine"]
    console.print(
        f"\n[bold]claimflow bench[/bold] ({results['mode']}) on {m['nproc']} cores, {m['memory_gib']} GiB, "
        f"{m['cpu_model']}; load at start {m['load_avg_at_start']}"
    )
    if "report" in results and "ceiling" not in results:
        show_report(results["report"])
        return
    thr = Table(title="Throughput (messages per second)")
    for col in ("what", "messages", "msg/s", "x ceiling", "peak RSS MB", "RSS growth %"):
        thr.add_column(col, justify="right" if col != "what" else "left")
    c = results.get("ceiling", {})
    py = c.get("python_passthrough", {})
    perf = c.get("kafka_perf", {})
    timed = [r for r in py.get("rounds", []) if r.get("msg_per_s")]
    thr.add_row(
        f"ceiling: aiokafka passthrough, mean of {len(timed)} rounds",
        _fmt(py.get("messages")),
        _fmt(py.get("msg_per_s")) if "error" not in py else f"[red]{py['error'][:60]}[/red]",
        "1.000",
    )
    for when in ("before", "after"):
        side = [_fmt(r.get("msg_per_s")) for r in py.get("rounds", []) if r.get("when") == when]
        thr.add_row(
            f"  rounds {when} the workers: {', '.join(side)}",
            "",
            _fmt(py.get(f"mean_{when}")),
            _fmt(_ratio({"msg_per_s": py.get(f"mean_{when}")}, py.get("msg_per_s"))),
        )
    spread = py.get("spread_pct")
    thr.add_row(
        "  spread of the rounds: (max - min) / mean",
        "",
        f"{_fmt(py.get('min_msg_per_s'))} - {_fmt(py.get('max_msg_per_s'))}",
        "-" if spread is None else f"{spread:.1f}%",
    )
    thr.add_row(
        "broker: ProducerPerformance", _fmt(perf.get("messages")), _fmt(perf.get("producer_msg_per_s"))
    )
    thr.add_row(
        "broker: ConsumerPerformance", _fmt(perf.get("messages")), _fmt(perf.get("consumer_msg_per_s"))
    )
    rungs = results.get("ladder", {})
    for name in ladder.RUNGS:
        r = rungs.get(name, {})
        note = r.get("error") or rungs.get("error")
        thr.add_row(
            "floor: ceiling + " + ladder.LABELS[name],
            _fmt(r.get("messages")),
            _fmt(r.get("msg_per_s")) if not note else f"[red]{str(note)[:60]}[/red]",
            _fmt(r.get("ratio_to_ceiling")),
        )
    for name, w in results.get("workers", {}).items():
        mem = w.get("memory", {})
        note = w.get("error") or w.get("skipped")
        if w.get("postings_per_s") is not None:
            name = f"{name} ({w.get('unit')}; {_fmt(w['postings_per_s'])} postings/s)"
        thr.add_row(
            name,
            _fmt(w.get("messages")),
            _fmt(w.get("msg_per_s")) if not note else f"[red]{note[:60]}[/red]",
            _fmt(w.get("ratio_to_ceiling")),
            _fmt(mem.get("peak_rss_mb")),
            _fmt(mem.get("growth_pct")),
        )
    console.print(thr)
    lat = Table(title=f"Latency at {int(LATENCY_LOAD * 100)}% of peak (publish -> answer)")
    for col in ("worker", "offered/s", "answered", "p50 ms", "p99 ms", "p99.9 ms"):
        lat.add_column(col, justify="right" if col != "worker" else "left")
    for name, row in results.get("latency", {}).items():
        note = row.get("error") or row.get("skipped")
        lat.add_row(
            name,
            _fmt(row.get("offered_per_s")) if not note else f"[red]{note[:60]}[/red]",
            _fmt(row.get("answered")),
            _fmt(row.get("p50_ms")),
            _fmt(row.get("p99_ms")),
            _fmt(row.get("p999_ms")),
        )
    console.print(lat)
    cost = Table(title="Metrics on vs off (two processes side by side, scraped every second)")
    for col in ("worker", "messages", "rounds: on/off CPU per message", "overhead %", "95% CI", "spread %"):
        cost.add_column(col, justify="right" if col != "worker" else "left")
    for name, row in results.get("metrics_overhead", {}).items():
        if not isinstance(row, dict) or name == "instrumentation":
            continue
        note = row.get("error")
        cost.add_row(
            name,
            _fmt(row.get("messages")),
            ", ".join(f"{r:.3f}" for r in row.get("ratios", []))
            if not note
            else f"[red]{str(note)[:60]}[/red]",
            _fmt(row.get("overhead_pct")),
            " to ".join(f"{x:+.1f}" for x in row.get("ci95_pct", [])) or "-",
            _fmt(row.get("spread_pct")),
        )
    console.print(cost)
    tg = Table(title="Targets")
    for col in ("target", "value", "limit", "met"):
        tg.add_column(col)
    for name, t in results.get("targets", {}).items():
        met = {True: "[green]yes[/green]", False: "[red]no[/red]", None: "-"}[t["met"]]
        tg.add_row(name, _fmt(t["value"]), _fmt(t["target"]), met)
    if "report" in results:
        show_report(results["report"])
    console.print(tg)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    for name in MODES:
        group.add_argument(f"--{name}", dest="mode", action="store_const", const=name)
    parser.set_defaults(mode="full")
    parser.add_argument(
        "--report",
        action="store_true",
        help="Only the Failed Charges report rung (no broker), at the mode's scale.",
    )
    parser.add_argument("--report-rows", type=int, help="With --report: this many failures instead.")
    parser.add_argument(
        "--report-db",
        choices=("sqlite", "postgresql", "both"),
        default="both",
        help="With --report: the databases to measure.",
    )
    args = parser.parse_args(argv)
    # aiokafka retries "not leader" by itself while a just-created topic elects its leaders;
    # its warnings would bury the tables.
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    if args.report:
        databases = ("sqlite", "postgresql") if args.report_db == "both" else (args.report_db,)
        results = run_report(MODES[args.mode], args.report_rows, databases)
    else:
        results = run(MODES[args.mode])
    path = write(results)
    show(results)
    console.print(f"results: {path} (and {RESULTS / 'latest.json'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
