"""Waiting for the posting worker's answer to one posting, on `billing.posting-results`.

Used by `claimflow bills post --wait` and by the workspace's bill page. The watch takes the
answers topic's end *before* the posting is published, so the answer cannot slip past
between publishing and starting to read; then `wait` reads until the answer with the
posting's id arrives or the time is up (None: the posting is queued, not lost).
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any, cast

from claimflow.settings import Settings
from contracts.codec import DecodeError, decode
from contracts.posting import PostingApplied, PostingRejected
from contracts.topics import POSTING_RESULTS

Answer = PostingApplied | PostingRejected


def decode_answer(raw: bytes) -> Answer:
    return cast(Answer, decode(raw, PostingApplied, PostingRejected))


class AnswerWatch:
    """`async with AnswerWatch(settings) as watch: publish...; raw = await watch.wait(id, s)`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._consumer: Any = None

    async def __aenter__(self) -> AnswerWatch:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        from claimflow.broker.security import client_kwargs

        results = self.settings.topic(POSTING_RESULTS)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            **client_kwargs(self.settings),
        )
        await consumer.start()
        try:
            # A new consumer knows no topic yet, and aiokafka has no public call that fills
            # its metadata without subscribing (`topics()` returns a copy it does not keep).
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(results)
            if not partitions:
                raise RuntimeError(f"topic {results} does not exist")
            tps = [TopicPartition(results, p) for p in sorted(partitions)]
            consumer.assign(tps)
            await consumer.seek_to_end(*tps)
            for tp in tps:
                await consumer.position(tp)
        except BaseException:
            await consumer.stop()
            raise
        self._consumer = consumer
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def wait(self, posting_id: str, seconds: float) -> bytes | None:
        """The answer to `posting_id` as published, or None after `seconds`."""
        deadline = time.monotonic() + seconds
        needle = posting_id.encode()
        while (left := deadline - time.monotonic()) > 0:
            batch = await self._consumer.getmany(timeout_ms=int(min(left, 0.5) * 1000) or 1)
            for records in batch.values():
                for r in records:
                    if r.value is None or needle not in r.value:
                        continue  # someone else's answer
                    try:
                        found = decode_answer(r.value)
                    except DecodeError:
                        continue
                    if found.posting_id == posting_id:
                        return bytes(r.value)
        return None
