"""The explicit invalid-message path: a message we cannot use goes to the dead-letter
topic as it came (key and bytes untouched), with headers saying where from and why."""

from __future__ import annotations

import datetime as dt

from contracts.deadletter import DeadLetter, ErrorKind
from contracts.topics import DEAD_LETTER
from workers.common.messages import Outgoing, Received
from workers.common.tracing import carried

#: The header DeadLetter.to_headers writes the error kind to.
_KIND = "x-error_kind"


def dead_letter(source: Received, kind: ErrorKind, error: str, worker: str, prefix: str = "") -> Outgoing:
    record = DeadLetter(
        source_topic=source.topic,
        partition=source.partition,
        offset=source.offset,
        error_kind=kind,
        error=error[:1000],
        worker=worker,
        dead_lettered_at=dt.datetime.now(dt.UTC),
    )
    return Outgoing(
        topic=f"{prefix}{DEAD_LETTER}",
        key=source.key,
        value=source.value or b"",
        headers=tuple(record.to_headers()) + carried(source),
    )


def error_kind(out: Outgoing) -> str:
    """The error kind a dead letter's headers name."""
    for name, value in out.headers:
        if name == _KIND:
            return value.decode()
    return "unknown"
