"""The hot path: an aiokafka `getmany` loop, run as a service inside the worker's faust app.

faust's per-event machinery (one Event, one ack, one stream step per message) cost more
than the work itself (docs/PERFORMANCE.md), and its offset commits run on their own timer,
so a graceful stop could commit before the batch in hand was acked, or not at all. This
loop chains small steps, each in a module of its own (Sentry's arroyo strategies are the
model):

    fetch and route (fetch.py) -> prepare each topic's batch (prepare.py, via BatchRunner)
    -> deliver its answers, in order (deliver.py) -> commit its offsets (commit.py)

Under a backlog (a full fetch), a fetch is delivered and committed while the next one is
prepared: the broker's round trips overlap the next transaction instead of adding to it.
Caught up, the loop waits for the delivery before it reads on, which keeps the latency tail
lower; the offset commit still trails. So at most two fetches are in the database and not
yet delivered: the one being delivered and the one prepared behind it.

Guarantees (tested in tests/faults):
- at least once: offsets are committed only after the batch's answers are delivered; a
  crash anywhere before it replays the batch (and the one prepared behind it), which the
  handlers recognise by key and answer from what they stored;
- in order: a batch's answers are published only after the previous batch's are delivered;
- a graceful stop (SIGTERM) finishes the batch in hand, settles it and commits it before
  leaving the group, so the next owner starts exactly after it;
- a rebalance waits for the batch in hand to be settled (rebalance.py), and records of
  partitions this consumer lost meanwhile are not handled;
- a failure (the policy's `StopConsuming`, a bug) stops the worker without committing the
  batch it hit or anything after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from mode import Service

from claimflow.logs import get_logger
from claimflow.settings import Settings
from workers.common.batch import BatchRunner
from workers.common.commit import CommitAfterDelivery
from workers.common.deliver import InOrder
from workers.common.fetch import Fetched, fetch, open_consumer, route
from workers.common.rebalance import WaitForBatch

log = get_logger("claimflow.consumer")

#: Exit code of a worker whose consumer loop failed (EX_SOFTWARE): restart it.
EXIT_LOOP_FAILED = 70


def _terminate_self() -> None:
    # SIGTERM runs faust's orderly shutdown (the producer flushes, the group is left).
    os.kill(os.getpid(), signal.SIGTERM)


class BatchConsumer(Service):
    """Reads `routes`' topics as one consumer group and drives each topic's BatchRunner."""

    #: Why the loop of this process died, if it did (`claimflow worker` exits non-zero).
    fatal: ClassVar[BaseException | None] = None

    def __init__(
        self,
        settings: Settings,
        group_id: str,
        routes: Mapping[str, BatchRunner[Any]],
        *,
        max_batch: int,
        timeouts: Mapping[str, int] | None = None,
        on_fatal: Callable[[], None] = _terminate_self,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.timeouts = dict(timeouts or {})
        self.on_fatal = on_fatal
        self.settings = settings
        self.group_id = group_id
        # Insertion order is processing order within one fetch (see fetch.route).
        self.routes = dict(routes)
        self.max_batch = max_batch
        self.consumer: AIOKafkaConsumer | None = None
        self.committed: dict[TopicPartition, int] = {}
        self.deliveries = InOrder()
        self.commits = CommitAfterDelivery(group_id, self.committed, on_failure=self._fail)
        # Held while a fetch is prepared and handed on, and by a revoke (rebalance.py).
        self._lock = asyncio.Lock()
        self._stopping = False
        # True from a fetch with records until it is handed on: a stop then lets the loop
        # finish it, where a loop waiting in getmany is simply cancelled.
        self._batch_in_hand = False
        self._failed = False
        self._loop_task: asyncio.Task[None] | None = None
        # For /livez and /readyz (workers.common.health): when the loop last polled or
        # finished a batch, and whether the group has given this consumer its partitions.
        self.beat = time.monotonic()
        self.joined = False

    async def on_start(self) -> None:
        self.consumer = open_consumer(
            self.settings, self.group_id, self.routes, self.max_batch, self.timeouts
        )
        self.consumer.subscribe(list(self.routes), listener=WaitForBatch(self))
        await self.consumer.start()
        self._loop_task = asyncio.ensure_future(self._run())

    async def on_stop(self) -> None:
        self._stopping = True
        for runner in self.routes.values():
            runner.stopping = True
        task = self._loop_task
        if task is not None and not task.done():
            if not self._batch_in_hand:
                task.cancel()  # waiting in getmany: nothing in hand to finish
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # A failed settle was reported by _fail; its offsets and all later stay uncommitted.
        with contextlib.suppress(Exception):
            await self.settle()
        if self.consumer is not None:
            # Leaves the group at once, so the partitions move now, not after a session timeout.
            await self.consumer.stop()

    async def _run(self) -> None:
        try:
            await self._consume()
        except Exception as exc:
            self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        # A dead loop in a live process would hold the partitions and do nothing (the
        # group still sees heartbeats). Stop the worker instead, with an exit code a
        # supervisor restarts on; the batch in hand was not committed, so it replays.
        if self._failed:
            return
        self._failed = True
        self._stopping = True  # read nothing more; what follows the failure stays uncommitted
        BatchConsumer.fatal = exc
        log.error("consumer_loop_failed", group=self.group_id, error=type(exc).__name__)
        self.on_fatal()

    async def _consume(self) -> None:
        consumer = self.consumer
        assert consumer is not None
        while not self._stopping:
            fetched = await fetch(consumer, self.group_id, self.max_batch)
            if fetched is None:
                continue
            self.beat = time.monotonic()
            if not fetched:
                continue
            self._batch_in_hand = True
            try:
                async with self._lock:
                    await self._handle(consumer, fetched)
            finally:
                self._batch_in_hand = False
            self.beat = time.monotonic()

    async def _handle(self, consumer: AIOKafkaConsumer, fetched: Fetched) -> None:
        routed = route(fetched, consumer.assignment(), self.routes, self.max_batch)
        # Shielded: a cancellation must not cut a transaction short; the batch is then
        # settled by whoever calls settle() (the stop, the rebalance).
        prepared = [(runner, await asyncio.shield(runner.prepare(batch))) for runner, batch in routed.batches]
        delivered = await self.deliveries.submit(prepared)
        self.commits.submit(consumer, delivered, routed.offsets)
        if not routed.full:
            # Caught up: the next batch is not waiting yet, and preparing it beside this
            # delivery would only make the two take turns for the interpreter (measured:
            # posting's p99 at 20% load 10-30 ms worse). Overlap only under a backlog.
            await self.deliveries.join()

    async def finish_batch_in_hand(self) -> None:
        """Wait until the batch being handled (if any) is done, delivered and committed."""
        async with self._lock:
            await self.settle()

    async def settle(self) -> None:
        """Wait until the last prepared batch is delivered and its offsets are committed.

        Raises what settling raised; the loop then dies without committing anything later.
        """
        self.deliveries.forget()  # its commit waits for it
        await self.commits.join()

    def lag(self) -> int | None:
        """Messages waiting on this consumer's partitions (high watermark - committed)."""
        if self.consumer is None:
            return None
        return sum(self.lag_by_topic().values())

    def lag_by_topic(self) -> dict[str, int]:
        """`lag()` per topic."""
        consumer = self.consumer
        by_topic: dict[str, int] = {}
        if consumer is None:
            return by_topic
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is not None:
                by_topic[tp.topic] = by_topic.get(tp.topic, 0) + max(high - self.committed.get(tp, 0), 0)
        return by_topic
