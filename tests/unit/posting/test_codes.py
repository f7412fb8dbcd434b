"""One row per line of the spec's code table: each code's effect and every rejection.

A row is (given postings, the posting, expected). Expected is a reason code for a
rejection, or the fields that must hold after the posting (money as strings). The bill
starts at billed 100.00 with payers 1 Medicare, 2 Aetna, 3 Pat Doe (patient).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.posting.builders import bill_after, parse, post
from workers.posting.bill import Bill
from workers.posting.codes import REGISTRY, rule_for
from workers.posting.rules import Applied, Rejected


def row(id_: str, given: tuple[str, ...], posting: str, expected: str | dict[str, Any]) -> Any:
    return pytest.param(given, posting, expected, id=id_)


ROWS = [
    # P… payment
    row("P-pays-current", (), "P 40.00", {"balance": "60.00", "cash1": "40.00", "count1": 1}),
    row("P-practice-code-PK", (), "PK 40", {"cash1": "40.00", "ledger_code": "PK"}),
    row("P-practice-code-PI-payer2", ("P 40", "RB"), "PI 30", {"cash2": "30.00", "balance": "30.00"}),
    row("P-overpayment-is-credit", (), "PC 150", {"balance": "-50.00", "cash1": "150.00"}),
    row("P-on-hold-allowed", ("HA",), "P 10", {"cash1": "10.00", "on_hold": True}),
    row("P-in-collections-allowed", ("SL",), "P 10", {"cash1": "10.00"}),
    row("P-with-bad-debt-allowed", ("WB 100",), "P 10", {"balance": "-10.00", "bad_debt": "100.00"}),
    row("P-rejected-bill-allowed", ("J",), "P 10", {"cash1": "10.00", "rejected": True}),
    row("P-reject-killed", ("WB 100", "KB"), "P 10", "BILL_KILLED"),
    row("P-reject-no-amount", (), "P", "AMOUNT_REQUIRED"),
    row("P-reject-zero", (), "P 0", "AMOUNT_NOT_POSITIVE"),
    row("P-reject-negative", (), "P -5", "AMOUNT_NOT_POSITIVE"),
    row("P-reject-fraction-of-cent", (), "P 1.005", "AMOUNT_NOT_CENTS"),
    row("P-reject-next-payer", (), "P 10 >2", "NEXT_PAYER_NOT_ALLOWED"),
    # C… contractual allowance
    row("C-to-zero", (), "C 100", {"balance": "0.00", "contractual1": "100.00", "count1": 1}),
    row("C-practice-code-CX", ("P 60",), "CX 40", {"balance": "0.00", "contractual1": "40.00"}),
    row("C-reject-below-zero", ("P 60",), "C 50", "CONTRACTUAL_EXCEEDS_BALANCE"),
    row("C-reject-on-credit", ("P 120",), "C 1", "CONTRACTUAL_EXCEEDS_BALANCE"),
    row("C-reject-zero", (), "C 0", "AMOUNT_NOT_POSITIVE"),
    # AR revenue adjustment
    row("AR-positive", (), "AR 25", {"late_fee": "25.00", "billed": "125.00", "balance": "125.00"}),
    row("AR-negative", ("AR 25",), "AR -10", {"late_fee": "15.00", "billed": "115.00", "balance": "115.00"}),
    row("AR-negative-to-zero", ("AR 25",), "AR -25", {"late_fee": "0.00", "billed": "100.00"}),
    row("AR-not-a-payer-transaction", (), "AR 5", {"count1": 0}),
    row("AR-reject-negative-late-fee", (), "AR -10", "LATE_FEE_NEGATIVE"),
    row("AR-reject-below-late-fee", ("AR 25",), "AR -30", "LATE_FEE_NEGATIVE"),
    row("AR-reject-zero", (), "AR 0", "AMOUNT_ZERO"),
    row("AR-reject-missing", (), "AR", "AMOUNT_REQUIRED"),
    # AP payment adjustment
    row("AP-cancels-payment", ("P 40",), "AP 15", {"cash1": "25.00", "balance": "75.00", "count1": 2}),
    row("AP-reject-over-cash", ("P 40",), "AP 50", "PAYMENT_ADJUSTMENT_EXCEEDS_CASH"),
    row("AP-reject-cash-on-previous", ("P 40", "RB"), "AP 10", "PAYMENT_ADJUSTMENT_EXCEEDS_CASH"),
    row("AP-reject-negative", ("P 40",), "AP -10", "AMOUNT_NOT_POSITIVE"),
    # AB bad-debt adjustment
    row("AB-cancels-after-write-off", ("WB 100", "P 30"), "AB 30", {"bad_debt": "70.00", "balance": "0.00"}),
    row("AB-part-of-credit", ("WB 100", "P 30"), "AB 10", {"bad_debt": "90.00", "balance": "-20.00"}),
    row("AB-reject-no-bad-debt", ("P 130",), "AB 10", "NO_BAD_DEBT"),
    row("AB-reject-over-bad-debt", ("WB 20", "P 100"), "AB 30", "BAD_DEBT_ADJUSTMENT_EXCEEDS_BAD_DEBT"),
    row("AB-reject-balance-owed", ("WB 40",), "AB 10", "BALANCE_NOT_A_CREDIT"),
    row("AB-reject-credit-too-small", ("WB 100", "P 10"), "AB 20", "BALANCE_NOT_A_CREDIT"),
    # AC contractual adjustment
    row("AC-cancels-allowance", ("C 30",), "AC 10", {"contractual1": "20.00", "balance": "80.00"}),
    row("AC-reject-over-allowance", ("C 30",), "AC 40", "CONTRACTUAL_ADJUSTMENT_EXCEEDS_CONTRACTUAL"),
    row(
        "AC-reject-allowance-on-previous",
        ("C 30", "RB"),
        "AC 10",
        "CONTRACTUAL_ADJUSTMENT_EXCEEDS_CONTRACTUAL",
    ),
    # F… refund
    row(
        "F-refund",
        ("P 50",),
        "F 20",
        {"cash1": "30.00", "refunds1": ("20.00",), "balance": "70.00", "ledger_code": "AP", "count1": 2},
    ),
    row("F-practice-code-FR", ("P 50",), "FR 50", {"cash1": "0.00", "ledger_code": "AP"}),
    row("F-reject-over-cash", ("P 20",), "F 50", "REFUND_EXCEEDS_CASH"),
    row("F-reject-cash-on-previous", ("P 50", "RB"), "F 10", "REFUND_EXCEEDS_CASH"),
    # UF undo refund
    row(
        "UF-undo",
        ("P 50", "F 20"),
        "UF 20",
        {"cash1": "50.00", "refunds1": (), "balance": "50.00", "ledger_code": "AP"},
    ),
    row("UF-one-of-two-equal", ("P 50", "F 20", "F 20"), "UF 20", {"refunds1": ("20.00",)}),
    row("UF-reject-other-amount", ("P 50", "F 20"), "UF 10", "NO_SUCH_REFUND"),
    row("UF-reject-already-undone", ("P 50", "F 20", "UF 20"), "UF 20", "NO_SUCH_REFUND"),
    row("UF-reject-refund-on-other-payer", ("P 50", "F 20", "RB"), "UF 20", "NO_SUCH_REFUND"),
    # J… rejection
    row("J-sets-rejected", (), "J", {"rejected": True, "current": 1}),
    row("J-practice-code-moves-payer", (), "JX >2", {"rejected": True, "current": 2}),
    row("J-on-new-payer-after-RB", ("P 10", "RB"), "J >3", {"current": 3, "history": (1,)}),
    row("J-reject-with-payment", ("P 10",), "J", "REJECTION_WITH_TRANSACTIONS"),
    row("J-reject-with-contractual", ("C 10",), "J", "REJECTION_WITH_TRANSACTIONS"),
    # The amended row: a payment cancelled (P then AP, or P then F) leaves nothing standing.
    row("J-after-cancelled-payment", ("P 10", "AP 10"), "J >2", {"current": 2, "rejected": True}),
    row("J-after-refunded-payment", ("P 10", "F 10"), "J >2", {"current": 2, "rejected": True}),
    # The trap the amendment removes: P 20; AP 20; RB is refused (no payment stands) ...
    row("J-trap-RB-refused", ("P 20", "AP 20"), "RB", "NO_PAYMENT_ON_CURRENT"),
    # ... and J >2 now moves the payer.
    row("J-trap-J-moves-payer", ("P 20", "AP 20"), "J >2", {"current": 2, "count1": 2}),
    row("J-reject-payer-not-on-bill", (), "J >4", "NO_SUCH_PAYER"),
    row("J-reject-amount", (), "J 10", "AMOUNT_NOT_ALLOWED"),
    # SL / UL collections
    row("SL-sends", (), "SL", {"in_collections": True}),
    row("SL-reject-already", ("SL",), "SL", "ALREADY_IN_COLLECTIONS"),
    row("SL-reject-zero-balance", ("P 100",), "SL", "NOTHING_TO_COLLECT"),
    row("SL-reject-credit", ("P 120",), "SL", "NOTHING_TO_COLLECT"),
    row("SL-reject-amount", (), "SL 10", "AMOUNT_NOT_ALLOWED"),
    row("UL-undoes", ("SL",), "UL", {"in_collections": False}),
    row("UL-reject-not-in-collections", (), "UL", "NOT_IN_COLLECTIONS"),
    # WB write-off to bad debt
    row("WB-some", (), "WB 40", {"balance": "60.00", "bad_debt": "40.00", "count1": 0}),
    row("WB-all", (), "WB 100", {"balance": "0.00", "bad_debt": "100.00"}),
    row("WB-reject-over-balance", (), "WB 100.01", "WRITE_OFF_EXCEEDS_BALANCE"),
    # RB rebill / UR undo rebill
    row("RB-moves-to-next", ("P 40",), "RB", {"current": 2, "history": (1,)}),
    row("RB-after-contractual", ("C 30",), "RB", {"current": 2}),
    row("RB-reject-nothing-owed", ("P 100",), "RB", "NOTHING_TO_REBILL"),
    row("RB-reject-last-payer", ("P 10", "RB", "P 10", "RB", "P 10"), "RB", "NO_NEXT_PAYER"),
    row("RB-reject-no-payment", (), "RB", "NO_PAYMENT_ON_CURRENT"),
    row("RB-reject-payment-cancelled", ("P 10", "AP 10"), "RB", "NO_PAYMENT_ON_CURRENT"),
    row("UR-back-to-previous", ("P 40", "RB"), "UR", {"current": 1, "history": ()}),
    row("UR-one-of-two", ("P 10", "RB", "P 10", "RB"), "UR", {"current": 2, "history": (1,)}),
    row("UR-reject-no-rebill", (), "UR", "NO_REBILL_TO_UNDO"),
    row("UR-reject-rebill-undone", ("P 40", "RB", "UR"), "UR", "NO_REBILL_TO_UNDO"),
    # HA / TH hold
    row("HA-holds", (), "HA", {"on_hold": True}),
    row("HA-reject-already", ("HA",), "HA", "ALREADY_ON_HOLD"),
    row("TH-takes-off", ("HA",), "TH", {"on_hold": False}),
    row("TH-reject-not-on-hold", (), "TH", "NOT_ON_HOLD"),
    # KB / UK kill
    row("KB-reject-untouched-bill", (), "KB", "BILL_HAS_BALANCES"),
    row(
        "KB-kills-written-off-bill",
        ("WB 100",),
        "KB",
        {"killed": True, "balance": "0.00", "bad_debt": "100.00"},
    ),
    row("KB-after-cancelled-payment", ("P 10", "AP 10", "WB 100"), "KB", {"killed": True}),
    row("KB-reject-cash", ("P 10",), "KB", "BILL_HAS_BALANCES"),
    row("KB-reject-contractual", ("C 10",), "KB", "BILL_HAS_BALANCES"),
    row("KB-reject-late-fee", ("AR 5",), "KB", "BILL_HAS_BALANCES"),
    row("KB-reject-balance-left", ("WB 60",), "KB", "BILL_HAS_BALANCES"),
    row("KB-reject-not-first-payer", ("J >2", "WB 100"), "KB", "NOT_FIRST_PAYER"),
    row("KB-reject-killed", ("WB 100", "KB"), "KB", "BILL_KILLED"),
    row("UK-restores", ("WB 100", "KB"), "UK", {"killed": False, "balance": "0.00", "bad_debt": "100.00"}),
    row("UK-reject-not-killed", (), "UK", "NOT_KILLED"),
    row("killed-takes-no-HA", ("WB 100", "KB"), "HA", "BILL_KILLED"),
    row("killed-takes-no-J", ("WB 100", "KB"), "J", "BILL_KILLED"),
    # codes outside every family
    row("unknown-ZZ", (), "ZZ 10", "UNKNOWN_CODE"),
    row("unknown-A-is-not-a-family", (), "A 10", "UNKNOWN_CODE"),
    row("unknown-AX", (), "AX 10", "UNKNOWN_CODE"),
    row("unknown-on-killed-bill", ("WB 100", "KB"), "ZZ", "UNKNOWN_CODE"),
]


def view(bill: Bill, outcome: Applied) -> dict[str, Any]:
    """The bill's fields under the short names the rows use."""
    fields: dict[str, Any] = {
        "balance": str(bill.balance),
        "billed": str(bill.billed_amount),
        "late_fee": str(bill.late_fee_balance),
        "bad_debt": str(bill.bad_debt),
        "current": bill.current_payer,
        "history": bill.rebill_history,
        "rejected": bill.rejected,
        "on_hold": bill.on_hold,
        "in_collections": bill.in_collections,
        "killed": bill.killed,
        "ledger_code": outcome.line.ledger_code,
    }
    for p in bill.payers:
        fields[f"cash{p.sequence}"] = str(p.cash_balance)
        fields[f"contractual{p.sequence}"] = str(p.contractual_balance)
        fields[f"refunds{p.sequence}"] = tuple(str(r) for r in p.refunds)
        fields[f"count{p.sequence}"] = p.transaction_count
    return fields


@pytest.mark.parametrize(("given", "posting", "expected"), ROWS)
def test_code_table(given: tuple[str, ...], posting: str, expected: str | dict[str, Any]) -> None:
    before = bill_after(*given)
    outcome = post(before, posting)
    if isinstance(expected, str):
        assert isinstance(outcome, Rejected), outcome
        assert outcome.reason_code == expected, outcome.reason
        assert outcome.reason
    else:
        assert isinstance(outcome, Applied), outcome
        got = view(outcome.bill, outcome)
        assert {k: got[k] for k in expected} == expected
        assert outcome.bill.invariant_violations() == []
    assert before == bill_after(*given), "apply changed its input"


def test_every_registered_code_has_rows() -> None:
    covered = set()
    for param in ROWS:
        rule = rule_for(parse(param.values[1])[0])
        if rule is not None:
            covered.add(rule.code)
    assert covered == set(REGISTRY)
