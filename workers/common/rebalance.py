"""What the batch consumer does when the group moves partitions.

- Revoked: wait until the batch in hand is delivered and its offsets committed (the
  callback takes the lock the batch holds), so the next owner starts exactly after it.
- Assigned: the consumer has joined (`/readyz`), and it learns where the group stands on
  its new partitions, so the lag it reports is right before its first commit (not the
  whole log of a restarted worker).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from claimflow.logs import get_logger

log = get_logger("claimflow.consumer")


class Owner(Protocol):
    group_id: str
    joined: bool
    committed: dict[TopicPartition, int]

    @property
    def consumer(self) -> Any: ...

    async def finish_batch_in_hand(self) -> None: ...


class WaitForBatch(ConsumerRebalanceListener):
    """Hold a rebalance until the batch in hand is handled and committed."""

    def __init__(self, owner: Owner) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        await self.owner.finish_batch_in_hand()

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        log.info("partitions_assigned", group=self.owner.group_id, partitions=len(assigned))
        self.owner.joined = True
        consumer = self.owner.consumer
        if consumer is None:
            return
        for tp in assigned:
            try:
                offset = await consumer.committed(tp)
            except KafkaError:
                continue
            if offset is not None:
                self.owner.committed[tp] = offset
