"""The checks every code shares, the ledger line, the messages billers read, the answer."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from contracts.codec import decode, encode
from contracts.posting import Posting, PostingApplied, PostingRejected
from tests.unit.posting.builders import bill_after, post
from workers.posting import codes
from workers.posting.codes import REGISTRY, Amount, Code, rule_for
from workers.posting.rules import Applied, Rejected, answer, apply, apply_posting, bill_not_found

SPEC_FIXED = {"AR", "AP", "AB", "AC", "SL", "UL", "WB", "RB", "UR", "HA", "TH", "KB", "UK", "UF"}
SPEC_FAMILIES = {"P", "C", "F", "J"}
AT = dt.datetime(2024, 3, 2, tzinfo=dt.UTC)


def test_registry_is_the_spec_table() -> None:
    assert {k for k, r in REGISTRY.items() if r.family} == SPEC_FAMILIES
    assert {k for k, r in REGISTRY.items() if not r.family} == SPEC_FIXED


@pytest.mark.parametrize(
    ("posted", "rule"),
    [
        ("P", "P"),
        ("PC", "P"),
        ("PK", "P"),
        ("PI", "P"),
        ("CWO", "C"),
        ("FMCR", "F"),
        ("J1", "J"),
        ("AP", "AP"),
        ("UF", "UF"),
        ("A", None),
        ("U", None),
        ("APX", None),
    ],
)
def test_code_lookup(posted: str, rule: str | None) -> None:
    found = rule_for(posted)
    assert (found.code if found else None) == rule


def test_fixed_code_takes_precedence_over_family(monkeypatch: pytest.MonkeyPatch) -> None:
    fixed = Code("PZ", "test", Amount.NONE, lambda bill, _a, _n: bill)
    monkeypatch.setitem(REGISTRY, "PZ", fixed)
    assert rule_for("PZ") is fixed
    assert rule_for("PZZ") is REGISTRY["P"]


def test_registering_a_code_twice_fails() -> None:
    with pytest.raises(ValueError, match="twice"):
        codes.code("P", "again")(lambda bill, _a, _n: bill)


def test_lowercase_code_is_the_same_code() -> None:
    outcome = apply(bill_after(), " pk ", Decimal("10.00"))
    assert isinstance(outcome, Applied)
    assert outcome.line.code == "PK"


def test_ledger_line() -> None:
    outcome = post(bill_after("P 50", "RB"), "FR 20")
    assert isinstance(outcome, Rejected)  # the cash is on payer 1
    outcome = post(bill_after("P 50"), "FR 20")
    assert isinstance(outcome, Applied)
    line = outcome.line
    assert (line.bill_id, line.code, line.ledger_code) == ("B1", "FR", "AP")
    assert (line.amount, line.payer_sequence, line.balance_after) == (
        Decimal("20.00"),
        1,
        Decimal("70.00"),
    )
    assert outcome.lines == (line,)


def test_status_codes_have_a_ledger_line_without_amount() -> None:
    outcome = post(bill_after("P 40"), "RB")
    assert isinstance(outcome, Applied)
    assert (outcome.line.amount, outcome.line.payer_sequence) == (None, 1)


def test_refund_message_names_amounts_payer_and_hint() -> None:
    outcome = post(bill_after("P 20"), "F 50")
    assert outcome == Rejected(
        "REFUND_EXCEEDS_CASH",
        "refund 50.00 exceeds the cash balance 20.00 on the current payer (Medicare); "
        "probably not the correct payer: see Undo Rebill (UR)",
    )


@pytest.mark.parametrize(
    ("given", "posting", "words"),
    [
        (("P 40",), "AP 50", ["50.00", "40.00", "Medicare", "Undo Rebill (UR)"]),
        (("C 30", "RB"), "AC 10", ["0.00", "Aetna", "Undo Rebill"]),
        ((), "C 150", ["150.00", "100.00", "to zero, not below"]),
        ((), "AR -5", ["negative amount in the Late Fee Balance", "Never use AR"]),
        ((), "WB 200", ["all or some of the balance"]),
        (("P 10",), "J", ["Medicare", "cannot be posted with other transactions"]),
        ((), "RB", ["use a Rejection (J)"]),
        (("P 10", "RB", "P 10", "RB", "P 10"), "RB", ["add a payer to the bill"]),
        ((), "UR", ["only follows a Rebill"]),
        (("WB 100", "KB"), "P 10", ["post Undo Kill Bill (UK) first"]),
        ((), "ZZ", ["unknown transaction code"]),
        (("P 50", "F 20"), "UF 10", ["10.00", "20.00", "Medicare"]),
    ],
)
def test_messages_carry_the_hint(given: tuple[str, ...], posting: str, words: list[str]) -> None:
    outcome = post(bill_after(*given), posting)
    assert isinstance(outcome, Rejected)
    for word in words:
        assert word in outcome.reason


def test_bill_without_payers_takes_no_payer_transaction() -> None:
    bill = bill_after(payers=())
    outcome = post(bill, "P 10")
    assert isinstance(outcome, Rejected) and outcome.reason_code == "NO_CURRENT_PAYER"
    applied = post(bill, "WB 10")
    assert isinstance(applied, Applied) and applied.line.payer_sequence is None


def make_posting(code: str, amount: str | None = None, **kw: object) -> Posting:
    return Posting.model_validate(
        {"posting_id": "PO-1", "bill_id": "B1", "code": code, "amount": amount, "posted_at": AT, **kw}
    )


def test_apply_posting_stamps_the_line_and_answers_applied() -> None:
    posting = make_posting("PK", "40.00")
    outcome = apply_posting(bill_after(), posting)
    assert isinstance(outcome, Applied)
    assert (outcome.line.posting_id, outcome.line.posted_at) == ("PO-1", AT)
    message = answer(posting, outcome, AT)
    assert isinstance(message, PostingApplied)
    assert message.ledger_code == "PK"
    assert message.bill.payers[0].cash_balance == Decimal("40.00")
    assert decode(encode(message), PostingApplied) == message


def test_answer_rejected_round_trips() -> None:
    posting = make_posting("F", "50.00")
    message = answer(posting, apply_posting(bill_after("P 20"), posting), AT)
    assert isinstance(message, PostingRejected)
    assert message.reason_code == "REFUND_EXCEEDS_CASH"
    assert decode(encode(message), PostingRejected) == message


def test_bill_not_found() -> None:
    assert bill_not_found("B9").reason_code == "BILL_NOT_FOUND"
