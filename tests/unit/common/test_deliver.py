"""Delivery (workers/common/deliver.py): answers published until taken, fetches in order."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import create_engine

from tests.unit.common.test_consumer_loop import _Echo, _Note, _SlowBroker
from workers.common.batch import BatchRunner, Prepared
from workers.common.deadletter import dead_letter
from workers.common.deliver import InOrder
from workers.common.messages import Outgoing, Received


def _runner(publish: _SlowBroker) -> BatchRunner[_Note]:
    return BatchRunner(_Echo(), create_engine("sqlite://"), publish, topic_prefix="p.", retry_delay=0.01)


def _prepared(*answers: bytes, received: int | None = None) -> Prepared:
    out = [Outgoing("answers", None, a) for a in answers]
    return Prepared(received if received is not None else len(out), out, time.perf_counter())


async def test_a_failing_publish_is_retried_until_the_broker_takes_it() -> None:
    publish = _SlowBroker(failures=3, delay=0.0, failing=b"1")
    runner = _runner(publish)
    await asyncio.wait_for(runner.deliver(_prepared(b"1", b"2")), 2)
    assert publish.delivered == [b"1", b"2"]
    assert publish.failures == 0


async def test_a_delivered_batch_is_counted() -> None:
    runner = _runner(_SlowBroker(delay=0.0))
    source = Received("notes", 0, 7, b"k", b"garbage")
    letter = dead_letter(source, "not_json", "not JSON", "echo", "p.")
    prepared = _prepared(b"1", received=2)
    prepared.out.append(letter)
    await runner.deliver(prepared)
    stats = runner.stats
    assert (stats.received, stats.batches) == (2, 1)
    assert stats.published == {"answers": 1, "p.billing.dead-letter": 1}
    assert stats.dead_letters == {"not_json": 1}
    assert stats.last_batch_ms > 0


async def test_nothing_to_answer_publishes_nothing() -> None:
    publish = _SlowBroker(delay=0.0)
    runner = _runner(publish)
    await runner.deliver(_prepared(received=3))
    assert publish.delivered == [] and runner.stats.received == 3 and not runner.stats.published


async def test_a_fetch_is_published_only_after_the_previous_one_is_delivered() -> None:
    # The first fetch's publish fails twice (retried 0.03 s); the second's would be quick.
    publish = _SlowBroker(failures=2, delay=0.0, failing=b"1")
    runner = _runner(publish)
    chain = InOrder()
    first = await chain.submit([(runner, _prepared(b"1"))])
    assert not first.done()
    second = await chain.submit([(runner, _prepared(b"2")), (runner, _prepared(b"3"))])
    assert first.done()
    await chain.join()
    assert second.done()
    assert publish.delivered == [b"1", b"2", b"3"]


async def test_a_failed_delivery_is_raised_to_whoever_waits_next() -> None:
    chain = InOrder()
    runner = _runner(_SlowBroker(delay=0.0))
    runner.stats = None  # type: ignore[assignment]  # counting fails: a bug, not an outage
    await chain.submit([(runner, _prepared())])
    with pytest.raises(AttributeError):
        await chain.join()
    await chain.join()  # reported once; nothing left to wait for


async def test_a_forgotten_delivery_is_still_delivered() -> None:
    publish = _SlowBroker(delay=0.05)
    chain = InOrder()
    delivered = await chain.submit([(_runner(publish), _prepared(b"1"))])
    chain.forget()
    await chain.join()
    assert not delivered.done()
    await delivered
    assert publish.delivered == [b"1"]
