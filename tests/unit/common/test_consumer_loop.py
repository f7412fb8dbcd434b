"""The consumer loop's own failure paths, which a healthy broker never shows.

The loop's guarantees with a real broker (commit after delivery, SIGTERM, rebalances) are
tested in tests/faults; here a stand-in object makes `getmany` fail in ways a broker
rarely does, to check the loop neither spins silently nor dies silently, and a stand-in
publish holds or fails deliveries to check that batches settle strictly in order while the
next one is prepared.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import orjson
import pytest
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaConnectionError
from pydantic import BaseModel
from sqlalchemy import create_engine

from claimflow.settings import Settings
from workers.common.batch import BatchRunner
from workers.common.consumer import BatchConsumer
from workers.common.messages import Incoming, Outgoing


class _FailingFetch:
    """Fails `getmany` with each of `errors` in turn, then waits like an idle consumer."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def getmany(self, **_: Any) -> dict[Any, Any]:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        await asyncio.sleep(0.01)
        return {}


def _loop_with(fetch: _FailingFetch, fatal: list[bool]) -> BatchConsumer:
    service = BatchConsumer(Settings(), "g", {}, max_batch=10, on_fatal=lambda: fatal.append(True))
    service.consumer = fetch
    return service


@pytest.fixture(autouse=True)
def _no_fatal_left() -> Any:
    yield
    BatchConsumer.fatal = None


async def test_a_kafka_error_while_fetching_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("workers.common.fetch.FETCH_RETRY_SECONDS", 0.0)
    fatal: list[bool] = []
    fetch = _FailingFetch(KafkaConnectionError("broker went away"))
    service = _loop_with(fetch, fatal)
    task = asyncio.ensure_future(service._run())
    await asyncio.sleep(0.1)
    service._stopping = True
    await asyncio.wait_for(task, 2)
    assert fetch.calls > 1, "the loop stopped after one failed fetch"
    assert not fatal and BatchConsumer.fatal is None


async def test_an_unexpected_error_stops_the_worker_instead_of_idling() -> None:
    fatal: list[bool] = []
    service = _loop_with(_FailingFetch(RuntimeError("bug")), fatal)
    await asyncio.wait_for(service._run(), 2)
    assert fatal == [True]
    assert isinstance(BatchConsumer.fatal, RuntimeError)


# --- settling: a batch is delivered and committed while the next one is prepared ---------


class _Note(BaseModel):
    type: str = "note"
    n: int


class _Echo:
    """Answers each note with its number; records the order transactions ran in."""

    name = "echo"
    models: tuple[type[_Note], ...] = (_Note,)

    def __init__(self) -> None:
        self.handled: list[int] = []

    def handle(self, conn: Any, batch: Sequence[Incoming[_Note]]) -> list[Outgoing]:
        self.handled.extend(i.message.n for i in batch)
        return [Outgoing("answers", None, str(i.message.n).encode()) for i in batch]


class _Broker:
    """Stands in for the consumer: hands out `batches` one per getmany, records commits."""

    def __init__(self, batches: list[list[int]]) -> None:
        self.tp = TopicPartition("notes", 0)
        self.batches = list(batches)
        self.offset = 0
        self.commits: list[int] = []
        self.fail_commit: BaseException | None = None
        self.commit_delay = 0.0

    def assignment(self) -> set[TopicPartition]:
        return {self.tp}

    async def getmany(self, **_: Any) -> dict[TopicPartition, list[Any]]:
        if not self.batches:
            await asyncio.sleep(0.01)
            return {}
        records = []
        for n in self.batches.pop(0):
            value = orjson.dumps({"type": "note", "n": n})
            record = ConsumerRecord("notes", 0, self.offset, 0, 0, None, value, None, 0, len(value), [])
            records.append(record)
            self.offset += 1
        return {self.tp: records}

    async def commit(self, offsets: dict[TopicPartition, Any]) -> None:
        if self.fail_commit is not None:
            raise self.fail_commit
        await asyncio.sleep(self.commit_delay)
        self.commits.append(offsets[self.tp].offset)


class _SlowBroker:
    """A publish that takes `delay` seconds to be acked; the one carrying answer `failing`
    fails its first `failures` attempts."""

    def __init__(self, failures: int = 0, delay: float = 0.05, failing: bytes = b"1") -> None:
        self.failures = failures
        self.failing = failing
        self.delay = delay
        self.delivered: list[bytes] = []

    async def __call__(self, out: Sequence[Outgoing]) -> None:
        if self.failures and any(o.value == self.failing for o in out):
            self.failures -= 1
            raise ConnectionError("broker unreachable")
        await asyncio.sleep(self.delay)
        self.delivered.extend(o.value for o in out)


async def _run_until(
    service: BatchConsumer, done: Any, task: asyncio.Future[None] | None = None, timeout: float = 5.0
) -> None:
    """Run the loop (or let the one in `task` run on) until `done()`, then stop it cleanly."""
    task = task or asyncio.ensure_future(service._run())
    deadline = asyncio.get_running_loop().time() + timeout
    while not done():
        assert asyncio.get_running_loop().time() < deadline, "the loop did not get there"
        await asyncio.sleep(0.01)
    service._stopping = True
    await asyncio.wait_for(task, 2)
    await service.settle()


def _settling_loop(
    broker: _Broker,
    publish: _SlowBroker,
    handler: _Echo,
    fatal: list[bool],
    max_batch: int = 10,
    retry_delay: float = 0.01,
) -> BatchConsumer:
    engine = create_engine("sqlite://")
    runner: BatchRunner[_Note] = BatchRunner(handler, engine, publish, retry_delay=retry_delay)
    service = BatchConsumer(
        Settings(), "g", {"notes": runner}, max_batch=max_batch, on_fatal=lambda: fatal.append(True)
    )
    service.consumer = broker
    return service


async def test_answers_leave_in_batch_order_even_when_a_publish_is_retried() -> None:
    broker = _Broker([[1, 2], [3], [4, 5]])
    # The first batch's publish fails twice and is retried for 0.3 s (0.1 + 0.2), long
    # after the second batch's answers could have gone out (0.05 s).
    publish = _SlowBroker(failures=2, failing=b"1")
    handler = _Echo()
    fatal: list[bool] = []
    # Batches of two are full (the next one is prepared during the retries), of one not.
    service = _settling_loop(broker, publish, handler, fatal, max_batch=2, retry_delay=0.1)
    await _run_until(service, lambda: len(publish.delivered) == 5)
    assert publish.delivered == [b"1", b"2", b"3", b"4", b"5"]
    # Each batch committed after its own delivery, in order, none skipped.
    assert broker.commits == [2, 3, 5]
    assert handler.handled == [1, 2, 3, 4, 5]
    assert not fatal


@pytest.mark.parametrize(
    ("max_batch", "handled_meanwhile"),
    [
        pytest.param(1, [1, 2], id="backlog: every fetch is full, the next batch is prepared"),
        pytest.param(10, [1], id="caught up: the loop reads on only after the delivery"),
    ],
)
async def test_what_happens_while_a_batch_is_delivered(max_batch: int, handled_meanwhile: list[int]) -> None:
    broker = _Broker([[1], [2]])
    publish = _SlowBroker(delay=0.3)
    handler = _Echo()
    service = _settling_loop(broker, publish, handler, [], max_batch=max_batch)
    task = asyncio.ensure_future(service._run())
    await asyncio.sleep(0.15)
    # The first batch is still being delivered; under a backlog the second is already in
    # the database, its answers held back behind the first's.
    assert handler.handled == handled_meanwhile
    assert publish.delivered == []
    assert broker.commits == []
    await _run_until(service, lambda: len(publish.delivered) == 2, task)
    assert publish.delivered == [b"1", b"2"]
    assert broker.commits == [1, 2]


async def test_a_failure_while_settling_stops_the_worker_and_commits_nothing_later() -> None:
    broker = _Broker([[1], [2], [3]])
    broker.fail_commit = RuntimeError("bug in commit")
    publish = _SlowBroker(delay=0.0)
    fatal: list[bool] = []
    service = _settling_loop(broker, publish, _Echo(), fatal)
    await asyncio.wait_for(service._run(), 2)
    assert fatal == [True]
    assert isinstance(BatchConsumer.fatal, RuntimeError)
    assert broker.commits == []
    # The loop stopped at the failure: the third batch was never read.
    assert broker.batches == [[3]]


async def test_answers_do_not_wait_for_the_previous_offset_commit() -> None:
    broker = _Broker([[1], [2]])
    broker.commit_delay = 0.5
    publish = _SlowBroker(delay=0.0)
    service = _settling_loop(broker, publish, _Echo(), [])
    task = asyncio.ensure_future(service._run())
    await asyncio.sleep(0.25)
    # Both batches answered while the first batch's commit is still in flight.
    assert publish.delivered == [b"1", b"2"]
    assert broker.commits == []
    await _run_until(service, lambda: broker.commits == [1, 2], task)
