"""What a worker does when handling a batch fails: retry it, isolate one message, or stop.

The policy is explicit because the alternative drains topics. If every unexpected error
were dead-lettered message by message and the offsets committed, a release that breaks
every charge would empty `billing.charges` into the dead-letter topic while the worker
looked healthy. So (docs/OPERATIONS.md has the runbook):

- **The input's fault** (undecodable, contract-invalid, stale or conflicting version,
  oversized) is dead-lettered with its own error kind. That path is explicit: the codec's
  `DecodeError` and a handler's own `dead_letter(...)` answers; nothing here.
- **A transient database error** (connection lost, server shutting down, lock or
  statement timeout, serialization failure, deadlock, SQLite's "database is locked") is
  retried with exponential back-off until the database answers (`is_transient`, used
  with tenacity by the batch loop). Nothing is dead-lettered and nothing is committed
  meanwhile: consumption pauses.
- **A schema error** (a missing table or column, SQL the database refuses) is nobody's
  input: the worker stops at once, without trying the batch message by message.
- **A bug** (any other exception, a data or programming error, an integrity conflict that
  persists after a few retries) is isolated: the batch is handled message by message and
  a single poison message is dead-lettered as `internal`, with the exception's type. But
  when a whole batch fails (at least `whole_batch_min` messages, every one failing), or
  more than `max_internal` messages fail within `window_seconds`, the worker stops
  (`StopConsuming`): nothing of the failing batch is dead-lettered or committed, the
  loop dies with a loud log line and the process exits non-zero. A restart reads the
  same batch again, so a broken release crash-loops visibly instead of draining.

`FailurePolicy` keeps its counters and `state` as plain attributes, for the progress line
and for metrics.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout

from claimflow.logs import get_logger
from workers.common import metrics

log = get_logger("claimflow.policy")

ErrorClass = Literal["transient", "conflict", "schema", "bug"]
State = Literal["running", "retrying", "stopped"]

#: SQLSTATE classes (PostgreSQL) that pass by themselves: connection exceptions (08),
#: transaction rollback, i.e. serialization failures and deadlocks (40), insufficient
#: resources (53), operator intervention, i.e. shutdown and statement timeouts (57), and
#: system errors such as I/O (58).
_TRANSIENT_CLASSES = frozenset({"08", "40", "53", "57", "58"})
#: lock_not_available (a lock timeout), object_in_use.
_TRANSIENT_STATES = frozenset({"55P03", "55006"})
#: Syntax or access rule violation (42: undefined table or column), invalid schema name
#: (3F), feature not supported (0A): the code and the schema disagree.
_SCHEMA_CLASSES = frozenset({"42", "3F", "0A"})
#: SQLite reports schema mismatches as OperationalError, like a locked database; the text
#: tells them apart.
_SQLITE_SCHEMA = ("no such table", "no such column", "has no column named", "syntax error", "no such index")


def classify(exc: BaseException) -> ErrorClass:
    """Sort an exception from a batch's transaction: retry it, or treat it as a bug."""
    if isinstance(exc, PoolTimeout | DisconnectionError):
        return "transient"
    if not isinstance(exc, DBAPIError):
        return "bug"
    if exc.connection_invalidated:
        return "transient"
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if isinstance(sqlstate, str) and len(sqlstate) == 5:
        if sqlstate[:2] in _TRANSIENT_CLASSES or sqlstate in _TRANSIENT_STATES:
            return "transient"
        if sqlstate[:2] == "23":
            return "conflict"
        if sqlstate[:2] in _SCHEMA_CLASSES:
            return "schema"
        return "bug"
    if isinstance(exc, IntegrityError):
        return "conflict"
    if isinstance(exc, OperationalError | InterfaceError):
        text = str(exc.orig).lower()
        if any(s in text for s in _SQLITE_SCHEMA):
            return "schema"
        # No SQLSTATE: the server could not be reached at all, or SQLite is locked or busy.
        return "transient"
    return "bug"  # DataError, ProgrammingError, NotSupportedError, InternalError


def is_transient(exc: BaseException) -> bool:
    return classify(exc) == "transient"


def describe(exc: BaseException) -> str:
    """The exception's type and the first line of its text, cut short: text can quote input."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    text = str(cause)
    first = text.splitlines()[0] if text else ""
    return f"{type(cause).__name__}: {first[:200]}"


class StopConsuming(Exception):
    """The worker must stop reading: raised out of `BatchRunner.prepare`, so the consumer
    loop dies before it commits anything of the failing batch (workers/common/commit.py)."""

    def __init__(self, worker: str, reason: str) -> None:
        super().__init__(f"{worker}: {reason}")
        self.worker = worker
        self.reason = reason


@dataclass
class FailurePolicy:
    """When internal errors stop a worker; its counters and state, readable by metrics."""

    worker: str
    #: More internal errors than this within `window_seconds` stop the worker.
    max_internal: int = 5
    window_seconds: float = 60.0
    #: A batch of at least this many messages in which every one fails stops the worker.
    #: Smaller batches count towards the rate only: a poison message redelivered twice is
    #: still a poison message.
    whole_batch_min: int = 3
    clock: Callable[[], float] = time.monotonic

    state: State = "running"
    #: Messages whose handling raised unexpectedly (dead-lettered, or in the batch that stopped).
    internal_errors: int = 0
    #: Transactions retried for a transient database error or a conflict.
    db_retries: int = 0
    stop_reason: str | None = None
    _recent: deque[float] = field(default_factory=deque, repr=False)

    def __post_init__(self) -> None:
        metrics.policy_state(self.worker, self.state)

    def _enter(self, state: State) -> None:
        self.state = state
        metrics.policy_state(self.worker, state)

    def retrying(self) -> None:
        self.db_retries += 1
        self._enter("retrying")

    def recovered(self) -> None:
        if self.state == "retrying":
            self._enter("running")

    def schema_error(self, exc: BaseException) -> StopConsuming:
        """A schema error: stop now. Returns the exception to raise."""
        return self._stop(f"database schema error {describe(exc)}", exc)

    def isolated(self, failed: list[BaseException], batch_size: int) -> None:
        """After a batch was handled message by message: `failed` are the messages' errors.

        Raises StopConsuming when the failures pass the threshold; otherwise the caller
        dead-letters each failed message as `internal`.
        """
        if not failed:
            return
        self.internal_errors += len(failed)
        metrics.internal_error(self.worker, len(failed))
        if len(failed) == batch_size >= self.whole_batch_min:
            raise self._stop(f"every message of a batch of {batch_size} failed", failed[0])
        now = self.clock()
        self._recent.extend([now] * len(failed))
        while self._recent and now - self._recent[0] > self.window_seconds:
            self._recent.popleft()
        if len(self._recent) > self.max_internal:
            raise self._stop(
                f"{len(self._recent)} internal errors within {self.window_seconds:g} s "
                f"(more than {self.max_internal})",
                failed[-1],
            )

    def _stop(self, reason: str, exc: BaseException) -> StopConsuming:
        self._enter("stopped")
        self.stop_reason = reason
        # The one line on-call looks for (docs/OPERATIONS.md): the worker stops, offsets stay.
        log.critical(
            "worker_stopped",
            worker=self.worker,
            reason=reason,
            error=describe(exc),
            internal_errors=self.internal_errors,
        )
        return StopConsuming(self.worker, reason)
