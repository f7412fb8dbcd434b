"""A failure whose reprocessed version is refused goes back to `open`, with the reason.

Reprocess replays a failure as the next version and announces it; the formatter marks the
failure `reprocessing` and normally answers that version (a claim or a new failure). When
it dead-letters it instead (another message took the version number, or a newer version
was handled), the failure must not wait in `reprocessing` forever (real database, no broker).
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, select

from claimflow.db import create_all, make_engine, unit_of_work
from contracts import Charge, ReplayedCharge, ReprocessResult
from contracts.codec import encode
from contracts.reprocess import REPLAYED_BY_REQUEST
from tests.factories import charge
from tests.integration.test_formatter_storage import Clock, handle
from workers.common.messages import Incoming, Outgoing, Received
from workers.formatter import tables
from workers.formatter.failure_rows import REPROCESS_REFUSED
from workers.formatter.handler import FormatterHandler
from workers.formatter.replays import ReplayAnnouncements
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


def announce(engine: Engine, clock: Clock, version: int, company_id: str = "acme-therapy") -> str:
    """Reprocess's result naming a replay of CH-1 as `version`, as the formatter reads it;
    returns the failure's status afterwards."""
    result = ReprocessResult(
        request_id="R1",
        company_id=company_id,
        requested_by="biller-1",
        replayed=[ReplayedCharge(charge_id="CH-1", new_version=version)],
        completed_at=clock(),
    )
    source = Received("billing.reprocess-results", 0, 7, b"R1", encode(result))
    with unit_of_work(engine) as conn:
        assert ReplayAnnouncements(clock=clock).handle(conn, [Incoming(result, source)]) == []
    return _failure(engine)[0]


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
    # The announcement comes after the EHR's version 2 was answered: nothing waits for it.
    assert announce(engine, clock, version=2) == "open"
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
    assert announce(engine, clock, version=3) == "reprocessing"
    # The EHR's own conflicting message is refused, but it is not the replay the failure waits for.
    [refused] = handle(engine, handler, [charge(version=2)])
    assert refused.topic.endswith("dead-letter")
    # Nor is a late copy of an older request's replay (version 1, older than the failure's).
    [stale] = _replayed(engine, handler, charge(version=1, procedure_code="OLD"))
    assert stale.topic.endswith("dead-letter")
    status, reasons = _failure(engine)
    assert status == "reprocessing"
    assert REPROCESS_REFUSED not in {code for code, _ in reasons}


def test_an_announcement_marks_only_a_replay_still_unanswered(
    engine: Engine, handler: FormatterHandler, clock: Clock
) -> None:
    handle(engine, handler, [charge(procedure_code="BAD")])
    # Another company's result does not move this company's failure.
    assert announce(engine, clock, version=2, company_id="bayside-rehab") == "open"
    assert announce(engine, clock, version=2) == "reprocessing"
    # Read twice (a redelivery): the same state.
    assert announce(engine, clock, version=2) == "reprocessing"
    # The replay is answered; a late copy of the announcement does not undo the answer.
    _replayed(engine, handler, charge(version=2, procedure_code="BAD3"))
    assert _failure(engine)[0] == "open"
    assert announce(engine, clock, version=2) == "open"


def test_a_replay_refused_before_its_announcement_leaves_the_failure_open_with_the_reason(
    engine: Engine, handler: FormatterHandler, clock: Clock
) -> None:
    handle(engine, handler, [charge(procedure_code="BAD"), charge(version=2, procedure_code="BAD2")])
    [refused] = _replayed(engine, handler, charge(version=2))  # the replay reached the formatter first
    assert refused.topic.endswith("dead-letter")
    assert announce(engine, clock, version=2) == "open"
    status, reasons = _failure(engine)
    assert status == "open" and [code for code, _ in reasons].count(REPROCESS_REFUSED) == 1
