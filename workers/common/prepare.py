"""Prepare: decode a batch and commit its work in one database transaction; publish nothing.

Only the explicit invalid-message path dead-letters: undecodable input here, a refused
version in the handler. Every other failure follows workers/common/policy.py: a transient
database error is retried (tenacity, with back-off) until the database returns (consumption
pauses, nothing is dead-lettered for it); a bug that one message triggers is isolated to
that message, which is dead-lettered with kind "internal" while the rest of the batch goes
through; a schema error, a whole failing batch, or too many internal errors in a minute
raise `StopConsuming`, and the consumer loop dies without committing the batch.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tenacity import AsyncRetrying, RetryCallState, wait_exponential

from claimflow.db import bound_wal, pace_checkpoints, unit_of_work
from claimflow.logs import get_logger
from contracts.codec import DecodeError, decode
from workers.common import tracing
from workers.common.messages import Incoming, Outgoing, Received
from workers.common.policy import StopConsuming, classify, describe

if TYPE_CHECKING:
    from workers.common.batch import BatchRunner

log = get_logger("claimflow.batch")

#: An integrity conflict is retried this often (a rebalance race) before it counts as a bug.
MAX_CONFLICTS = 3
#: Exit code of a worker told to stop while its database is away (EX_TEMPFAIL).
EXIT_DATABASE_AWAY = 75


@dataclass(frozen=True)
class Prepared:
    """A batch whose work is committed and whose answers are not yet delivered."""

    received: int
    out: list[Outgoing]
    started: float
    spans: list[Any] = field(default_factory=list)  # tracing: ended once delivered


async def prepare(runner: BatchRunner[Any], batch: Sequence[Received]) -> Prepared:
    started = time.perf_counter()
    batch, spans = tracing.start_batch(runner.handler.name, batch)
    good: list[Incoming[Any]] = []
    out: list[Outgoing] = []
    for received in batch:
        try:
            good.append(Incoming(decode(received.value, *runner.handler.models), received))
        except DecodeError as exc:
            out.append(runner.dead_letter(received, exc.kind, exc.message))
    if good:
        out[:0] = await _transact(runner, good)
        runner.commits += 1
        runner.faults.after_commit(runner.commits)
    return Prepared(len(batch), out, started, spans)


async def _transact(runner: BatchRunner[Any], good: list[Incoming[Any]]) -> list[Outgoing]:
    try:
        return await _with_db_retry(runner, good)
    except _HandlerBug:
        # One message (or more) makes the handler raise. Find it by handling each message
        # alone; the others still get their answers. The policy decides whether the
        # culprits are isolated (dead-lettered) or the worker stops.
        out: list[Outgoing] = []
        bugs: list[tuple[Incoming[Any], _HandlerBug]] = []
        for item in good:
            try:
                out.extend(await _with_db_retry(runner, [item]))
            except _HandlerBug as bug:
                bugs.append((item, bug))
        runner.policy.isolated([bug.cause for _, bug in bugs], len(good))
        out.extend(runner.dead_letter(item.source, "internal", failed.describe()) for item, failed in bugs)
        return out


async def _with_db_retry(runner: BatchRunner[Any], items: list[Incoming[Any]]) -> list[Outgoing]:
    conflicts = 0

    def retry(state: RetryCallState) -> bool:
        nonlocal conflicts
        exc = state.outcome.exception() if state.outcome is not None else None
        if exc is None:
            return False
        kind = classify(exc)
        if kind == "conflict":
            # Another instance got there first (a rebalance); a retry reads its work and
            # answers from it. Persisting conflicts are a bug, not a race.
            conflicts += 1
            return conflicts <= MAX_CONFLICTS
        return kind == "transient"

    retrying = AsyncRetrying(
        retry=retry,
        wait=wait_exponential(multiplier=runner.retry_delay, max=runner.max_retry_delay),
        before_sleep=lambda state: _before_retry(runner, state),
        reraise=True,
    )
    try:
        out: list[Outgoing] = await retrying(asyncio.to_thread, _handle_in_transaction, runner, items)
    except StopConsuming:
        raise
    except Exception as exc:
        if classify(exc) == "schema":
            raise runner.policy.schema_error(exc) from exc
        raise _HandlerBug(exc) from exc
    runner.policy.recovered()
    return out


def _before_retry(runner: BatchRunner[Any], state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome is not None else None
    delay = state.next_action.sleep if state.next_action is not None else 0.0
    runner.policy.retrying()
    if exc is not None and classify(exc) == "conflict":
        log.warning("db_conflict_retry", worker=runner.handler.name, attempt=state.attempt_number)
        return
    runner.stats.db_retries += 1
    log.error(
        "database_unavailable",
        worker=runner.handler.name,
        error=describe(exc) if exc is not None else "",
        retry_in=round(delay, 2),
    )
    if runner.stopping:
        # Stopping with the database down: exit without acking so the batch is
        # redelivered to whoever takes the partitions next.
        log.error("exit_without_commit", worker=runner.handler.name)
        os._exit(EXIT_DATABASE_AWAY)


def _handle_in_transaction(runner: BatchRunner[Any], items: list[Incoming[Any]]) -> list[Outgoing]:
    runner.faults.before_handler(items)
    started = time.perf_counter()
    with unit_of_work(runner.engine) as conn:
        pace_checkpoints(conn, len(items))
        out = runner.handler.handle(conn, items)
    if runner.metrics is not None:
        runner.metrics.transaction(time.perf_counter() - started)
    bound_wal(runner.engine)
    return out


class _HandlerBug(Exception):
    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause

    def describe(self) -> str:
        # The type and the first line only: exception text can quote input values.
        return f"handler error {describe(self.cause)}"
