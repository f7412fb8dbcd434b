"""The formatter's handler and storage on a real database (SQLite and PostgreSQL), no broker:
holds, redelivery, stale versions, failures that carry their oldest date, resolution."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import orjson
import pytest
from sqlalchemy import Engine, select

from claimflow.db import create_all, make_engine, unit_of_work
from contracts import Charge
from contracts.codec import encode
from tests.factories import charge
from workers.common.messages import Incoming, Outgoing, Received
from workers.formatter import storage, tables
from workers.formatter.handler import FormatterHandler
from workers.formatter.rules import RuleBook


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


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


def handle(engine: Engine, handler: FormatterHandler, charges: Sequence[Charge]) -> list[Outgoing]:
    batch = [
        Incoming(c, Received("billing.charges", 0, i, c.account.encode(), encode(c)))
        for i, c in enumerate(charges)
    ]
    with unit_of_work(engine) as conn:
        return handler.handle(conn, batch)


def kinds(out: list[Outgoing]) -> list[str]:
    return [orjson.loads(o.value).get("type", "DeadLetter") if o.value[:1] == b"{" else "raw" for o in out]


def test_redelivery_answers_the_same_bytes_and_adds_nothing(engine, handler) -> None:
    first = handle(engine, handler, [charge(charge_id="A"), charge(charge_id="B", procedure_code="BAD")])
    again = handle(engine, handler, [charge(charge_id="A"), charge(charge_id="B", procedure_code="BAD")])

    def triples(out: list[Outgoing]) -> list[tuple[str, bytes | None, bytes]]:
        return sorted((o.topic, o.key, o.value) for o in out)

    assert triples(again) == triples(first)
    with engine.connect() as conn:
        assert len(conn.execute(select(tables.claims)).all()) == 1
        assert len(conn.execute(select(tables.runs)).all()) == 1  # a pure replay takes no run


def test_a_stale_version_is_dead_lettered(engine, handler) -> None:
    handle(engine, handler, [charge(version=2)])
    [out] = handle(engine, handler, [charge(version=1)])
    assert out.topic.endswith("dead-letter")
    assert dict(out.headers)["x-error_kind"] == b"invalid"


def test_another_charge_under_a_handled_version_is_dead_lettered(engine, handler) -> None:
    # The race it guards: reprocess replays a failure as version 2 while the EHR sends its
    # own version 2. Whichever comes second must not get the first one's answers.
    first = handle(engine, handler, [charge(version=2, procedure_code="BAD")])
    [refused] = handle(engine, handler, [charge(version=2)])
    assert refused.topic.endswith("dead-letter")
    headers = dict(refused.headers)
    assert headers["x-error_kind"] == b"invalid"
    assert b"already handled with different content" in headers["x-error"]
    assert refused.value == encode(charge(version=2))
    # A redelivery of the first (even restamped) still gets its answers, and nothing changed.
    restamped = charge(version=2, procedure_code="BAD", submitted_at=dt.datetime(2026, 11, 20, tzinfo=dt.UTC))
    assert handle(engine, handler, [restamped]) == first
    with engine.connect() as conn:
        assert conn.execute(select(tables.claims)).all() == []
        assert conn.execute(select(tables.failures.c.status)).scalar() == "open"


def test_another_charge_under_the_same_version_in_one_batch_is_dead_lettered(engine, handler) -> None:
    out = handle(engine, handler, [charge(), charge(), charge(procedure_code="97112")])
    assert [o.topic.rsplit(".", 1)[-1] for o in out] == ["dead-letter", "claims"]
    assert b"different content" in dict(out[0].headers)["x-error"]
    with engine.connect() as conn:
        assert len(conn.execute(select(tables.claim_lines)).all()) == 1


def test_failure_keeps_its_oldest_date_and_resolves_on_a_good_version(engine, handler, clock) -> None:
    handle(engine, handler, [charge(procedure_code="BAD")])
    clock.now += dt.timedelta(days=2)
    handle(engine, handler, [charge(version=2, procedure_code="BAD2")])
    with engine.connect() as conn:
        row = conn.execute(select(tables.failures)).one()
    assert row.oldest_failure_date == dt.date(2026, 11, 20)
    assert row.last_failure_date == dt.date(2026, 11, 22)
    assert row.failure_count == 2 and row.latest_version == 2
    out = handle(engine, handler, [charge(version=3)])
    assert sorted(kinds(out)) == ["ChargeFailureResolved", "Claim"]
    with engine.connect() as conn:
        assert conn.execute(select(tables.failures.c.status)).scalar() == "resolved"


def test_two_failing_versions_in_one_batch_are_one_failure(engine, handler) -> None:
    out = handle(engine, handler, [charge(procedure_code="BAD"), charge(version=2, procedure_code="BAD2")])
    assert kinds(out) == ["ChargeFailed", "ChargeFailed"]
    with engine.connect() as conn:
        row = conn.execute(select(tables.failures)).one()
        events = conn.execute(select(tables.failure_events)).all()
    assert row.latest_version == 2 and row.failure_count == 1
    assert len(events) == 2


def test_a_held_charge_waits_for_its_date_then_goes_out(engine, handler, clock) -> None:
    held = charge(claim_delay_until=dt.date(2026, 11, 25))
    assert handle(engine, handler, [held]) == []
    # Redelivered before its date: still held, still due later.
    assert handle(engine, handler, [held]) == []
    with engine.connect() as conn:
        assert storage.due_holds(conn, dt.date(2026, 11, 24)) == []
        [(key, raw)] = storage.due_holds(conn, dt.date(2026, 11, 25))
    assert key == held.account
    clock.now = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
    out = handle(engine, handler, [Charge.model_validate_json(raw)])
    assert kinds(out) == ["Claim"]
    with engine.connect() as conn:
        assert storage.due_holds(conn, dt.date(2026, 11, 30)) == []


def test_a_second_charge_for_the_same_service_is_a_duplicate(engine, handler) -> None:
    handle(engine, handler, [charge(charge_id="A")])
    out = handle(engine, handler, [charge(charge_id="B")])
    [failed] = [orjson.loads(o.value) for o in out]
    assert [r["code"] for r in failed["reasons"]] == ["DUPLICATE_CHARGE"]


def test_run_numbers_are_monotonic(engine, handler) -> None:
    for i in range(3):
        handle(engine, handler, [charge(charge_id=f"R{i}", procedure_code="BAD")])
    with engine.connect() as conn:
        f = tables.failures.c
        runs = conn.execute(select(f.run_number).order_by(f.charge_id)).scalars()
        assert list(runs) == [1, 2, 3]
