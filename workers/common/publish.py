"""The worker's batch loop publishing through the faust app's producer."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import faust

from workers.common.messages import Outgoing


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
