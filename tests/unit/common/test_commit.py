"""The commit policy (workers/common/commit.py): offsets only after delivery, in order."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError
from aiokafka.structs import OffsetAndMetadata

from workers.common.commit import CommitAfterDelivery

TP = TopicPartition("notes", 0)


class _Consumer:
    def __init__(self, delays: dict[int, float] | None = None) -> None:
        self.delays = delays or {}
        self.commits: list[int] = []
        self.refuse: BaseException | None = None

    async def commit(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        offset = offsets[TP].offset
        await asyncio.sleep(self.delays.get(offset, 0.0))
        if self.refuse is not None:
            raise self.refuse
        self.commits.append(offset)


def _at(offset: int) -> dict[TopicPartition, OffsetAndMetadata]:
    return {TP: OffsetAndMetadata(offset, "")}


def _policy(failures: list[BaseException]) -> CommitAfterDelivery:
    return CommitAfterDelivery("g", {}, on_failure=failures.append)


async def test_offsets_wait_for_their_delivery() -> None:
    consumer, failures = _Consumer(), list[BaseException]()
    commits = _policy(failures)
    delivered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    commits.submit(consumer, delivered, _at(3))
    await asyncio.sleep(0.05)
    assert consumer.commits == [] and commits.committed == {}
    delivered.set_result(None)
    await commits.join()
    assert consumer.commits == [3] and commits.committed == {TP: 3}
    assert not failures


async def test_commits_trail_each_other_even_when_a_later_batch_is_delivered_first() -> None:
    consumer = _Consumer(delays={2: 0.1})
    commits = _policy([])
    loop = asyncio.get_running_loop()
    first, second = loop.create_future(), loop.create_future()
    commits.submit(consumer, first, _at(2))
    commits.submit(consumer, second, _at(5))
    second.set_result(None)
    await asyncio.sleep(0.02)
    assert consumer.commits == []
    first.set_result(None)
    await commits.join()
    assert consumer.commits == [2, 5]


async def test_a_refused_commit_is_logged_and_the_next_one_goes_on() -> None:
    consumer, failures = _Consumer(), list[BaseException]()
    commits = _policy(failures)
    consumer.refuse = KafkaConnectionError("gone")
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    done.set_result(None)
    commits.submit(consumer, done, _at(2))
    await commits.join()
    assert commits.committed == {} and not failures
    consumer.refuse = None
    commits.submit(consumer, done, _at(4))
    await commits.join()
    assert consumer.commits == [4] and commits.committed == {TP: 4}


async def test_a_failed_delivery_commits_nothing_from_there_on_and_is_reported() -> None:
    consumer, failures = _Consumer(), list[BaseException]()
    commits = _policy(failures)
    loop = asyncio.get_running_loop()
    broken, fine = loop.create_future(), loop.create_future()
    commits.submit(consumer, broken, _at(2))
    commits.submit(consumer, fine, _at(4))
    broken.set_exception(RuntimeError("bug in delivery"))
    fine.set_result(None)
    try:
        await commits.join()
    except RuntimeError:
        pass
    else:
        raise AssertionError("join did not raise what failed")
    await asyncio.sleep(0)
    assert consumer.commits == []
    assert [type(f) for f in failures] == [RuntimeError, RuntimeError]


async def test_nothing_to_commit_commits_nothing() -> None:
    consumer = _Consumer()
    commits = _policy([])
    done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    done.set_result(None)
    commits.submit(consumer, done, {})
    await commits.join()
    await commits.join()  # nothing left: returns at once
    assert consumer.commits == []
