"""What metrics cost: each worker on the same data with metrics off and on, alternating.

"On" is the worker serving `/metrics` (histograms observed per batch, counters read from
the progress line's counters at scrape time) with the bench scraping it every second, 15
times Prometheus's default rate. Runs alternate off/on, then on/off, so a drift of the
machine (another process, the page cache, the broker's log growing) falls on both sides.
The figure is the worker's CPU per message, median on over median off: a CPU-bound worker's
throughput is the inverse of it, and unlike wall-clock throughput it barely moves with what
else the machine runs (throughput on a loaded 2-core machine moved by 25% between two runs
of the same code, far more than the 3% being checked). The throughput medians are kept too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import timeit
from collections import Counter
from typing import Any

from bench import workers
from bench.common import BenchEnv, close_env, start_env


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


async def metrics_overhead(env: BenchEnv, formatter_n: int, posting_n: int, rounds: int) -> dict[str, Any]:
    out: dict[str, Any] = {"rounds": rounds, "instrumentation": instrumentation_cost()}
    for name, n in (("formatter", formatter_n), ("posting_sqlite", posting_n)):
        rates: dict[str, list[float]] = {"off": [], "on": []}
        cpu: dict[str, list[float]] = {"off": [], "on": []}
        scrapes: list[Any] = []
        for r in range(rounds):
            for metrics in (False, True) if r % 2 == 0 else (True, False):
                if name == "formatter":
                    result = await workers.formatter(env, n, metrics=metrics)
                else:
                    result = await workers.posting(env, n, "sqlite", metrics=metrics)
                rates["on" if metrics else "off"].append(result["msg_per_s"])
                cpu["on" if metrics else "off"].append(result["cpu_us_per_msg"])
                if metrics:
                    scrapes.append(result.get("metrics_scrapes"))
        off, on = statistics.median(rates["off"]), statistics.median(rates["on"])
        cpu_off, cpu_on = statistics.median(cpu["off"]), statistics.median(cpu["on"])
        out[name] = {
            "messages": n,
            "off_msg_per_s": rates["off"],
            "on_msg_per_s": rates["on"],
            "median_off": round(off, 1),
            "median_on": round(on, 1),
            "throughput_cost_pct": round((1 - on / off) * 100, 2),
            "median_off_cpu_us_per_msg": round(cpu_off, 1),
            "median_on_cpu_us_per_msg": round(cpu_on, 1),
            "off_cpu_us_per_msg": cpu["off"],
            "on_cpu_us_per_msg": cpu["on"],
            # CPU per message, not wall-clock throughput, is the figure: on a shared machine
            # the throughput of two runs of the same code moves by more than the 3% it checks.
            "overhead_pct": round((cpu_on / cpu_off - 1) * 100, 2),
            "scrapes": scrapes,
        }
    return out


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.overhead [--messages N] [--rounds R]`: this section alone, on SQLite."""
    parser = argparse.ArgumentParser(prog="python -m bench.overhead", description=main.__doc__)
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
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
