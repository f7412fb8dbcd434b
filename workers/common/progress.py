"""A progress line per worker, every few seconds: what it did, and how far behind it is."""

from __future__ import annotations

from typing import Any

import faust

from claimflow.logs import get_logger
from workers.common.batch import Stats


def report_progress(app: faust.App, worker: str, stats: Stats, interval: float = 10.0) -> None:
    log = get_logger(f"claimflow.{worker}")

    @app.timer(interval=interval, name=f"{worker}-progress")
    async def progress() -> None:
        log.info("progress", worker=worker, lag=consumer_lag(app), **stats.summary())


def consumer_lag(app: faust.App) -> int | None:
    """Messages waiting on this worker's assigned partitions (highwater - committed)."""
    try:
        consumer: Any = app.consumer
        total = 0
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            committed = consumer._committed_offset.get(tp)
            if high is not None:
                total += max(high - (committed + 1 if committed is not None else 0), 0)
        return total
    except Exception:
        return None
