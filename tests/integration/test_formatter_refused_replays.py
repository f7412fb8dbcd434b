"""A failure whose reprocessed version is refused goes back to `open`, with the reason.

Reprocess marks a failure `reprocessing` and replays it as the next version; the formatter
normally answers that version (a claim or a new failure). When it dead-letters it instead
(another message took the version number, or a newer version was handled), the failure
must not wait in `reprocessing` forever (real database, no broker).
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, select

from claimflow.db import create_all, make_engine, unit_of_work
from contracts import Charge
from contracts.codec import encode
from contracts.reprocess import REPLAYED_BY_REQUEST
from tests.factories import charge
from tests.integration.test_formatter_storage import Clock, handle
from workers.common.messages import Incoming, Outgoing, Received
from workers.formatter import tables
from workers.formatter.failure_rows import REPROCESS_REFUSED, mark_reprocessing
from workers.formatter.handler import FormatterHandler
from workers.formatter.rules import RuleBook


@pytest.fixture
def engine(db_url: str) -> Engine:
    engine = make_engine(db_url)
    create_all(engine)
    return engine


@pytest.fixture
def clock() -> Clock:
    return Clock(dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC))


@pytest.fixture
def handler(clock: Clock) -> FormatterHandler:
    return FormatterHandler(RuleBook.default(), clock=clock)


def _failure(engine: Engine) -> tuple[str, list[tuple[str, str]]]:
    with engine.connect() as conn:
        status = conn.execute(select(tables.failures.c.status)).scalar_one()
        reasons = conn.execute(
            select(tables.failure_reasons.c.code, tables.failure_reasons.c.message).order_by(
                tables.failure_reasons.c.position
            )
        ).all()
    return status, [(r.code, r.message) for r in reasons]


def _reprocessing(engine: Engine, clock: Clock) -> None:
    with engine.begin() as conn:
        assert mark_reprocessing(conn, ["CH-1"], clock()) == 1


def _replayed(engine: Engine, handler: FormatterHandler, c: Charge) -> list[Outgoing]:
    """`c` as reprocess publishes a replay: with the request's header."""
    source = Received(
        "billing.charges", 0, 99, c.account.encode(), encode(c), ((REPLAYED_BY_REQUEST, b"R1"),)
    )
    with unit_of_work(engine) as conn:
        return handler.handle(conn, [Incoming(c, source)])


def test_a_refused_replay_reopens_its_failure_with_the_reason(
    engine: Engine, handler: FormatterHandler, clock: Clock
) -> None:
    handle(engine, handler, [charge(procedure_code="BAD")])
    # The race: reprocess read version 1 as the newest and will replay version 2, while the
    # EHR's own version 2 is formatted (and fails) before reprocess marks the failure.
    handle(engine, handler, [charge(version=2, procedure_code="BAD2")])
    _reprocessing(engine, clock)
    [refused] = _replayed(engine, handler, charge(version=2))  # the replay, corrected
    assert refused.topic.endswith("dead-letter")
    status, reasons = _failure(engine)
    assert status == "open"
    assert reasons[-1][0] == REPROCESS_REFUSED
    assert reasons[-1][1].startswith(
        "reprocessed version 2 was not formatted: charge CH-1 version 2 was already"
    )
    # A redelivery of the refused replay changes nothing more.
    _replayed(engine, handler, charge(version=2))
    assert _failure(engine) == (status, reasons)


def test_only_a_replay_reopens_and_only_a_current_one(
    engine: Engine, handler: FormatterHandler, clock: Clock
) -> None:
    handle(engine, handler, [charge(procedure_code="BAD"), charge(version=2, procedure_code="BAD2")])
    _reprocessing(engine, clock)
    # The EHR's own conflicting message is refused, but it is not the replay the failure waits for.
    [refused] = handle(engine, handler, [charge(version=2)])
    assert refused.topic.endswith("dead-letter")
    # Nor is a late copy of an older request's replay (version 1, older than the failure's).
    [stale] = _replayed(engine, handler, charge(version=1, procedure_code="OLD"))
    assert stale.topic.endswith("dead-letter")
    status, reasons = _failure(engine)
    assert status == "reprocessing"
    assert REPROCESS_REFUSED not in {code for code, _ in reasons}
