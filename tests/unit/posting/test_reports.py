from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tests.unit.posting.builders import CREATED, bill_after, post
from workers.posting.bill import Bill
from workers.posting.reports import (
    BUCKETS,
    aging,
    aging_bucket,
    collections,
    ledger_rows,
    statement_candidates,
    warning_letter_candidates,
)
from workers.posting.rules import Applied

CLAIMED = CREATED.date()


@pytest.mark.parametrize(
    ("days", "bucket"),
    [
        (-3, "0-30"),
        (0, "0-30"),
        (30, "0-30"),
        (31, "31-60"),
        (60, "31-60"),
        (61, "61-90"),
        (90, "61-90"),
        (91, "91-120"),
        (120, "91-120"),
        (121, "over 120"),
        (900, "over 120"),
    ],
)
def test_aging_bucket_edges(days: int, bucket: str) -> None:
    assert aging_bucket(CLAIMED, CLAIMED + dt.timedelta(days=days)) == bucket


def aged(bill_id: str, days_old: int, *postings: str) -> Bill:
    created = CREATED - dt.timedelta(days=days_old)
    return bill_after(*postings, bill_id=bill_id, created_at=created)


def test_aging_groups_by_current_payer_and_leaves_out_inactive_bills() -> None:
    bills = [
        aged("B1", 10),  # Medicare 0-30: 100
        aged("B2", 45, "P 30"),  # Medicare 31-60: 70
        aged("B3", 200, "P 60", "RB"),  # Aetna over 120: 40
        aged("B4", 95, "P 60", "RB", "P 20", "RB"),  # patient 91-120: 20
        aged("B5", 10, "HA"),  # on hold
        aged("B6", 10, "SL"),  # in collections
        aged("B10", 10, "WB 100", "KB"),  # killed
        aged("B8", 10, "P 100"),  # nothing owed
        aged("B9", 10, "P 120"),  # credit
    ]
    report = aging(bills, CLAIMED)
    rows = {r.payer_id: r for r in report.rows}
    assert set(rows) == {"MCR", "AET", "PAT-1"}
    assert rows["MCR"].buckets["0-30"] == Decimal("100.00")
    assert rows["MCR"].buckets["31-60"] == Decimal("70.00")
    assert (rows["MCR"].total, rows["MCR"].bill_count) == (Decimal("170.00"), 2)
    assert rows["AET"].buckets["over 120"] == Decimal("40.00")
    assert rows["PAT-1"].buckets["91-120"] == Decimal("20.00")
    assert rows["PAT-1"].payer_name == "Pat Doe"
    assert set(report.totals) == set(BUCKETS)
    assert report.total == Decimal("230.00")


def test_statements_and_warning_letters_are_for_patients_who_owe() -> None:
    to_patient = ("P 60", "RB", "P 20", "RB")
    bills = [
        bill_after(*to_patient, bill_id="S1"),
        bill_after(*to_patient, "P 20", bill_id="S2"),  # paid off
        bill_after(*to_patient, "HA", bill_id="S3"),
        bill_after(*to_patient, "SL", bill_id="S4"),
        bill_after("P 60", "RB", bill_id="S5"),  # Aetna is current
        bill_after(bill_id="S6", payers=(("PAT-1", "Pat Doe", "patient"),)),
    ]
    assert [b.bill_id for b in statement_candidates(bills)] == ["S1", "S6"]
    assert [b.bill_id for b in warning_letter_candidates(bills)] == ["S1", "S6"]


def test_collections_report() -> None:
    bills = [
        bill_after("SL", bill_id="C1"),
        bill_after("SL", "P 150", bill_id="C2"),  # a credit is still shown
        bill_after("SL", "HA", bill_id="C3"),  # the seed: hold leaves collection reports
        bill_after("SL", "UL", bill_id="C4"),
        bill_after(bill_id="C5"),
    ]
    rows = collections(bills)
    assert [(r.bill_id, r.balance, r.payer_name) for r in rows] == [
        ("C1", Decimal("100.00"), "Medicare"),
        ("C2", Decimal("-50.00"), "Medicare"),
    ]


def test_ledger_rows_show_write_off_as_bad_debt() -> None:
    bill = bill_after()
    lines = []
    for posting in ("P 50", "C 10", "F 5", "UF 5", "AR 2", "WB 20", "P 30", "AB 8", "HA"):
        outcome = post(bill, posting)
        assert isinstance(outcome, Applied), posting
        bill = outcome.bill
        lines.append(outcome.line)
    rows = ledger_rows(lines)
    assert [(r.code, r.ledger_code, r.column) for r in rows] == [
        ("P", "P", "payment"),
        ("C", "C", "contractual"),
        ("F", "AP", "payment"),
        ("UF", "AP", "payment"),
        ("AR", "AR", "revenue"),
        ("WB", "WB", "bad_debt"),
        ("P", "P", "payment"),
        ("AB", "AB", "bad_debt"),
        ("HA", "HA", "status"),
    ]
    assert rows[5].amount == Decimal("20.00")
    assert rows[-1].balance_after == bill.balance


def test_collections_keeps_a_written_off_bill_with_its_bad_debt() -> None:
    # The agency still works a bill written off to bad debt; 0.00 alone would read wrong.
    rows = collections([bill_after("SL", "WB 100", bill_id="W1"), bill_after("WB 40", "SL", bill_id="W2")])
    assert [(r.bill_id, r.balance, r.bad_debt, r.in_collections) for r in rows] == [
        ("W1", Decimal("0.00"), Decimal("100.00"), Decimal("100.00")),
        ("W2", Decimal("60.00"), Decimal("40.00"), Decimal("100.00")),
    ]
