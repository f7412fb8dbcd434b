"""What the workspace shows live: failures and their resolutions as the formatter publishes
them, and what the reprocess worker did with a request, pushed to the pages that listen.

One consumer per report process reads `billing.charge-failures` and
`billing.reprocess-results` from their ends, with no consumer group: every report process
must see every event, and a page only needs what happens while it is open (what happened
before is in the database, which the page rendered). The consumer starts with the first
listener, so a report service nobody watches holds no broker connection, and it keeps
trying while the broker is down (searches never depend on it).

Events are pushed as server-sent events: plain HTTP that ordinary proxies pass, with a
comment every 15 s so that idle connections are not cut. Each listener sees only the
companies it is allowed to.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from claimflow.broker.security import client_kwargs
from claimflow.logs import get_logger
from claimflow.settings import Settings
from contracts.codec import DecodeError, decode
from contracts.failure import ChargeFailed, ChargeFailureResolved
from contracts.reprocess import ReprocessResult
from contracts.topics import CHARGE_FAILURES, REPROCESS_RESULTS

log = get_logger("claimflow.report.feed")

HEARTBEAT_SECONDS = 15.0
QUEUE_SIZE = 1000  # a page this far behind is told to reload


def event_of(message: ChargeFailed | ChargeFailureResolved | ReprocessResult) -> dict[str, Any]:
    """The event a page receives: small, and only what the page needs to update itself."""
    if isinstance(message, ChargeFailed):
        return {
            "kind": "failed",
            "company_id": message.company_id,
            "charge_id": message.charge_id,
            "charge_version": message.charge_version,
            "run_number": message.run_number,
            "failure_count": message.failure_count,
            "oldest_failure_date": message.oldest_failure_date.isoformat(),
            "reasons": [{"code": r.code, "message": r.message, "field": r.field} for r in message.reasons],
            "at": message.failed_at.isoformat(),
        }
    if isinstance(message, ChargeFailureResolved):
        return {
            "kind": "resolved",
            "company_id": message.company_id,
            "charge_id": message.charge_id,
            "charge_version": message.charge_version,
            "run_number": message.run_number,
            "claim_id": message.claim_id,
            "at": message.resolved_at.isoformat(),
        }
    return {
        "kind": "reprocessed",
        "company_id": message.company_id,
        "request_id": message.request_id,
        "replayed": [r.charge_id for r in message.replayed],
        "skipped": [{"charge_id": s.charge_id, "reason": s.reason} for s in message.skipped],
        "at": message.completed_at.isoformat(),
    }


@dataclass(eq=False)
class Listener:
    companies: frozenset[str]
    queue: asyncio.Queue[dict[str, Any] | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    overflowed: bool = False

    def offer(self, event: dict[str, Any]) -> None:
        if event["company_id"] not in self.companies or self.overflowed:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            # Dropping events silently would leave the page wrong: tell it to reload instead.
            self.overflowed = True
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.get_nowait()
                self.queue.put_nowait({"kind": "reload", "company_id": ""})


class LiveFeed:
    def __init__(self, settings: Settings, *, retry_seconds: float = 3.0) -> None:
        self.settings = settings
        self.retry_seconds = retry_seconds
        self.listeners: set[Listener] = set()
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    def listen(self, companies: frozenset[str]) -> Listener:
        listener = Listener(companies)
        self.listeners.add(listener)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="live-feed")
        return listener

    def leave(self, listener: Listener) -> None:
        self.listeners.discard(listener)

    def publish(self, event: dict[str, Any]) -> None:
        for listener in list(self.listeners):
            listener.offer(event)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for listener in self.listeners:
            with contextlib.suppress(asyncio.QueueFull):
                listener.queue.put_nowait(None)

    async def _run(self) -> None:
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.connected.clear()
                log.warning("live feed lost the broker; retrying", error=f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(self.retry_seconds)

    async def _consume(self) -> None:
        topics = [self.settings.topic(CHARGE_FAILURES), self.settings.topic(REPROCESS_RESULTS)]
        consumer = AIOKafkaConsumer(
            *topics,
            bootstrap_servers=self.settings.bootstrap_servers,
            group_id=None,  # every report process reads every partition
            enable_auto_commit=False,
            auto_offset_reset="latest",
            **client_kwargs(self.settings),
        )
        await consumer.start()
        try:
            while not consumer.assignment():
                await consumer.getmany(timeout_ms=200)
            for tp in consumer.assignment():  # fix the start at the end now: events from here on
                await consumer.position(tp)
            self.connected.set()
            log.info("live feed connected", partitions=len(consumer.assignment()))
            while True:
                batch = await consumer.getmany(timeout_ms=1000, max_records=500)
                for records in batch.values():
                    for record in records:
                        self._offer_raw(record.value)
        finally:
            self.connected.clear()
            await consumer.stop()

    def _offer_raw(self, raw: bytes | None) -> None:
        try:
            message = decode(raw, ChargeFailed, ChargeFailureResolved, ReprocessResult)
        except DecodeError:
            return  # not ours to judge: the dead-letter path is the workers'
        if isinstance(message, ChargeFailed | ChargeFailureResolved | ReprocessResult):
            self.publish(event_of(message))


async def stream(feed: LiveFeed, listener: Listener) -> AsyncIterator[bytes]:
    """The server-sent events of one page, until it goes away."""
    try:
        yield b"retry: 3000\n\n"
        while True:
            try:
                event = await asyncio.wait_for(listener.queue.get(), HEARTBEAT_SECONDS)
            except TimeoutError:
                yield b": still here\n\n"
                continue
            if event is None:
                return
            yield b"event: " + event["kind"].encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"
            if event["kind"] == "reload":
                return
    finally:
        feed.leave(listener)
