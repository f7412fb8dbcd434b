"""Deliver: publish prepared batches' answers, one fetch after another, until the broker has them.

`deliver` publishes one runner's prepared batch and waits until the broker has every answer
(acks=all), retrying the publish until it does: answers are idempotent by key, so sending
them again is safe, and dropping them is not. Then it counts the batch as done.

`InOrder` chains the fetches: a fetch's answers (each topic's batch in route order) are
published only after the previous fetch's are delivered, so a publish retried through a
broker outage never lets a later answer overtake an earlier one. The delivery runs in a
task of its own, so that it can overlap the next fetch's database transaction.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from claimflow.logs import get_logger
from workers.common import tracing
from workers.common.deadletter import error_kind
from workers.common.messages import Outgoing
from workers.common.prepare import Prepared

if TYPE_CHECKING:
    from workers.common.batch import BatchRunner

log = get_logger("claimflow.batch")

#: One fetch, prepared: each topic's runner with its batch, in route order.
PreparedFetch = Sequence[tuple["BatchRunner[Any]", Prepared]]


async def deliver(runner: BatchRunner[Any], prepared: Prepared) -> None:
    await _publish(runner, prepared.out)
    stats = runner.stats
    stats.received += prepared.received
    stats.batches += 1
    stats.last_batch_ms = (time.perf_counter() - prepared.started) * 1000
    if runner.metrics is not None:
        runner.metrics.batch(prepared.received, stats.last_batch_ms / 1000)
    tracing.end(prepared.spans)


async def _publish(runner: BatchRunner[Any], out: list[Outgoing]) -> None:
    if not out:
        return
    delay = runner.retry_delay
    while True:
        try:
            await runner.publish(out)
            break
        except Exception as exc:
            log.error("publish_failed", worker=runner.handler.name, error=type(exc).__name__, retry_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, runner.max_retry_delay)
    sent = Counter(o.topic for o in out)
    runner.stats.published.update(sent)
    topic = runner.dead_letter_topic
    if sent[topic]:
        runner.stats.dead_letters.update(error_kind(o) for o in out if o.topic == topic)


class InOrder:
    """Delivers fetches strictly one after another, each in a task of its own."""

    def __init__(self) -> None:
        self._last: asyncio.Future[None] | None = None

    async def submit(self, fetch: PreparedFetch) -> asyncio.Future[None]:
        """Wait until the previous fetch is delivered, then start delivering `fetch`.

        Raises what delivering the previous fetch raised. The future returned is done once
        the broker has every answer of `fetch`.
        """
        await self.join()
        self._last = asyncio.ensure_future(_deliver_all(fetch))
        return self._last

    async def join(self) -> None:
        """Wait until the last fetch submitted is delivered (raises what that raised)."""
        task, self._last = self._last, None
        if task is not None:
            # Shielded: whoever waits may be cancelled, the delivery itself never is.
            await asyncio.shield(task)

    def forget(self) -> None:
        """Drop the last delivery without waiting: its commit waits for it instead."""
        self._last = None


async def _deliver_all(fetch: PreparedFetch) -> None:
    for runner, prepared in fetch:
        await runner.deliver(prepared)
