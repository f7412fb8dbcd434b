"""A progress line per worker, every few seconds: what it did, and how far behind it is."""

from __future__ import annotations

import faust

from claimflow.logs import get_logger
from workers.common.batch import Stats
from workers.common.consumer import BatchConsumer


def report_progress(
    app: faust.App, worker: str, stats: Stats, consumer: BatchConsumer, interval: float = 10.0
) -> None:
    log = get_logger(f"claimflow.{worker}")

    @app.timer(interval=interval, name=f"{worker}-progress")
    async def progress() -> None:
        log.info("progress", worker=worker, lag=consumer.lag(), **stats.summary())
