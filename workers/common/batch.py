"""One input topic's batch runner: a handler, its database, its publisher and its counters.

The consumer loop (workers/common/consumer.py) hands each topic's records to that topic's
`BatchRunner`, which takes a batch through two steps:

- `prepare` (workers/common/prepare.py): decode, then handle in one database transaction,
  retried or isolated as the failure policy says (workers/common/policy.py); nothing is
  published yet. A `StopConsuming` out of it stops the loop without committing the batch.
- `deliver` (workers/common/deliver.py): publish the answers and wait until the broker
  has every one, retrying the publish until it does.

Answers are published only after the database commit, and the consumer commits a batch's
offsets only after its answers are delivered (workers/common/commit.py). A crash in between
replays the batch; the handler recognises what it already did by business keys and answers
the same again. The two steps are separate so the consumer can deliver one batch while it
prepares the next, and still publish batches in the order it read them.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel
from sqlalchemy import Connection, Engine

from claimflow.logs import get_logger
from contracts.deadletter import ErrorKind
from contracts.topics import DEAD_LETTER
from workers.common import deliver, prepare
from workers.common.deadletter import dead_letter
from workers.common.faults import NO_FAULTS, FaultHooks
from workers.common.messages import Incoming, Outgoing, Received
from workers.common.metrics import BatchMetrics
from workers.common.policy import FailurePolicy
from workers.common.prepare import Prepared

M = TypeVar("M", bound=BaseModel)
log = get_logger("claimflow.batch")
__all__ = ["BatchHandler", "BatchRunner", "Prepared", "Publish", "Stats"]

Publish = Callable[[Sequence[Outgoing]], Awaitable[None]]


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
        faults: FaultHooks = NO_FAULTS,
    ) -> None:
        self.handler = handler
        self.engine = engine
        self.publish = publish
        self.prefix = topic_prefix
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self.stats = Stats()
        self.policy = policy if policy is not None else FailurePolicy(handler.name)
        self.faults = faults
        #: Set by the consumer when the worker stops: a database outage then exits at once.
        self.stopping = False
        self.dead_letter_topic = f"{topic_prefix}{DEAD_LETTER}"
        #: Set by workers.common.metrics.instrument when the worker serves metrics.
        self.metrics: BatchMetrics | None = None
        #: Batches committed to the database, for the crash hook (FaultHooks.after_commit).
        self.commits = 0

    async def process(self, batch: Sequence[Received]) -> None:
        """Handle one batch start to finish: prepare it, then deliver its answers."""
        await self.deliver(await self.prepare(batch))

    async def prepare(self, batch: Sequence[Received]) -> Prepared:
        """Decode the batch and commit its work to the database; nothing is published yet.

        The consumer delivers the previous batch's answers meanwhile, and delivers these
        only after those: answers leave in the order their batches were read.
        """
        return await prepare.prepare(self, batch)

    async def deliver(self, prepared: Prepared) -> None:
        """Publish a prepared batch's answers and wait until the broker has every one."""
        await deliver.deliver(self, prepared)

    def dead_letter(self, received: Received, kind: ErrorKind, error: str) -> Outgoing:
        """Count and log `received` as dead-lettered, and return its dead letter."""
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
