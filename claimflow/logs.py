"""Structured logs. Never pass patient names, birth dates or member ids to a logger: log
ids (charge_id, bill_id, posting_id) and counts. `scrub` drops those keys if they slip in."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

#: Keys that would carry patient data; dropped from every event as a last line of defence.
PATIENT_KEYS = frozenset(
    {"first_name", "last_name", "name", "patient_name", "birth_date", "member_id", "address", "patient"}
)


def scrub(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in PATIENT_KEYS & event.keys():
        event[key] = "[redacted]"
    return event


def configure(level: str = "INFO", fmt: str = "console") -> None:
    renderer: Any = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    logging.basicConfig(level=level, stream=sys.stderr, format="%(message)s")
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            scrub,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
