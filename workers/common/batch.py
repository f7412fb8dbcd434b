"""The batch loop every worker runs: decode, handle in one transaction, publish, then ack.

Guarantees (workers.common.consumer commits a batch's offsets only after `process` returns):
- Only the explicit invalid-message path dead-letters: undecodable input here, a refused
  version in the handler. Every other failure follows workers/common/policy.py: a transient
  database error is retried (tenacity, with back-off) until the database returns
  (consumption pauses, nothing is dead-lettered for it); a bug that one message triggers is
  isolated to that message, which is dead-lettered with kind "internal" while the rest of
  the batch goes through; a schema error, a whole failing batch, or too many internal
  errors in a minute raise `StopConsuming` out of `prepare`, and the consumer loop dies
  without committing the batch, so nothing drains.
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
from tenacity import AsyncRetrying, RetryCallState, wait_exponential

from claimflow.db import bound_wal, pace_checkpoints, unit_of_work
from claimflow.logs import get_logger
from contracts.codec import DecodeError, decode
from contracts.topics import DEAD_LETTER
from workers.common import tracing
from workers.common.deadletter import dead_letter, error_kind
from workers.common.messages import Incoming, Outgoing, Received
from workers.common.metrics import BatchMetrics
from workers.common.policy import FailurePolicy, StopConsuming, classify, describe

M = TypeVar("M", bound=BaseModel)
log = get_logger("claimflow.batch")

Publish = Callable[[Sequence[Outgoing]], Awaitable[None]]

#: TEST-ONLY fault hook (tests/faults): when set to N, the process exits abruptly right after
#: the N-th batch's database commit and before its answers are published, which is the one
#: window a SIGKILL hits only by luck. Unset or 0 in production: the hook is off.
_CRASH_AFTER_COMMIT = int(os.environ.get("CLAIMFLOW_FAULT_CRASH_AFTER_COMMIT") or 0)
#: TEST-ONLY fault hook (tests/faults): the handler raises for a batch holding a message whose
#: bytes contain this text ("*": every message), standing in for a release with a bug.
_HANDLER_BUG = os.environ.get("CLAIMFLOW_FAULT_HANDLER_BUG") or ""
#: An integrity conflict is retried this often (a rebalance race) before it counts as a bug.
MAX_CONFLICTS = 3


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
        policy: FailurePolicy | None = None,
    ) -> None:
        self.handler = handler
        self.engine = engine
        self.publish = publish
        self.prefix = topic_prefix
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self.stats = Stats()
        self.policy = policy if policy is not None else FailurePolicy(handler.name)
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
            # alone; the others still get their answers. The policy decides whether the
            # culprits are isolated (dead-lettered) or the worker stops.
            out: list[Outgoing] = []
            bugs: list[tuple[Incoming[M], _HandlerBug]] = []
            for item in good:
                try:
                    out.extend(await self._with_db_retry([item]))
                except _HandlerBug as bug:
                    bugs.append((item, bug))
            self.policy.isolated([bug.cause for _, bug in bugs], len(good))
            out.extend(self._dead(item.source, "internal", failed.describe()) for item, failed in bugs)
            return out

    async def _with_db_retry(self, items: list[Incoming[M]]) -> list[Outgoing]:
        conflicts = 0

        def retry(state: RetryCallState) -> bool:
            nonlocal conflicts
            exc = state.outcome.exception() if state.outcome is not None else None
            if exc is None:
                return False
            kind = classify(exc)
            if kind == "conflict":
                # Another instance got there first (a rebalance); a retry reads its work and
                # answers from it. Persisting conflicts are a bug, not a race.
                conflicts += 1
                return conflicts <= MAX_CONFLICTS
            return kind == "transient"

        retrying = AsyncRetrying(
            retry=retry,
            wait=wait_exponential(multiplier=self.retry_delay, max=self.max_retry_delay),
            before_sleep=self._before_retry,
            reraise=True,
        )
        try:
            out: list[Outgoing] = await retrying(asyncio.to_thread, self._handle_in_transaction, items)
        except StopConsuming:
            raise
        except Exception as exc:
            if classify(exc) == "schema":
                raise self.policy.schema_error(exc) from exc
            raise _HandlerBug(exc) from exc
        self.policy.recovered()
        return out

    def _before_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        delay = state.next_action.sleep if state.next_action is not None else 0.0
        self.policy.retrying()
        if exc is not None and classify(exc) == "conflict":
            log.warning("db_conflict_retry", worker=self.handler.name, attempt=state.attempt_number)
            return
        self.stats.db_retries += 1
        log.error(
            "database_unavailable",
            worker=self.handler.name,
            error=describe(exc) if exc is not None else "",
            retry_in=round(delay, 2),
        )
        if self.stopping:
            # Stopping with the database down: exit without acking so the batch is
            # redelivered to whoever takes the partitions next.
            log.error("exit_without_commit", worker=self.handler.name)
            os._exit(75)

    def _handle_in_transaction(self, items: list[Incoming[M]]) -> list[Outgoing]:
        if _HANDLER_BUG and any(
            _HANDLER_BUG == "*" or _HANDLER_BUG.encode() in (i.source.value or b"") for i in items
        ):
            raise RuntimeError("injected handler bug (CLAIMFLOW_FAULT_HANDLER_BUG)")
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
        return f"handler error {describe(self.cause)}"
