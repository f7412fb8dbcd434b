"""What metrics cost: two processes of a worker at once, one with metrics and one without.

"On" is the worker serving `/metrics` (histograms observed per batch, counters read from
the progress line's counters at scrape time) with the bench scraping it every second, 15
times Prometheus's default rate. "Off" is the same worker with `CLAIMFLOW_METRICS_PORT=0`.
Each round starts both at once, on their own copies of the same input, and compares their
CPU per message over the span both are working: a CPU-bound worker's throughput is the
inverse of it. Running them side by side rather than one after the other is what makes the
figure steadier. On this machine the CPU per message of one setting moved by up to 50%
between consecutive runs (a virtual machine's CPU time includes what its host takes), far
more than the 3% being checked; two processes running at the same moment share whatever
the host does. Rounds alternate which process starts first; the figure is the geometric
mean of the rounds' ratios, with a 95% interval and the spread of the rounds beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import statistics
import timeit
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench import data
from bench.common import BenchEnv, GroupWatch, WorkerProcess, close_env, produce, start_env, start_worker
from bench.scrape import Scrapes, scrape_metrics, scrape_once
from claimflow.broker import create_topics
from contracts.topics import CHARGES, POSTINGS
from devtools.testing.ports import free_port
from workers.common.health import PORT_OFFSETS


def instrumentation_cost() -> dict[str, float]:
    """What the instrumentation itself costs, timed in this process: it does not move with
    the machine's load the way two runs of a worker do.

    Per batch: the two histogram observations. Per scrape: rendering a formatter's metrics.
    Per message of a batch without trace headers: the batch loop's check and a handler's
    `carried` for one answer.
    """
    from prometheus_client import REGISTRY, generate_latest
    from sqlalchemy import create_engine

    from claimflow.settings import Settings
    from workers.common import metrics, tracing
    from workers.common.batch import BatchRunner
    from workers.common.consumer import BatchConsumer
    from workers.common.messages import Outgoing, Received

    class _Handler:
        name = "bench-cost"
        models: tuple[type[Any], ...] = ()
        rule_failures = Counter({f"RULE_{i}": i for i in range(30)})

        def handle(self, conn: Any, batch: Any) -> list[Outgoing]:
            return []

    async def _publish(out: Any) -> None:
        return None

    runner: BatchRunner[Any] = BatchRunner(_Handler(), create_engine("sqlite://"), _publish)
    runner.stats.published.update(
        {"billing.claims": 10, "billing.charge-failures": 5, "billing.dead-letter": 1}
    )
    runner.stats.dead_letters.update({"invalid": 1, "not_json": 2})
    consumer = BatchConsumer(Settings(), "g", {"billing.charges": runner}, max_batch=10)
    metrics.instrument("bench-cost", {"billing.charges": runner}, consumer)
    observed = runner.metrics
    assert observed is not None
    try:
        n = 20_000

        def observe() -> None:
            observed.batch(2000, 0.2)
            observed.transaction(0.1)

        batch_us = timeit.timeit(observe, number=n)
        scrape_ms = timeit.timeit(lambda: generate_latest(REGISTRY), number=100) * 10
        batch = [Received("billing.charges", 0, i, b"k", b"{}") for i in range(2000)]
        untraced = timeit.timeit(lambda: tracing.start_batch("x", batch), number=200) / 200
        carried = timeit.timeit(lambda: [tracing.carried(r) for r in batch], number=200) / 200
    finally:
        metrics.COLLECTOR.watched.pop("bench-cost", None)
    return {
        "histograms_us_per_batch": round(batch_us / n * 1e6, 2),
        "scrape_ms": round(scrape_ms, 2),
        "untraced_us_per_msg": round((untraced + carried) / 2000 * 1e6, 3),
    }


@dataclass
class _Side:
    """One of the two processes of a side-by-side round: its topic, group and process."""

    metrics: bool
    prefix: str
    topic: str
    proc: WorkerProcess
    port: int
    scrapes: Scrapes = field(default_factory=Scrapes)


async def _prepare(env: BenchEnv, worker: str, n: int, metrics: bool) -> tuple[str, str, str, list[Any]]:
    """One side's fresh prefix, topics and database, and its input, not yet produced:
    (prefix, input topic, database url, messages)."""
    prefix = env.prefix(f"ovh{worker[:3]}{int(metrics)}")
    create_topics(env.bootstrap, prefix)
    url = env.sqlite_url(f"{worker}-metrics-{'on' if metrics else 'off'}")
    if worker == "formatter":
        return prefix, CHARGES, url, list(data.charge_messages(n))
    await asyncio.to_thread(data.seed_bills, url, data.cycles_for(n))
    return prefix, POSTINGS, url, list(data.posting_messages(n))


async def side_by_side(env: BenchEnv, worker: str, n: int, on_first: bool) -> dict[str, Any]:
    """Two processes of `worker` at once, each on its own copy of the same input: one with
    metrics served and scraped every second, one without. Returns each one's CPU per
    message over the span both were working on it.

    Both are started, and both groups have their partitions, before either input is
    produced (both at once); the span ends when the first of them has committed its last
    message. Neither runs alone, or beside the other's start-up, inside the span.
    """
    order = (True, False) if on_first else (False, True)
    prepared = [(metrics, *await _prepare(env, worker, n, metrics)) for metrics in order]
    sides: list[_Side] = []
    for metrics, prefix, topic, url, _ in prepared:
        port = free_port()
        settings = {"CLAIMFLOW_METRICS_PORT": str(port - PORT_OFFSETS[worker])} if metrics else {}
        label = f"{worker}-metrics-{'on' if metrics else 'off'}"
        proc = start_worker(env, worker, prefix, url, label, **settings)
        sides.append(_Side(metrics, prefix, topic, proc, port))
    scrapers = [asyncio.ensure_future(scrape_metrics(s.port, s.scrapes)) for s in sides if s.metrics]
    try:
        async with contextlib.AsyncExitStack() as stack:
            watches = [
                await stack.enter_async_context(
                    GroupWatch(env.bootstrap, f"{s.prefix}claimflow-{worker}", s.prefix + s.topic)
                )
                for s in sides
            ]
            pairs = list(zip(sides, watches, strict=True))
            await asyncio.gather(*(w.wait_stable(timeout=120, proc=s.proc) for s, w in pairs))
            start = [(s.proc.cpu_seconds(), 0) for s in sides]
            feeding = asyncio.gather(
                *(
                    produce(env.bootstrap, s.prefix + s.topic, p[-1])
                    for s, p in zip(sides, prepared, strict=True)
                )
            )
            while True:
                await asyncio.sleep(0.25)
                if not all(s.proc.alive() for s in sides):
                    raise RuntimeError(f"{worker} exited mid-run; see {sides[0].proc.log_path}")
                end = [(s.proc.cpu_seconds(), await w.committed()) for s, w in pairs]
                if any(done >= n for _, done in end):
                    break
            await feeding
    finally:
        for scraper in scrapers:
            scraper.cancel()
        for s in sides:
            if s.metrics:
                # A round shorter than the interval is still scraped, as a live worker would be.
                await scrape_once(s.port, s.scrapes)
        for s in sides:
            await asyncio.to_thread(s.proc.stop)
    out: dict[str, Any] = {}
    for side, (cpu0, _), (cpu1, done) in zip(sides, start, end, strict=True):
        if cpu0 is None or cpu1 is None or done == 0:
            raise RuntimeError(f"{worker}: no CPU time or no progress measured; see {side.proc.log_path}")
        key = "on" if side.metrics else "off"
        out[f"{key}_cpu_us_per_msg"] = round((cpu1 - cpu0) * 1e6 / done, 1)
        out[f"{key}_messages"] = done
        if side.metrics:
            out["scrapes"] = side.scrapes.count
    out["ratio"] = round(out["on_cpu_us_per_msg"] / out["off_cpu_us_per_msg"], 4)
    return out


def summarize(ratios: list[float]) -> dict[str, Any]:
    """The cost from the rounds' ratios (on over off): their geometric mean, so a round
    with metrics started first and one with them started second weigh the same, and a 95%
    confidence interval from the spread of the rounds (Student's t on the log ratios)."""
    logs = [math.log(r) for r in ratios]
    mean = statistics.fmean(logs)
    out: dict[str, Any] = {
        "overhead_pct": round((math.exp(mean) - 1) * 100, 2),
        "spread_pct": round((max(ratios) - min(ratios)) * 100, 2),
    }
    if len(logs) > 1:
        half = T_975.get(len(logs) - 1, 2.0) * statistics.stdev(logs) / math.sqrt(len(logs))
        out["ci95_pct"] = [
            round((math.exp(mean - half) - 1) * 100, 2),
            round((math.exp(mean + half) - 1) * 100, 2),
        ]
    return out


#: Student's t, two-sided 95%, by degrees of freedom.
T_975 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26, 10: 2.23, 11: 2.20}


async def metrics_overhead(env: BenchEnv, formatter_n: int, posting_n: int, rounds: int) -> dict[str, Any]:
    out: dict[str, Any] = {"rounds": rounds, "instrumentation": instrumentation_cost()}
    measured = (("formatter", "formatter", formatter_n), ("posting_sqlite", "posting", posting_n))
    for name, worker, n in measured:
        # Which process starts first alternates (on, off, off, on, ...): starting first
        # moved one process's CPU per message by several percent.
        runs = [await side_by_side(env, worker, n, on_first=r % 4 in (0, 3)) for r in range(rounds)]
        out[name] = {"messages": n, "rounds": runs, "ratios": [r["ratio"] for r in runs]}
        out[name].update(summarize(out[name]["ratios"]))
    return out


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.overhead [--messages N] [--rounds R]`: this section alone, on SQLite."""
    parser = argparse.ArgumentParser(prog="python -m bench.overhead", description=main.__doc__)
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args(argv)
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    env = start_env(with_postgres=False)
    try:
        result = asyncio.run(metrics_overhead(env, args.messages, args.messages, args.rounds))
    finally:
        close_env(env)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
