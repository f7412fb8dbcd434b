"""The failure policy (workers/common/policy.py) on each branch, with no broker.

A stand-in handler raises what a test asks for; the batch loop runs over an in-memory
SQLite engine. The same branches with the real broker and workers as processes are in
tests/faults/test_failure_policy.py.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

import orjson
import psycopg.errors as pg
import pytest
from pydantic import BaseModel
from sqlalchemy import create_engine
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, ProgrammingError

from claimflow.settings import Settings
from contracts.deadletter import DeadLetter
from tests.unit.common.test_consumer_loop import _Broker, _run_until, _SlowBroker
from workers.common.batch import BatchRunner
from workers.common.consumer import BatchConsumer
from workers.common.messages import Incoming, Outgoing, Received
from workers.common.policy import FailurePolicy, StopConsuming, classify


def _wrap(kind: type[Exception], orig: BaseException) -> Exception:
    return kind("SELECT 1", {}, orig)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (_wrap(OperationalError, pg.AdminShutdown()), "transient"),
        (_wrap(OperationalError, pg.SerializationFailure()), "transient"),
        (_wrap(OperationalError, pg.DeadlockDetected()), "transient"),
        (_wrap(OperationalError, pg.LockNotAvailable()), "transient"),
        (_wrap(OperationalError, pg.QueryCanceled()), "transient"),
        (_wrap(OperationalError, pg.ConnectionFailure()), "transient"),
        (_wrap(OperationalError, pg.OperationalError("connection refused")), "transient"),
        (_wrap(OperationalError, sqlite3.OperationalError("database is locked")), "transient"),
        (_wrap(ProgrammingError, pg.UndefinedTable()), "schema"),
        (_wrap(ProgrammingError, pg.UndefinedColumn()), "schema"),
        (_wrap(OperationalError, sqlite3.OperationalError("no such table: claims")), "schema"),
        (_wrap(OperationalError, sqlite3.OperationalError("table x has no column named y")), "schema"),
        (_wrap(DataError, pg.NumericValueOutOfRange()), "bug"),
        (_wrap(DataError, pg.StringDataRightTruncation()), "bug"),
        (_wrap(ProgrammingError, sqlite3.ProgrammingError("Incorrect number of bindings")), "bug"),
        (_wrap(IntegrityError, pg.UniqueViolation()), "conflict"),
        (_wrap(IntegrityError, sqlite3.IntegrityError("UNIQUE constraint failed")), "conflict"),
        (KeyError("x"), "bug"),
    ],
    ids=lambda v: type(getattr(v, "orig", v)).__name__ + (f"-{v}" if isinstance(v, str) else ""),
)
def test_database_errors_are_sorted(exc: BaseException, expected: str) -> None:
    assert classify(exc) == expected


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_more_than_five_internal_errors_in_a_minute_stop_the_worker() -> None:
    clock = _Clock()
    policy = FailurePolicy("w", clock=clock)
    for _ in range(5):
        policy.isolated([RuntimeError()], 1)
        clock.now += 10
    assert policy.state == "running" and policy.internal_errors == 5
    with pytest.raises(StopConsuming, match="6 internal errors"):
        policy.isolated([RuntimeError()], 1)
    assert policy.state == "stopped" and policy.stop_reason


def test_internal_errors_spread_over_time_do_not_stop_it() -> None:
    clock = _Clock()
    policy = FailurePolicy("w", clock=clock)
    for _ in range(50):
        policy.isolated([RuntimeError()], 4)
        clock.now += 13
    assert policy.state == "running"


def test_a_whole_failing_batch_stops_it_and_a_small_one_counts() -> None:
    policy = FailurePolicy("w")
    policy.isolated([RuntimeError()] * 2, 2)  # a poison message delivered twice
    assert policy.state == "running"
    with pytest.raises(StopConsuming, match="every message of a batch of 3"):
        policy.isolated([RuntimeError()] * 3, 3)


# --- the batch loop under the policy ------------------------------------------------------


class _Note(BaseModel):
    type: str = "note"
    n: int


class _Faulty:
    """Answers each note with its number unless `fail(n, attempt)` returns an exception."""

    name = "faulty"
    models: tuple[type[_Note], ...] = (_Note,)

    def __init__(self, fail: Callable[[list[int], int], BaseException | None]) -> None:
        self.fail = fail
        self.calls = 0

    def handle(self, conn: Any, batch: Sequence[Incoming[_Note]]) -> list[Outgoing]:
        self.calls += 1
        ns = [i.message.n for i in batch]
        exc = self.fail(ns, self.calls)
        if exc is not None:
            raise exc
        return [Outgoing("answers", None, str(n).encode()) for n in ns]


def _received(ns: list[int]) -> list[Received]:
    return [Received("notes", 0, n, None, orjson.dumps({"type": "note", "n": n})) for n in ns]


def _runner(handler: _Faulty) -> BatchRunner[_Note]:
    return BatchRunner(handler, create_engine("sqlite://"), _SlowBroker(delay=0.0), retry_delay=0.001)


async def test_a_poison_message_is_isolated_with_its_exception_type() -> None:
    handler = _Faulty(lambda ns, _: KeyError("no rate") if 3 in ns else None)
    runner = _runner(handler)
    prepared = await runner.prepare(_received([1, 2, 3, 4, 5]))
    answers = [o.value for o in prepared.out if o.topic == "answers"]
    dead = [DeadLetter.from_headers(o.headers) for o in prepared.out if o.topic.endswith("dead-letter")]
    assert answers == [b"1", b"2", b"4", b"5"]
    assert [(d.offset, d.error_kind) for d in dead] == [(3, "internal")]
    assert dead[0].error.startswith("handler error KeyError")
    assert runner.policy.internal_errors == 1 and runner.policy.state == "running"


async def test_a_broken_handler_stops_the_batch_with_nothing_dead_lettered() -> None:
    runner = _runner(_Faulty(lambda ns, _: RuntimeError("release bug")))
    with pytest.raises(StopConsuming):
        await runner.prepare(_received([1, 2, 3, 4]))
    assert runner.stats.dead_lettered == 0
    assert runner.policy.state == "stopped"


async def test_a_transient_database_error_is_retried_with_backoff() -> None:
    def fail(ns: list[int], call: int) -> BaseException | None:
        return _wrap(OperationalError, pg.AdminShutdown()) if call <= 3 else None

    handler = _Faulty(fail)
    runner = _runner(handler)
    prepared = await runner.prepare(_received([1, 2]))
    assert [o.value for o in prepared.out] == [b"1", b"2"]
    assert handler.calls == 4 and runner.stats.db_retries == 3
    assert runner.policy.state == "running" and runner.stats.dead_lettered == 0


async def test_a_persisting_conflict_is_a_bug_and_a_passing_one_is_retried() -> None:
    def fail(ns: list[int], call: int) -> BaseException | None:
        if 2 in ns:
            return _wrap(IntegrityError, pg.UniqueViolation())  # never passes: a bug
        return _wrap(IntegrityError, pg.UniqueViolation()) if call == 1 else None

    runner = _runner(_Faulty(fail))
    prepared = await runner.prepare(_received([1, 2]))
    dead = [DeadLetter.from_headers(o.headers) for o in prepared.out if o.headers]
    assert [o.value for o in prepared.out if not o.headers] == [b"1"]
    assert [(d.offset, d.error_kind) for d in dead] == [(2, "internal")]
    assert "UniqueViolation" in dead[0].error


async def test_a_schema_error_stops_at_once_without_isolating() -> None:
    handler = _Faulty(lambda ns, _: _wrap(OperationalError, sqlite3.OperationalError("no such table: c")))
    runner = _runner(handler)
    with pytest.raises(StopConsuming, match="schema"):
        await runner.prepare(_received([1, 2, 3]))
    assert handler.calls == 1
    assert runner.stats.dead_lettered == 0


async def test_a_stop_commits_nothing_of_the_failing_batch() -> None:
    # The second batch breaks the handler: the first is answered and committed, the second
    # and everything after it is not, and the loop dies (the worker exits non-zero).
    broker = _Broker([[1, 2, 3], [4, 5, 6], [7]])
    publish = _SlowBroker(delay=0.0)
    handler = _Faulty(lambda ns, _: RuntimeError("bug") if 4 in ns or 5 in ns or 6 in ns else None)
    runner: BatchRunner[_Note] = BatchRunner(handler, create_engine("sqlite://"), publish, retry_delay=0.001)
    fatal: list[bool] = []
    service = BatchConsumer(
        Settings(), "g", {"notes": runner}, max_batch=3, on_fatal=lambda: fatal.append(True)
    )
    service.consumer = broker
    await _run_until(service, lambda: bool(fatal))
    assert isinstance(BatchConsumer.fatal, StopConsuming)
    BatchConsumer.fatal = None
    assert publish.delivered == [b"1", b"2", b"3"]
    assert broker.commits == [3]
    assert runner.stats.dead_lettered == 0
    assert broker.batches == [[7]]


async def test_isolated_items_are_not_retried_forever(monkeypatch: pytest.MonkeyPatch) -> None:
    # A bug is not retried: each message is tried once alone, then dead-lettered.
    handler = _Faulty(lambda ns, _: ValueError("x") if ns == [1] or len(ns) > 1 else None)
    runner = _runner(handler)
    prepared = await asyncio.wait_for(runner.prepare(_received([1, 2])), 2)
    assert handler.calls == 3
    assert [o.value for o in prepared.out if not o.headers] == [b"2"]
