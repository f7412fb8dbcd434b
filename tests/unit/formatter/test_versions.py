"""A charge version handled before: the same charge again (a redelivery) or another charge
under its number (refused). Pure, no database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given

from contracts import Charge
from contracts.codec import encode
from tests.unit.formatter.strategies import base_charge, changed, valid_charges
from workers.formatter.versions import conflict_reason, same_charge, same_message


@given(valid_charges())
def test_a_charge_is_the_same_as_itself_through_its_json(charge: Charge) -> None:
    stored = charge.model_dump_json()
    assert same_charge(Charge.model_validate_json(stored), charge)
    assert same_message(stored.encode(), stored, encode(charge), charge)
    assert same_message(None, stored, None, charge)


@given(valid_charges())
def test_another_amount_under_the_same_version_is_another_charge(charge: Charge) -> None:
    other = changed(charge, {"amount": (charge.amount or Decimal("0.00")) + Decimal("0.01")})
    assert not same_charge(charge, other)
    assert not same_message(encode(charge), charge, encode(other), other)


def test_a_restamped_resend_is_the_same_charge() -> None:
    first = base_charge(submitted_at=dt.datetime(2026, 3, 16, 9, 0, tzinfo=dt.UTC))
    resent = changed(first, {"submitted_at": dt.datetime(2026, 3, 16, 9, 5, tzinfo=dt.UTC)})
    assert same_message(encode(first), first.model_dump_json(), encode(resent), resent)


def test_the_same_content_in_other_bytes_is_the_same_charge() -> None:
    charge = base_charge()
    spaced = charge.model_dump_json(indent=2)
    assert spaced.encode() != encode(charge)
    assert same_message(spaced.encode(), spaced, encode(charge), charge)


def test_other_corrections_are_other_charges() -> None:
    charge = base_charge()
    for change in ({"procedure_code": "97112"}, {"patient.first_name": "Other"}, {"diagnoses": ["M54.2"]}):
        assert not same_charge(charge, changed(charge, change)), change


def test_the_reason_says_what_happened_and_what_to_do() -> None:
    reason = conflict_reason("CH-9", 3)
    assert "CH-9" in reason and "version 3" in reason
    assert "higher version" in reason
