"""Rebalances (workers/common/rebalance.py): a revoke waits, an assignment learns positions."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError

from workers.common.rebalance import WaitForBatch

A, B, C = (TopicPartition("notes", p) for p in range(3))


class _Consumer:
    async def committed(self, tp: TopicPartition) -> int | None:
        if tp == B:
            raise KafkaConnectionError("gone")
        return {A: 42}.get(tp)


class _Owner:
    group_id = "g"

    def __init__(self, consumer: Any = None) -> None:
        self.joined = False
        self.committed: dict[TopicPartition, int] = {}
        self.consumer = consumer
        self.batch_done = asyncio.Event()
        self.waited = False

    async def finish_batch_in_hand(self) -> None:
        await self.batch_done.wait()
        self.waited = True


async def test_a_revoke_returns_only_once_the_batch_in_hand_is_settled() -> None:
    owner = _Owner()
    revoke = asyncio.ensure_future(WaitForBatch(owner).on_partitions_revoked([A]))
    await asyncio.sleep(0.05)
    assert not revoke.done()
    owner.batch_done.set()
    await asyncio.wait_for(revoke, 1)
    assert owner.waited


async def test_an_assignment_joins_and_reads_where_the_group_stands() -> None:
    owner = _Owner(_Consumer())
    await WaitForBatch(owner).on_partitions_assigned([A, B, C])
    assert owner.joined
    # A has a commit; B's could not be read and C has none: both stay unknown.
    assert owner.committed == {A: 42}


async def test_an_assignment_before_the_consumer_exists_only_joins() -> None:
    owner = _Owner()
    await WaitForBatch(owner).on_partitions_assigned([])
    assert owner.joined and owner.committed == {}
