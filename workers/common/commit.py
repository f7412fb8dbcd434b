"""The commit policy: a fetch's offsets are committed only after its answers are delivered.

Each commit runs in a task of its own that waits for its own fetch's delivery, then for the
previous fetch's commit, then commits: commits trail their own batch and each other, in
order, and no answer ever waits for one. If a delivery or an earlier commit fails, nothing
from there on is committed, and the failure is reported (`on_failure`): a crash replays
every batch after the last commit, which the handlers recognise by key.

A commit the broker refuses (a `KafkaError`) is not a failure: the batch is done and its
answers delivered, so a lost commit only means whoever reads these partitions next replays
it, and the next commit that succeeds covers these offsets too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata

from claimflow.logs import get_logger

log = get_logger("claimflow.consumer")

Offsets = dict[TopicPartition, OffsetAndMetadata]


class Committer(Protocol):
    async def commit(self, offsets: Offsets) -> None: ...


class CommitAfterDelivery:
    """Commits each fetch's offsets once it is delivered and the previous commit is done."""

    def __init__(
        self,
        group_id: str,
        committed: dict[TopicPartition, int],
        on_failure: Callable[[BaseException], None],
    ) -> None:
        self.group_id = group_id
        #: The last offset committed per partition (the consumer's lag is read from it).
        self.committed = committed
        self.on_failure = on_failure
        self._last: asyncio.Future[None] | None = None

    def submit(self, consumer: Committer, delivered: asyncio.Future[None], offsets: Offsets) -> None:
        """Commit `offsets` after `delivered` and after every commit submitted before."""
        task = asyncio.ensure_future(self._commit_after(delivered, self._last, consumer, offsets))
        task.add_done_callback(self._done)
        self._last = task

    async def join(self) -> None:
        """Wait until every fetch submitted is delivered and committed (raises what failed)."""
        task, self._last = self._last, None
        if task is not None:
            await asyncio.shield(task)

    def _done(self, task: asyncio.Future[None]) -> None:
        # Publishing retries until it succeeds and commit errors are caught, so a failure
        # here is a bug: report it now rather than when the next batch would notice.
        if not task.cancelled() and task.exception() is not None:
            self.on_failure(task.exception())  # type: ignore[arg-type]

    async def _commit_after(
        self,
        delivered: asyncio.Future[None],
        previous: asyncio.Future[None] | None,
        consumer: Committer,
        offsets: Offsets,
    ) -> None:
        # Either one failing raises here, and these offsets (and all later) stay uncommitted.
        await delivered
        if previous is not None:
            await previous
        await self._commit(consumer, offsets)

    async def _commit(self, consumer: Committer, offsets: Offsets) -> None:
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
            self.committed.update({tp: o.offset for tp, o in offsets.items()})
        except KafkaError as exc:
            log.warning("offset_commit_failed", group=self.group_id, error=type(exc).__name__)
