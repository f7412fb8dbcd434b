"""The posting form's checks and the Bills search (pure)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.posting.builders import bill_after
from workers.report.web.bill_forms import MAX_AMOUNT, check_posting, find_bills, parse_amount, statuses

PAYERS = [1, 2, 3]


def check(
    code: str, amount: str = "", next_payer: str = "", note: str = "", pid: str = "web-1"
) -> dict[str, str]:
    return check_posting(pid, code, amount, next_payer, note, PAYERS).errors


@pytest.mark.parametrize(
    ("code", "amount", "next_payer"),
    [
        ("P", "40.00", ""),
        ("pk", "40", ""),
        ("AR", "-5.00", ""),
        ("HA", "", ""),
        ("J", "", "2"),
        ("F", "1,250.5", ""),
    ],
)
def test_good_postings_pass(code: str, amount: str, next_payer: str) -> None:
    assert check(code, amount, next_payer) == {}


@pytest.mark.parametrize(
    ("code", "amount", "next_payer", "field", "words"),
    [
        ("", "", "", "code", "Choose a transaction code"),
        ("XQ", "1.00", "", "code", "is not a transaction code"),
        ("P", "", "", "amount", "needs an amount above zero"),
        ("P", "0.00", "", "amount", "above zero"),
        ("P", "-3.00", "", "amount", "Only AR may be negative"),
        ("AR", "0", "", "amount", "other than zero"),
        ("P", "1.234", "", "amount", "at most two decimal places"),
        ("P", "12abc", "", "amount", "dollars and cents"),
        ("P", "1e5", "", "amount", "dollars and cents"),
        ("P", "1000000.00", "", "amount", "check the number of digits"),
        ("KB", "10.00", "", "amount", "takes no amount"),
        ("HA", "", "2", "next_payer", "Only a Rejection"),
        ("J", "", "4", "next_payer", "(1, 2, 3)"),
        ("J", "", "x", "next_payer", "payer's number"),
    ],
)
def test_bad_postings_say_which_field_and_why(
    code: str, amount: str, next_payer: str, field: str, words: str
) -> None:
    errors = check(code, amount, next_payer)
    assert list(errors) == [field]
    assert words in errors[field]


def test_a_form_without_a_posting_id_or_with_a_long_note_is_refused() -> None:
    assert "posting id" in check("HA", pid="")["form"]
    assert "posting id" in check("HA", pid="a b")["form"]
    assert "at most 500" in check("HA", note="x" * 501)["note"]


def test_parsed_values_are_kept() -> None:
    form = check_posting("web-1", " pk ", " 1,234.5 ", "", "", PAYERS)
    assert (form.code, form.amount, form.next_payer) == ("PK", Decimal("1234.50"), None)
    j = check_posting("web-1", "J", "", "3", "", PAYERS)
    assert j.ok and j.next_payer == 3


@given(st.decimals(min_value=Decimal("-999999.99"), max_value=MAX_AMOUNT, places=2))
def test_any_two_place_amount_in_bounds_parses_to_itself(value: Decimal) -> None:
    assert parse_amount(f"{value:.2f}") == value


@given(st.text(max_size=20))
def test_parse_amount_only_ever_answers_a_cent_amount_or_value_error(text: str) -> None:
    try:
        value = parse_amount(text)
    except ValueError:
        return
    assert value == value.quantize(Decimal("0.01")) and abs(value) <= MAX_AMOUNT


def test_find_bills_by_text_status_and_current_payer() -> None:
    bills = [
        bill_after(bill_id="B1"),
        bill_after("HA", bill_id="B2"),
        bill_after("P 100", bill_id="B3"),  # paid
        bill_after("P 50", "RB", bill_id="B4"),  # Aetna now current
        bill_after("SL", "WB 100", bill_id="B5"),
    ]
    assert [b.bill_id for b in find_bills(bills, "b2")] == ["B2"]
    assert [b.bill_id for b in find_bills(bills, "pat doe")] == ["B1", "B2", "B3", "B4", "B5"]
    assert [b.bill_id for b in find_bills(bills, status="open")] == ["B1", "B4"]
    assert [b.bill_id for b in find_bills(bills, status="hold")] == ["B2"]
    assert [b.bill_id for b in find_bills(bills, status="aging")] == ["B1", "B4"]
    assert [b.bill_id for b in find_bills(bills, status="paid")] == ["B3", "B5"]
    assert [b.bill_id for b in find_bills(bills, status="bad-debt")] == ["B5"]
    assert [b.bill_id for b in find_bills(bills, payer="aetna")] == ["B4"]
    assert find_bills(bills, status="nonsense") == []
    assert statuses(bills[4]) == ["in collections", "bad debt"]


@given(st.text(max_size=8), st.text(max_size=14), st.text(max_size=4), st.text(max_size=8))
def test_check_posting_answers_any_input_in_words(code: str, amount: str, next_payer: str, pid: str) -> None:
    form = check_posting(pid, code, amount, next_payer, "", PAYERS)
    assert form.ok or all(isinstance(m, str) and m for m in form.errors.values())
    if form.ok:
        assert form.amount is None or abs(form.amount) <= MAX_AMOUNT
        assert form.next_payer is None or form.next_payer in PAYERS
