"""Fetch and route: read what the broker has fetched, and split it into each topic's batch.

Batches close on what is already fetched: `getmany` returns at once when records are
waiting, so at low load a batch is the few records that arrived (low latency) and under
load it fills up to the worker's maximum (throughput), with no window to wait out.

Routing drops the records of partitions this consumer no longer owns (a rebalance between
the fetch and the handling: their new owner reads them from the last commit, so handling
them here would only duplicate work), groups the rest by topic in the routes' order, and
notes the offsets to commit once they are answered.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata

from claimflow.broker.security import client_kwargs
from claimflow.logs import get_logger
from claimflow.settings import Settings
from workers.common.messages import Received

log = get_logger("claimflow.consumer")

#: How long an idle `getmany` waits before the loop looks at its stop flag again.
IDLE_POLL_MS = 200
FETCH_RETRY_SECONDS = 1.0

R = TypeVar("R")
Fetched = Mapping[TopicPartition, list[Any]]


def open_consumer(
    settings: Settings, group_id: str, topics: Collection[str], max_batch: int, timeouts: Mapping[str, int]
) -> AIOKafkaConsumer:
    """The group's consumer, not started: offsets are committed by the loop, never by a timer."""
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=settings.bootstrap_servers,
        group_id=group_id,
        client_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=max_batch,
        # Several fetches in flight keep the next batch ready while this one commits.
        fetch_max_bytes=16 * 1024 * 1024,
        max_partition_fetch_bytes=2 * 1024 * 1024,
        fetch_max_wait_ms=100,
        **timeouts,
        **client_kwargs(settings),
    )


class Fetcher(Protocol):
    async def getmany(self, *, timeout_ms: int, max_records: int) -> Fetched: ...


async def fetch(consumer: Fetcher, group_id: str, max_batch: int) -> Fetched | None:
    """Up to `max_batch` records, or none after `IDLE_POLL_MS`; None when the fetch failed."""
    try:
        return await consumer.getmany(timeout_ms=IDLE_POLL_MS, max_records=max_batch)
    except KafkaError as exc:
        # aiokafka retries broker outages itself; what reaches here is worth a line and a
        # pause, not the end of the worker.
        log.error("fetch_failed", group=group_id, error=type(exc).__name__)
        await asyncio.sleep(FETCH_RETRY_SECONDS)
        return None


@dataclass(frozen=True)
class Routed(Generic[R]):
    """One fetch, routed: each topic's records with the topic's route, and what to commit."""

    batches: list[tuple[R, list[Received]]]
    offsets: dict[TopicPartition, OffsetAndMetadata]
    #: The fetch was full, so more is waiting (a backlog), owned partitions or not.
    full: bool


def route(
    fetched: Fetched, owned: Collection[TopicPartition], routes: Mapping[str, R], max_batch: int
) -> Routed[R]:
    by_topic: dict[str, list[Received]] = defaultdict(list)
    offsets: dict[TopicPartition, OffsetAndMetadata] = {}
    for tp, records in fetched.items():
        if tp not in owned or not records:
            continue
        by_topic[tp.topic].extend(received(r) for r in records)
        offsets[tp] = OffsetAndMetadata(records[-1].offset + 1, "")
    # The routes' order is the processing order within one fetch (posting: claims first, so
    # a posting fetched with the claim that opens its bill finds the bill).
    batches = [(to, by_topic[topic]) for topic, to in routes.items() if by_topic.get(topic)]
    full = sum(len(records) for records in fetched.values()) >= max_batch
    return Routed(batches, offsets, full)


def received(record: Any) -> Received:
    """A fetched aiokafka record as the batch loop sees it."""
    return Received(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value,
        headers=tuple(record.headers or ()),
    )
