"""The hot path: an aiokafka `getmany` loop, run as a service inside the worker's faust app.

faust's per-event machinery (one Event, one ack, one stream step per message) cost more
than the work itself (docs/PERFORMANCE.md), and its offset commits run on their own timer,
so a graceful stop could commit before the batch in hand was acked, or not at all. This
loop reads whole fetches, hands each topic's records to its BatchRunner (decode, one
transaction, publish, wait for delivery) and only then commits the offsets after them.
faust still runs the app: its producer, timers, signals and logging.

Under a backlog (a full fetch), a batch is settled (its answers delivered, then its
offsets committed) while the next one is prepared (decoded and committed to the
database): the broker's round trips overlap the next transaction instead of adding to it.
Caught up, the loop waits for the delivery before it reads on, which keeps the latency
tail lower; the offset commit still trails. Deliveries are strictly one batch after
another, so answers leave in the order their batches were read; commits too, each after
its own batch's delivery, but no answer waits for a commit. At most two batches are in
the database and not yet delivered: the one being delivered and the one prepared behind it.

Guarantees (tested in tests/faults):
- at least once: offsets are committed only after the batch's answers are delivered; a
  crash anywhere before it replays the batch (and the one prepared behind it), which the
  handlers recognise by key and answer from what they stored;
- in order: a batch's answers are published only after the previous batch's are
  delivered, so a publish retried during an outage never lets a later answer overtake;
- a graceful stop (SIGTERM) finishes the batch in hand, settles it and commits it before
  leaving the group, so the next owner starts exactly after it;
- a rebalance waits for the batch in hand to be settled (the revoke callback takes the
  same lock), and records of partitions this consumer lost meanwhile are not handled:
  their new owner reads them from the last commit.

Batches close on what is already fetched: `getmany` returns at once when records are
waiting, so at low load a batch is the few records that arrived (low latency) and under
load it fills up to `max_batch` (throughput), with no window to wait out.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata
from mode import Service

from claimflow.broker.security import client_kwargs
from claimflow.logs import get_logger
from claimflow.settings import Settings
from workers.common.batch import BatchRunner, Prepared
from workers.common.messages import Received

log = get_logger("claimflow.consumer")

#: How long an idle `getmany` waits before it looks at the stop flag again.
IDLE_POLL_MS = 200
FETCH_RETRY_SECONDS = 1.0
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
        # Insertion order is processing order within one fetch (posting: claims first, so a
        # posting fetched with the claim that opens its bill finds the bill).
        self.routes = dict(routes)
        self.max_batch = max_batch
        self.consumer: AIOKafkaConsumer | None = None
        self.committed: dict[TopicPartition, int] = {}
        self._lock = asyncio.Lock()
        self._stopping = False
        self._idle = True
        self._failed = False
        self._loop_task: asyncio.Task[None] | None = None
        self._delivering: asyncio.Future[None] | None = None
        self._settling: asyncio.Future[None] | None = None
        # For /livez and /readyz (workers.common.health): when the loop last polled or
        # finished a batch, and whether the group has given this consumer its partitions.
        self.beat = time.monotonic()
        self.joined = False

    async def on_start(self) -> None:
        self.consumer = AIOKafkaConsumer(
            *self.routes,
            bootstrap_servers=self.settings.bootstrap_servers,
            group_id=self.group_id,
            client_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.max_batch,
            # Several fetches in flight keep the next batch ready while this one commits.
            fetch_max_bytes=16 * 1024 * 1024,
            max_partition_fetch_bytes=2 * 1024 * 1024,
            fetch_max_wait_ms=100,
            **self.timeouts,
            **client_kwargs(self.settings),
        )
        self.consumer.subscribe(list(self.routes), listener=_WaitForBatch(self))
        await self.consumer.start()
        self._loop_task = asyncio.ensure_future(self._run())

    async def on_stop(self) -> None:
        self._stopping = True
        for runner in self.routes.values():
            runner.stopping = True
        task = self._loop_task
        if task is not None and not task.done():
            if self._idle:
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
            try:
                fetched = await consumer.getmany(timeout_ms=IDLE_POLL_MS, max_records=self.max_batch)
            except KafkaError as exc:
                # aiokafka retries broker outages itself; what reaches here is worth a line
                # and a pause, not the end of the worker.
                log.error("fetch_failed", group=self.group_id, error=type(exc).__name__)
                await asyncio.sleep(FETCH_RETRY_SECONDS)
                continue
            self.beat = time.monotonic()
            if not fetched:
                continue
            self._idle = False
            try:
                async with self._lock:
                    await self._handle(consumer, fetched)
            finally:
                self._idle = True
            self.beat = time.monotonic()

    async def _handle(self, consumer: AIOKafkaConsumer, fetched: Mapping[TopicPartition, list[Any]]) -> None:
        # A rebalance may have taken partitions between the fetch and the lock: their new
        # owner reads those records from the last commit, so handling them here would only
        # duplicate work.
        owned = consumer.assignment()
        by_topic: dict[str, list[Received]] = defaultdict(list)
        offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        for tp, records in fetched.items():
            if tp not in owned or not records:
                continue
            by_topic[tp.topic].extend(_received(r) for r in records)
            offsets[tp] = OffsetAndMetadata(records[-1].offset + 1, "")
        prepared: list[tuple[BatchRunner[Any], Prepared]] = []
        for topic, runner in self.routes.items():
            if by_topic.get(topic):
                # Shielded: a cancellation must not cut a transaction short; the batch is
                # then settled by whoever calls settle() (the stop, the rebalance).
                prepared.append((runner, await asyncio.shield(runner.prepare(by_topic[topic]))))
        # The previous batch's answers go out first, then these, in a task of their own so
        # that their delivery overlaps the next batch's transaction. The offset commit
        # follows the delivery and the previous commit, but nothing waits for it but the
        # next commit: it is not on the way of any answer.
        await self._delivered()
        delivering = asyncio.ensure_future(self._deliver(prepared))
        self._delivering = delivering
        committing = self._commit_after(delivering, self._settling, consumer, offsets)
        self._settling = asyncio.ensure_future(committing)
        self._settling.add_done_callback(self._settled)
        if sum(len(records) for records in fetched.values()) < self.max_batch:
            # Caught up: the next batch is not waiting yet, and preparing it beside this
            # delivery would only make the two take turns for the interpreter (measured:
            # posting's p99 at 20% load 10-30 ms worse). Overlap only under a backlog.
            await self._delivered()

    async def finish_batch_in_hand(self) -> None:
        """Wait until the batch being handled (if any) is done, delivered and committed."""
        async with self._lock:
            await self.settle()

    async def settle(self) -> None:
        """Wait until the last prepared batch is delivered and its offsets are committed.

        Raises what settling raised; the loop then dies without committing anything later.
        """
        task, self._settling = self._settling, None
        self._delivering = None  # settled implies delivered
        if task is not None:
            await asyncio.shield(task)

    async def _delivered(self) -> None:
        """Wait until the last prepared batch's answers are delivered (raises what that raised)."""
        task, self._delivering = self._delivering, None
        if task is not None:
            await asyncio.shield(task)

    def _settled(self, task: asyncio.Future[None]) -> None:
        # Publishing retries until it succeeds and commit errors are caught, so a failure
        # here is a bug: stop the worker now rather than when the next batch would notice.
        if not task.cancelled() and task.exception() is not None:
            self._fail(task.exception())  # type: ignore[arg-type]

    @staticmethod
    async def _deliver(prepared: list[tuple[BatchRunner[Any], Prepared]]) -> None:
        for runner, batch in prepared:
            await runner.deliver(batch)

    async def _commit_after(
        self,
        delivering: asyncio.Future[None],
        previous: asyncio.Future[None] | None,
        consumer: AIOKafkaConsumer,
        offsets: dict[TopicPartition, OffsetAndMetadata],
    ) -> None:
        # Either one failing raises here, and these offsets (and all later) stay uncommitted.
        await delivering
        if previous is not None:
            await previous
        await self._commit(consumer, offsets)

    async def _commit(
        self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, OffsetAndMetadata]
    ) -> None:
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
            self.committed.update({tp: o.offset for tp, o in offsets.items()})
        except KafkaError as exc:
            # The batch is done and its answers delivered; a lost commit only means it is
            # replayed (and recognised by key) by whoever reads these partitions next. The
            # next successful commit covers these offsets too.
            log.warning("offset_commit_failed", group=self.group_id, error=type(exc).__name__)

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


class _WaitForBatch(ConsumerRebalanceListener):
    """Hold a rebalance until the batch in hand is handled and committed."""

    def __init__(self, owner: BatchConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        await self.owner.finish_batch_in_hand()

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        log.info("partitions_assigned", group=self.owner.group_id, partitions=len(assigned))
        self.owner.joined = True
        consumer = self.owner.consumer
        if consumer is None:
            return
        # Where the group stands on the new partitions, so the progress line's lag is right
        # before this consumer's first commit (not the whole log of a restarted worker).
        for tp in assigned:
            try:
                offset = await consumer.committed(tp)
            except KafkaError:
                continue
            if offset is not None:
                self.owner.committed[tp] = offset


def _received(record: Any) -> Received:
    return Received(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value,
        headers=tuple(record.headers or ()),
    )
