"""Bills, the ledger and the answers round-trip through SQL exactly (money to the cent)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from claimflow.db import make_engine, metadata, unit_of_work
from contracts.codec import encode
from contracts.posting import Posting
from tests.unit.posting.builders import bill_after, make_claim
from workers.posting import storage, tables
from workers.posting.rules import Applied, answer, apply_posting

TABLES = [
    tables.bills,
    tables.bill_payers,
    tables.ledger,
    tables.posting_answers,
    tables.opened_claims,
]
AT = dt.datetime(2024, 3, 2, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    # The posting tables straight from storage.py, so these tests check the tables the
    # migration is written from, not the migration.
    engine = make_engine(db_url)
    metadata.create_all(engine, tables=TABLES)
    yield engine
    metadata.drop_all(engine, tables=TABLES)
    engine.dispose()


def test_bill_round_trip(engine: Engine) -> None:
    bill = bill_after("AR 12.34", "P 50.01", "F 20", "F 0.10", "C 3.33", "RB", "HA", "SL", "J")
    empty = bill_after(bill_id="B2", payers=())
    with unit_of_work(engine) as conn:
        storage.save_bills(conn, [bill, empty])
    with unit_of_work(engine) as conn:
        loaded = storage.load_bills(conn, ["B1", "B2", "B-missing"])
    assert loaded == {"B1": bill, "B2": empty}
    assert loaded["B1"].payers[0].refunds == (Decimal("20.00"), Decimal("0.10"))
    assert str(loaded["B1"].balance) == str(bill.balance)


def test_save_updates_changed_bills(engine: Engine) -> None:
    with unit_of_work(engine) as conn:
        storage.save_bills(conn, [bill_after("P 10"), bill_after(bill_id="B2")])
    changed = bill_after("P 10", "RB", "P 5", "F 5", "HA")
    with unit_of_work(engine) as conn:
        storage.save_bills(conn, [changed])
    with unit_of_work(engine) as conn:
        loaded = storage.load_bills(conn, ["B1", "B2"])
        assert loaded["B1"] == changed
        assert loaded["B2"] == bill_after(bill_id="B2")
        assert conn.execute(select(func.count()).select_from(tables.bill_payers)).scalar() == 6


def test_save_over_stored_bills_writes_what_changed(engine: Engine) -> None:
    with unit_of_work(engine) as conn:
        storage.save_bills(conn, [bill_after("P 10"), bill_after(bill_id="B2"), bill_after(bill_id="B3")])
    with unit_of_work(engine) as conn:
        stored = storage.load_bills(conn, ["B1", "B2", "B3"], for_update=True)
        paid = bill_after("P 10", "C 5", "RB", "P 7", "HA")  # two payers' money moves
        fewer = dataclasses.replace(stored["B2"], payers=stored["B2"].payers[:1], on_hold=True)
        held = dataclasses.replace(stored["B3"], on_hold=True)  # no payer changes
        storage.save_bills(conn, [paid, fewer, held], stored=stored)
    with unit_of_work(engine) as conn:
        assert storage.load_bills(conn, ["B1", "B2", "B3"]) == {"B1": paid, "B2": fewer, "B3": held}
        assert conn.execute(select(func.count()).select_from(tables.bill_payers)).scalar() == 7


def test_many_bills_in_one_batch(engine: Engine) -> None:
    many = [bill_after(bill_id=f"B{i}", total=f"{i}.99") for i in range(storage.CHUNK + 7)]
    with unit_of_work(engine) as conn:
        storage.save_bills(conn, many)
    with unit_of_work(engine) as conn:
        loaded = storage.load_bills(conn, [b.bill_id for b in many])
        every = storage.load_all_bills(conn, company_id="CO1")
    assert loaded == {b.bill_id: b for b in many}
    assert len(every) == len(many)


def test_a_claim_opens_its_bill_once(engine: Engine) -> None:
    claim = make_claim("B1")
    with unit_of_work(engine) as conn:
        opened = storage.open_bills_from_claims(conn, [claim, claim])
    assert list(opened) == ["B1"]
    with unit_of_work(engine) as conn:
        assert storage.open_bills_from_claims(conn, [claim]) == {}
        assert storage.load_bills(conn, ["B1"])["B1"].balance == Decimal("100.00")


def test_replacement_claim_clears_rejected(engine: Engine) -> None:
    with unit_of_work(engine) as conn:
        storage.save_bills(conn, [bill_after("J >2")])
        conn.execute(tables.opened_claims.insert().values(claim_id="CL-B1", bill_id="B1"))
    replacement = make_claim("B1", claim_id="CL-B1-2", frequency="replacement", total="80.00")
    with unit_of_work(engine) as conn:
        changed = storage.open_bills_from_claims(conn, [replacement, make_claim("B3")])
    assert set(changed) == {"B1", "B3"}
    with unit_of_work(engine) as conn:
        bill = storage.load_bills(conn, ["B1"])["B1"]
        assert storage.open_bills_from_claims(conn, [replacement]) == {}
    assert not bill.rejected and bill.current_payer == 2
    assert bill.billed_amount == Decimal("100.00")  # money moves by postings only


def test_ledger_and_answers(engine: Engine) -> None:
    bill = bill_after()
    with unit_of_work(engine) as conn:
        storage.save_bills(conn, [bill])
    postings = [
        Posting(posting_id=f"PO-{i}", bill_id="B1", code=code, amount=amount, posted_at=AT)
        for i, (code, amount) in enumerate(
            [("PK", Decimal("40.10")), ("FR", Decimal("0.10")), ("HA", None), ("F", Decimal("99"))]
        )
    ]
    lines, answers = [], {}
    for posting in postings:
        outcome = apply_posting(bill, posting)
        if isinstance(outcome, Applied):
            bill = outcome.bill
            lines.append(outcome.line)
        answers[posting.posting_id] = encode(answer(posting, outcome, AT))
    with unit_of_work(engine) as conn:
        storage.save_bills(conn, [bill])
        storage.append_ledger(conn, lines)
        storage.record_answers(conn, answers)
    with unit_of_work(engine) as conn:
        assert storage.load_bills(conn, ["B1"])["B1"] == bill
        stored = storage.load_ledger(conn, ["B1"])
        found = storage.find_answers(conn, ["PO-0", "PO-3", "PO-9"])
        rows = conn.execute(select(tables.posting_answers.c.bill_id)).scalars().all()
    assert [dataclasses.replace(line, posted_at=None) for line in stored] == [
        dataclasses.replace(line, posted_at=None) for line in lines
    ]
    assert [(line.code, line.ledger_code, line.amount) for line in stored] == [
        ("PK", "PK", Decimal("40.10")),
        ("FR", "AP", Decimal("0.10")),
        ("HA", "HA", None),
    ]
    assert found == {"PO-0": answers["PO-0"], "PO-3": answers["PO-3"]}
    assert b"REFUND_EXCEEDS_CASH" in found["PO-3"]
    assert set(rows) == {"B1"}
    with pytest.raises(IntegrityError), unit_of_work(engine) as conn:
        storage.record_answers(conn, {"PO-0": answers["PO-0"]})


def test_nothing_is_kept_when_the_unit_of_work_fails(engine: Engine) -> None:
    with pytest.raises(RuntimeError), unit_of_work(engine) as conn:
        storage.save_bills(conn, [bill_after()])
        raise RuntimeError("the batch failed")
    with unit_of_work(engine) as conn:
        assert storage.load_bills(conn, ["B1"]) == {}
