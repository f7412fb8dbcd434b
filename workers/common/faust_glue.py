"""Translation between faust's streams and producer and the worker's batch loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import faust

from workers.common.messages import Outgoing, Received


async def received_batches(stream: Any, max_batch: int, within: float) -> AsyncIterator[list[Received]]:
    """Batches from a faust stream as `Received` records (raw bytes and their origin)."""
    async for events in stream.take_events(max_batch, within=within):
        yield [
            Received(
                topic=e.message.topic,
                partition=e.message.partition,
                offset=e.message.offset,
                key=e.message.key,
                value=e.message.value,
                headers=tuple((k, v) for k, v in (e.message.headers or ())),
            )
            for e in events
        ]


def publisher(app: faust.App) -> Any:
    """Send a batch through the app's producer and wait until the broker has every message.

    Bypasses faust's per-event attachments: answers must be delivered before the batch is
    acked, and one wait for the whole batch keeps the producer batching.
    """

    async def publish(out: Sequence[Outgoing]) -> None:
        producer = app.producer
        futures = [
            await producer.send(o.topic, o.key, o.value, None, None, list(o.headers) or None) for o in out
        ]
        await asyncio.gather(*futures)

    return publish
