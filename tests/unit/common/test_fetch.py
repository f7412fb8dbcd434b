"""Fetch and route (workers/common/fetch.py): what a fetch becomes before any batch runs."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaConnectionError

from workers.common.fetch import fetch, received, route


def _records(topic: str, partition: int, offsets: range) -> list[Any]:
    return [
        ConsumerRecord(topic, partition, o, 0, 0, b"k", b"v%d" % o, None, 1, 2, [("h", b"1")])
        for o in offsets
    ]


CLAIMS0, CLAIMS1, POSTINGS0 = (
    TopicPartition("claims", 0),
    TopicPartition("claims", 1),
    TopicPartition("postings", 0),
)


def test_batches_follow_the_routes_order_and_offsets_follow_the_last_record() -> None:
    fetched = {
        POSTINGS0: _records("postings", 0, range(5, 7)),
        CLAIMS0: _records("claims", 0, range(0, 2)),
        CLAIMS1: _records("claims", 1, range(10, 11)),
    }
    routed = route(fetched, set(fetched), {"claims": "C", "postings": "P"}, max_batch=10)
    assert [(to, [(r.partition, r.offset) for r in batch]) for to, batch in routed.batches] == [
        ("C", [(0, 0), (0, 1), (1, 10)]),
        ("P", [(0, 5), (0, 6)]),
    ]
    assert {tp: o.offset for tp, o in routed.offsets.items()} == {POSTINGS0: 7, CLAIMS0: 2, CLAIMS1: 11}
    assert not routed.full


def test_records_of_a_lost_partition_are_neither_handled_nor_committed() -> None:
    fetched = {CLAIMS0: _records("claims", 0, range(0, 3)), CLAIMS1: _records("claims", 1, range(0, 2))}
    routed = route(fetched, {CLAIMS1}, {"claims": "C"}, max_batch=5)
    assert [[(r.partition, r.offset) for r in batch] for _, batch in routed.batches] == [[(1, 0), (1, 1)]]
    assert list(routed.offsets) == [CLAIMS1]
    # Full counts what was fetched, owned or not: the broker had that much waiting.
    assert routed.full


def test_a_topic_with_nothing_fetched_gets_no_batch() -> None:
    routed = route({CLAIMS0: []}, {CLAIMS0}, {"claims": "C", "postings": "P"}, max_batch=1)
    assert routed.batches == [] and routed.offsets == {} and not routed.full


def test_a_record_is_received_as_it_came() -> None:
    record = _records("claims", 3, range(4, 5))[0]
    got = received(record)
    assert (got.topic, got.partition, got.offset, got.key, got.value) == ("claims", 3, 4, b"k", b"v4")
    assert got.headers == (("h", b"1"),)
    record.headers = None
    assert received(record).headers == ()


class _Consumer:
    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.asked: dict[str, int] = {}

    async def getmany(self, *, timeout_ms: int, max_records: int) -> Any:
        self.asked = {"timeout_ms": timeout_ms, "max_records": max_records}
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


async def test_a_fetch_asks_for_a_batch_and_returns_what_came() -> None:
    consumer = _Consumer({CLAIMS0: []})
    assert await fetch(consumer, "g", 7) == {CLAIMS0: []}
    assert consumer.asked == {"timeout_ms": 200, "max_records": 7}


async def test_a_failed_fetch_pauses_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("workers.common.fetch.FETCH_RETRY_SECONDS", 0.05)
    started = asyncio.get_running_loop().time()
    assert await fetch(_Consumer(KafkaConnectionError("gone")), "g", 7) is None
    assert asyncio.get_running_loop().time() - started >= 0.05


async def test_anything_but_a_kafka_error_is_not_swallowed() -> None:
    with pytest.raises(RuntimeError):
        await fetch(_Consumer(RuntimeError("bug")), "g", 7)
