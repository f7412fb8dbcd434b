"""Each worker's throughput on a preloaded topic, in its own process, as production runs it.

One function per worker. Each preloads its input topic (not timed), starts
`python -m claimflow worker NAME`, and times from the moment the worker's consumer group
has its partitions to the CreateTime of the last answer the worker published. The bench
learns "done" from the group's committed offsets, so it never reads the answers while the
worker runs (that would take CPU from the worker on a 2-core machine); they are counted
afterwards.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench import data
from bench.common import BenchEnv, GroupWatch, output_span, produce, start_worker
from bench.memory import RssSeries
from contracts.topics import CHARGE_FAILURES, CHARGES, CLAIMS, DEAD_LETTER, POSTING_RESULTS, POSTINGS


async def _measure(
    env: BenchEnv,
    worker: str,
    prefix: str,
    database_url: str,
    input_topic: str,
    outputs: list[str],
    n: int,
    label: str,
    timeout: float,
    processes: int = 1,
) -> dict[str, Any]:
    # Metrics are off here (bench/overhead.py measures what they cost).
    procs = [
        start_worker(env, worker, prefix, database_url, label if i == 0 else f"{label}-{i + 1}")
        for i in range(processes)
    ]
    proc = procs[0]
    series = RssSeries()
    try:
        async with GroupWatch(env.bootstrap, f"{prefix}claimflow-{worker}", prefix + input_topic) as watch:
            # Every member in the group before the clock starts: a late joiner's rebalance
            # would be measured as the first member's work.
            started = await watch.wait_stable(timeout=120, proc=proc, members=processes)
            cpu_at_start = proc.cpu_seconds()
            deadline = time.monotonic() + timeout
            done = 0
            while done < n:
                if not all(p.alive() for p in procs):
                    raise RuntimeError(f"{worker} exited mid-run; see {proc.log_path}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{worker} did {done}/{n} in {timeout:.0f}s; see {proc.log_path}")
                await asyncio.sleep(0.5)
                done = await watch.committed()
                series.add(time.time() - started, done, proc.rss_kb())
            cpu_at_end = proc.cpu_seconds()
    finally:
        for p in procs:
            await asyncio.to_thread(p.stop)
    span = await output_span(env.bootstrap, [prefix + t for t in outputs])
    if span.last_ms is None:
        raise RuntimeError(f"{worker} published nothing; see {proc.log_path}")
    seconds = span.last_ms / 1000 - started
    return {
        "messages": n,
        "outputs": span.count,
        "seconds": round(seconds, 3),
        "msg_per_s": round(n / seconds, 1),
        "first_output_after_s": round((span.first_ms or span.last_ms) / 1000 - started, 3),
        "database": database_url.split(":", 1)[0],
        "processes": processes,
        # With several processes, the memory figures are the first process's.
        "memory": series.summary(n),
        "log": str(proc.log_path),
        # The first process's CPU while it worked (to within a 0.5 s poll), per message.
        "cpu_us_per_msg": (
            round((cpu_at_end - cpu_at_start) * 1e6 / n * processes, 1)
            if cpu_at_start is not None and cpu_at_end is not None
            else None
        ),
    }


async def formatter(env: BenchEnv, n: int, timeout: float = 3600, processes: int = 1) -> dict[str, Any]:
    """Charges in, claims and charge failures out, on SQLite (the formatter's default store).

    `processes` > 1 runs that many formatters in one consumer group on one SQLite file.
    """
    prefix = env.prefix(f"fmt{processes}")
    _create_topics(env, prefix)
    await produce(env.bootstrap, prefix + CHARGES, data.charge_messages(n))
    return await _measure(
        env,
        "formatter",
        prefix,
        env.sqlite_url("formatter"),
        CHARGES,
        [CLAIMS, CHARGE_FAILURES, DEAD_LETTER],
        n,
        f"formatter-{processes}" if processes > 1 else "formatter",
        timeout,
        processes,
    )


async def posting(
    env: BenchEnv, n: int, database: str, timeout: float = 3600, processes: int = 1
) -> dict[str, Any]:
    """Postings in, posting results out, every posting committed; bills opened beforehand.

    `processes` > 1 runs that many posting workers in one consumer group (scale-out).
    """
    prefix = env.prefix(f"pst{database[:2]}{processes}")
    _create_topics(env, prefix)
    url = env.sqlite_url("posting") if database == "sqlite" else env.postgres_url("posting")
    seeded = await asyncio.to_thread(data.seed_bills, url, data.cycles_for(n))
    await produce(env.bootstrap, prefix + POSTINGS, data.posting_messages(n))
    result = await _measure(
        env,
        "posting",
        prefix,
        url,
        POSTINGS,
        [POSTING_RESULTS, DEAD_LETTER],
        n,
        f"posting-{database}",
        timeout,
        processes,
    )
    result["bills_seeded"] = seeded
    return result


async def clearinghouse(env: BenchEnv, n: int, timeout: float = 3600) -> dict[str, Any]:
    """Claims in, 837P files out (to the outbox, not a topic), on SQLite.

    The worker publishes nothing, so its end is the newest file's modification time once the
    group has committed every claim.
    """
    prefix = env.prefix("x12")
    _create_topics(env, prefix)
    await produce(env.bootstrap, prefix + CLAIMS, data.claim_messages(n))
    proc = start_worker(env, "clearinghouse", prefix, env.sqlite_url("clearinghouse"), "clearinghouse")
    outbox = env.run_dir / "home" / "x12" / "outbox"
    series = RssSeries()
    try:
        async with GroupWatch(env.bootstrap, f"{prefix}claimflow-clearinghouse", prefix + CLAIMS) as watch:
            started = await watch.wait_stable(timeout=120, proc=proc, members=1)
            deadline = time.monotonic() + timeout
            done = 0
            while done < n:
                if not proc.alive():
                    raise RuntimeError(f"clearinghouse exited mid-run; see {proc.log_path}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"clearinghouse did {done}/{n} in {timeout:.0f}s; see {proc.log_path}")
                await asyncio.sleep(0.5)
                done = await watch.committed()
                series.add(time.time() - started, done, proc.rss_kb())
    finally:
        await asyncio.to_thread(proc.stop)
    files = [p for p in outbox.iterdir() if not p.name.startswith(".")] if outbox.is_dir() else []
    if not files:
        raise RuntimeError(f"clearinghouse wrote no file; see {proc.log_path}")
    seconds = max(p.stat().st_mtime for p in files) - started
    return {
        "messages": n,
        "outputs": len(files),
        "seconds": round(seconds, 3),
        "msg_per_s": round(n / seconds, 1),
        # The formatter makes this many claims of each charge it reads (failures included).
        "claims_per_charge": round(len(data.claims_for_cycle(0)) / len(data.charge_template()), 4),
        "database": "sqlite",
        "processes": 1,
        "memory": series.summary(n),
        "log": str(proc.log_path),
    }


def posting_available() -> str | None:
    """None if `claimflow worker posting` can be built here, else why not."""
    try:
        from workers.posting.worker import build  # noqa: F401
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _create_topics(env: BenchEnv, prefix: str) -> None:
    from claimflow.broker import create_topics

    create_topics(env.bootstrap, prefix)
