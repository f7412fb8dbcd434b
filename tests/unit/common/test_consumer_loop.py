"""The consumer loop's own failure paths, which a healthy broker never shows.

The loop's guarantees with a real broker (commit after delivery, SIGTERM, rebalances) are
tested in tests/faults; here a stand-in object makes `getmany` fail in ways a broker
rarely does, to check the loop neither spins silently nor dies silently.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError

from claimflow.settings import Settings
from workers.common.consumer import BatchConsumer


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
    monkeypatch.setattr("workers.common.consumer.FETCH_RETRY_SECONDS", 0.0)
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
