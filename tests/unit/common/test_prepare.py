"""Preparing a batch (workers/common/prepare.py): decode, one transaction, nothing published.

The failure policy's branches (retry, isolate, stop) are in test_failure_policy.py; here the
step itself, and the fault hooks injected into it.
"""

from __future__ import annotations

from typing import NoReturn

import orjson
import pytest
from sqlalchemy import create_engine

from contracts.deadletter import DeadLetter
from tests.unit.common.test_consumer_loop import _Echo, _Note, _SlowBroker
from workers.common.batch import BatchRunner
from workers.common.faults import FaultHooks
from workers.common.messages import Received


def _note(offset: int, value: bytes) -> Received:
    return Received("notes", 0, offset, None, value)


def _good(n: int) -> Received:
    return _note(n, orjson.dumps({"type": "note", "n": n}))


def _runner(handler: _Echo, publish: _SlowBroker, faults: FaultHooks | None = None) -> BatchRunner[_Note]:
    engine = create_engine("sqlite://")
    return BatchRunner(handler, engine, publish, retry_delay=0.001, faults=faults or FaultHooks())


async def test_a_batch_is_handled_in_one_transaction_and_nothing_is_published() -> None:
    handler, publish = _Echo(), _SlowBroker(delay=0.0)
    runner = _runner(handler, publish)
    prepared = await runner.prepare([_good(1), _note(2, b"{not json"), _good(3)])
    assert handler.handled == [1, 3]
    # The handler's answers first, then the dead letters of what did not decode.
    assert [o.value for o in prepared.out] == [b"1", b"3", b"{not json"]
    letter = DeadLetter.from_headers(prepared.out[2].headers)
    assert (letter.offset, letter.error_kind) == (2, "not_json")
    assert prepared.received == 3 and runner.stats.dead_lettered == 1
    assert publish.delivered == [] and runner.stats.received == 0 and runner.commits == 1


async def test_a_batch_with_nothing_decodable_opens_no_transaction() -> None:
    handler = _Echo()
    runner = _runner(handler, _SlowBroker(delay=0.0))
    prepared = await runner.prepare([_note(0, b"")])
    assert handler.handled == [] and runner.commits == 0
    assert len(prepared.out) == 1


class _Crashed(Exception):
    pass


def _crash(code: int) -> NoReturn:
    raise _Crashed(code)


async def test_the_crash_hook_fires_after_the_nth_commit_before_anything_is_published() -> None:
    handler, publish = _Echo(), _SlowBroker(delay=0.0)
    runner = _runner(handler, publish, FaultHooks(crash_after_commit=2, exit=_crash))
    await runner.process([_good(1)])
    with pytest.raises(_Crashed, match="86"):
        await runner.process([_good(2)])
    assert handler.handled == [1, 2]  # the second batch was committed ...
    assert publish.delivered == [b"1"]  # ... and not answered


async def test_the_injected_handler_bug_is_isolated_like_a_real_one() -> None:
    handler = _Echo()
    runner = _runner(handler, _SlowBroker(delay=0.0), FaultHooks(handler_bug='"n":2'))
    prepared = await runner.prepare([_good(1), _good(2), _good(3)])
    assert handler.handled == [1, 3]
    assert [o.value for o in prepared.out if not o.headers] == [b"1", b"3"]
    letter = DeadLetter.from_headers(prepared.out[-1].headers)
    assert (letter.offset, letter.error_kind) == (2, "internal")
    assert "injected handler bug" in letter.error
