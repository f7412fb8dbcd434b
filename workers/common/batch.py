"""The batch loop every worker runs: decode, handle in one transaction, publish, then ack.

Guarantees (workers.common.consumer commits a batch's offsets only after `process` returns):
- An exception must never escape `process`: the loop would stop, or a later commit would
  cover the batch, and those messages would never come back. Undecodable input is dead-lettered;
  a database outage is retried until the database returns (consumption pauses, nothing is
  dead-lettered for it); a bug that one message triggers is isolated to that message,
  which is dead-lettered with kind "internal" while the rest of the batch goes through.
- Answers are published only after the database commit, and the batch is acked only after
  they are delivered. A crash in between replays the batch; the handler recognises what it
  already did by business keys and answers the same again. `prepare` (decode, commit) and
  `deliver` (publish) are separate so the consumer can deliver one batch while it prepares
  the next; it still publishes batches in order.
- SIGTERM lets the batch in hand finish (commit, publish) before the worker stops.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from claimflow.db import bound_wal, pace_checkpoints, unit_of_work
from claimflow.logs import get_logger
from contracts.codec import DecodeError, decode
from contracts.topics import DEAD_LETTER
from workers.common import tracing
from workers.common.deadletter import dead_letter, error_kind
from workers.common.messages import Incoming, Outgoing, Received
from workers.common.metrics import BatchMetrics

M = TypeVar("M", bound=BaseModel)
log = get_logger("claimflow.batch")

Publish = Callable[[Sequence[Outgoing]], Awaitable[None]]

#: TEST-ONLY fault hook (tests/faults): when set to N, the process exits abruptly right after
#: the N-th batch's database commit and before its answers are published, which is the one
#: window a SIGKILL hits only by luck. Unset or 0 in production: the hook is off.
_CRASH_AFTER_COMMIT = int(os.environ.get("CLAIMFLOW_FAULT_CRASH_AFTER_COMMIT") or 0)


class BatchHandler(Protocol[M]):
    """A worker's domain step: given decoded messages, change state and say what to answer."""

    name: str
    models: tuple[type[M], ...]

    def handle(self, conn: Connection, batch: Sequence[Incoming[M]]) -> list[Outgoing]: ...


@dataclass
class Stats:
    """What a worker has done, for the progress line an on-call engineer reads."""

    received: int = 0
    dead_lettered: int = 0
    batches: int = 0
    db_retries: int = 0
    published: Counter[str] = field(default_factory=Counter)
    #: Every dead letter published (the loop's and the handler's), by error kind.
    dead_letters: Counter[str] = field(default_factory=Counter)
    last_batch_ms: float = 0.0
    started: float = field(default_factory=time.monotonic)

    def summary(self) -> dict[str, Any]:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        return {
            "received": self.received,
            "per_second": round(self.received / elapsed, 1),
            "dead_lettered": self.dead_lettered,
            "batches": self.batches,
            "db_retries": self.db_retries,
            "last_batch_ms": round(self.last_batch_ms, 1),
            **{f"out.{topic}": n for topic, n in sorted(self.published.items())},
        }


@dataclass(frozen=True)
class Prepared:
    """A batch whose work is committed and whose answers are not yet delivered."""

    received: int
    out: list[Outgoing]
    started: float
    spans: list[Any] = field(default_factory=list)  # tracing: ended once delivered


class BatchRunner(Generic[M]):
    def __init__(
        self,
        handler: BatchHandler[M],
        engine: Engine,
        publish: Publish,
        *,
        topic_prefix: str = "",
        retry_delay: float = 0.5,
        max_retry_delay: float = 10.0,
    ) -> None:
        self.handler = handler
        self.engine = engine
        self.publish = publish
        self.prefix = topic_prefix
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self.stats = Stats()
        self.stopping = False
        self.dead_letter_topic = f"{topic_prefix}{DEAD_LETTER}"
        #: Set by workers.common.metrics.instrument when the worker serves metrics.
        self.metrics: BatchMetrics | None = None
        self._commits = 0  # batches committed, for the test-only crash hook

    async def process(self, batch: Sequence[Received]) -> None:
        """Handle one batch start to finish: prepare it, then deliver its answers."""
        await self.deliver(await self.prepare(batch))

    async def prepare(self, batch: Sequence[Received]) -> Prepared:
        """Decode the batch and commit its work to the database; nothing is published yet.

        The consumer delivers the previous batch's answers meanwhile, and delivers these
        only after those: answers leave in the order their batches were read.
        """
        started = time.perf_counter()
        batch, spans = tracing.start_batch(self.handler.name, batch)
        good: list[Incoming[M]] = []
        out: list[Outgoing] = []
        for received in batch:
            try:
                good.append(Incoming(decode(received.value, *self.handler.models), received))
            except DecodeError as exc:
                out.append(self._dead(received, exc.kind, exc.message))
        if good:
            out[:0] = await self._transact(good)
            self._commits += 1
            if self._commits == _CRASH_AFTER_COMMIT:
                os._exit(86)  # test-only, see _CRASH_AFTER_COMMIT
        return Prepared(len(batch), out, started, spans)

    async def deliver(self, prepared: Prepared) -> None:
        """Publish a prepared batch's answers and wait until the broker has every one."""
        await self._publish(prepared.out)
        self.stats.received += prepared.received
        self.stats.batches += 1
        self.stats.last_batch_ms = (time.perf_counter() - prepared.started) * 1000
        if self.metrics is not None:
            self.metrics.batch(prepared.received, self.stats.last_batch_ms / 1000)
        tracing.end(prepared.spans)

    def _dead(self, received: Received, kind: Any, error: str) -> Outgoing:
        self.stats.dead_lettered += 1
        log.warning(
            "dead_letter",
            worker=self.handler.name,
            topic=received.topic,
            partition=received.partition,
            offset=received.offset,
            kind=kind,
            error=error,
        )
        return dead_letter(received, kind, error, self.handler.name, self.prefix)

    async def _transact(self, good: list[Incoming[M]]) -> list[Outgoing]:
        try:
            return await self._with_db_retry(good)
        except _HandlerBug:
            # One message (or more) makes the handler raise. Find it by handling each message
            # alone; the others still get their answers, the culprit is dead-lettered.
            out: list[Outgoing] = []
            for item in good:
                try:
                    out.extend(await self._with_db_retry([item]))
                except _HandlerBug as bug:
                    out.append(self._dead(item.source, "internal", bug.describe()))
            return out

    async def _with_db_retry(self, items: list[Incoming[M]]) -> list[Outgoing]:
        delay = self.retry_delay
        conflicts = 0
        while True:
            try:
                return await asyncio.to_thread(self._handle_in_transaction, items)
            except IntegrityError as exc:
                # Another instance got there first (a rebalance); a retry reads its work and
                # answers from it. Persisting conflicts are a bug, not a race.
                conflicts += 1
                if conflicts > 3:
                    raise _HandlerBug(exc) from exc
                log.warning("db_conflict_retry", worker=self.handler.name, attempt=conflicts)
            except DBAPIError as exc:
                self.stats.db_retries += 1
                log.error(
                    "database_unavailable",
                    worker=self.handler.name,
                    error=type(exc.orig).__name__ if exc.orig else type(exc).__name__,
                    retry_in=delay,
                )
                if self.stopping:
                    # Stopping with the database down: exit without acking so the batch is
                    # redelivered to whoever takes the partitions next.
                    log.error("exit_without_commit", worker=self.handler.name)
                    os._exit(75)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_retry_delay)
            except Exception as exc:
                raise _HandlerBug(exc) from exc

    def _handle_in_transaction(self, items: list[Incoming[M]]) -> list[Outgoing]:
        started = time.perf_counter()
        with unit_of_work(self.engine) as conn:
            pace_checkpoints(conn, len(items))
            out = self.handler.handle(conn, items)
        if self.metrics is not None:
            self.metrics.transaction(time.perf_counter() - started)
        bound_wal(self.engine)
        return out

    async def _publish(self, out: list[Outgoing]) -> None:
        if not out:
            return
        delay = self.retry_delay
        while True:
            try:
                await self.publish(out)
                break
            except Exception as exc:
                # Answers are idempotent by key, so sending them again is safe; dropping
                # them is not. Keep trying until the broker takes them.
                log.error(
                    "publish_failed", worker=self.handler.name, error=type(exc).__name__, retry_in=delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_retry_delay)
        sent = Counter(o.topic for o in out)
        self.stats.published.update(sent)
        if sent[self.dead_letter_topic]:
            self.stats.dead_letters.update(error_kind(o) for o in out if o.topic == self.dead_letter_topic)


class _HandlerBug(Exception):
    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause

    def describe(self) -> str:
        # The type and the first line only: exception text can quote input values.
        first = str(self.cause).splitlines()[0] if str(self.cause) else ""
        return f"handler error {type(self.cause).__name__}: {first[:200]}"
