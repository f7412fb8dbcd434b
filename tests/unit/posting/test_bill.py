from __future__ import annotations

import datetime as dt
from decimal import Decimal

from contracts.posting import BillState
from tests.unit.posting.builders import CREATED, bill_after, make_claim
from workers.posting.bill import bills_from_claims, first_claims, open_bill, reopen_from_claim, to_state


def test_open_bill_from_claim() -> None:
    bill = open_bill(make_claim(total="120.5"))
    assert [(p.sequence, p.payer_id, p.payer_type) for p in bill.payers] == [
        (1, "MCR", "medicare"),
        (2, "AET", "commercial"),
        (3, "PAT-1", "patient"),
    ]
    assert (bill.billed_amount, bill.balance) == (Decimal("120.50"), Decimal("120.50"))
    assert str(bill.balance) == "120.50"
    assert bill.current_payer == 1 and bill.current is bill.payers[0]
    assert bill.claim_date == CREATED.date()
    assert not (bill.rejected or bill.on_hold or bill.in_collections or bill.killed)
    assert bill.invariant_violations() == []


def test_replacement_claim_clears_rejected() -> None:
    rejected = bill_after("J >2")
    replacement = make_claim(claim_id="CL-2", frequency="replacement")
    again = reopen_from_claim(rejected, replacement)
    assert not again.rejected
    assert again.current_payer == 2 and again.balance == rejected.balance


def test_original_claim_for_existing_bill_changes_nothing() -> None:
    rejected = bill_after("J")
    assert reopen_from_claim(rejected, make_claim(claim_id="CL-2")) is rejected


def test_claims_open_new_bills_and_change_only_what_they_change() -> None:
    rejected = bill_after("J")
    first = make_claim("B2", claim_id="CL-B2")
    replacement = make_claim(claim_id="CL-2", frequency="replacement")
    duplicate = make_claim(claim_id="CL-3")
    changed = bills_from_claims([first, replacement, duplicate], {rejected.bill_id: rejected})
    assert changed == {"B2": open_bill(first), rejected.bill_id: reopen_from_claim(rejected, replacement)}
    assert not changed[rejected.bill_id].rejected


def test_a_claim_delivered_twice_counts_once_in_arrival_order() -> None:
    a, b = make_claim("B1", claim_id="CL-1"), make_claim("B2", claim_id="CL-2")
    again = make_claim("B1", claim_id="CL-1", total="1.00")
    assert list(first_claims([a, b, again]).values()) == [a, b]


def test_to_state() -> None:
    bill = bill_after("P 50", "F 20", "F 5", "RB", claim_id="CL-9")
    state = to_state(bill)
    assert isinstance(state, BillState)
    assert state.claim_id == "CL-9" and state.claim_date == dt.date(2024, 3, 1)
    assert state.payers[0].refunds == Decimal("25.00")
    assert state.payers[0].cash_balance == Decimal("25.00")
    assert state.payers[0].transaction_count == 3
    assert state.rebill_history == [1] and state.current_payer == 2
    assert state.model_dump(mode="json")["balance"] == "75.00"
