"""Corrections: dotted-path changes to a stored charge, validated as a Charge."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.factories import charge
from workers.reprocess.corrections import PROTECTED, CorrectionError, apply_corrections


def test_no_changes_gives_the_same_charge() -> None:
    c = charge()
    assert apply_corrections(c, {}) == c


def test_nested_field_and_whole_list() -> None:
    c = charge(patient={"id": "P-1"}, modifiers=[])
    fixed = apply_corrections(c, {"patient.birth_date": "1950-02-01", "modifiers": ["gp", "KX"]})
    assert fixed.patient.birth_date == dt.date(1950, 2, 1)
    assert fixed.modifiers == ["GP", "KX"]
    assert fixed.patient.id == "P-1" and fixed.charge_id == c.charge_id and fixed.version == c.version


def test_list_item_field_and_money() -> None:
    fixed = apply_corrections(charge(), {"payers.0.member_id": "1EG4TE5MK74", "amount": "120.50"})
    assert fixed.payers[0].member_id == "1EG4TE5MK74"
    assert fixed.amount == Decimal("120.50")


def test_a_missing_sub_object_is_started() -> None:
    c = charge(patient={"id": "P-1"})
    assert c.patient.address is None
    fixed = apply_corrections(c, {"patient.address.city": "Springfield"})
    assert fixed.patient.address is not None and fixed.patient.address.city == "Springfield"


@pytest.mark.parametrize(
    ("changes", "field", "problem"),
    [
        ({"patient.nickname": "x"}, "patient.nickname", "unknown field"),
        ({"colour": "red"}, "colour", "unknown field"),
        ({"payers.5.member_id": "x"}, "payers.5.member_id", "not an index"),
        ({"payers.first.name": "x"}, "payers.first.name", "not an index"),
        ({"modifiers.0.x": "x"}, "modifiers.0.x", "has no fields"),
        ({"procedure_code.x": "x"}, "procedure_code.x", "has no fields"),
        ({"patient..id": "x"}, "patient..id", "dotted field path"),
        ({"charge_id": "CH-2"}, "charge_id", "cannot be corrected"),
        ({"version": 9}, "version", "cannot be corrected"),
        ({"company_id": "other"}, "company_id", "cannot be corrected"),
    ],
)
def test_bad_paths_name_the_field(changes: dict[str, object], field: str, problem: str) -> None:
    with pytest.raises(CorrectionError) as caught:
        apply_corrections(charge(), changes)
    assert caught.value.field == field
    assert problem in str(caught.value)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"patient.birth_date": "02/01/1950"}, "patient.birth_date"),
        ({"amount": 12.5}, "amount"),
        ({"units": "many"}, "units"),
        ({"modifiers": "GP"}, "modifiers"),
        ({"patient.sex": "Q"}, "patient.sex"),
        ({"payers.0.payer_type": "barter"}, "payers.0.payer_type"),
    ],
)
def test_an_undecodable_result_is_a_correction_error(changes: dict[str, object], field: str) -> None:
    with pytest.raises(CorrectionError) as caught:
        apply_corrections(charge(), changes)
    assert caught.value.field == field
    assert "invalid" in str(caught.value)


def test_a_value_that_is_not_json_is_refused() -> None:
    with pytest.raises(CorrectionError, match="not JSON"):
        apply_corrections(charge(), {"patient.first_name": object()})


def test_the_original_charge_is_untouched() -> None:
    c = charge()
    apply_corrections(c, {"patient.first_name": "Other"})
    assert c.patient.first_name == "Testy"


@given(st.sampled_from(sorted(PROTECTED)), st.integers() | st.text(max_size=5))
def test_identity_fields_never_change(field: str, value: object) -> None:
    with pytest.raises(CorrectionError):
        apply_corrections(charge(), {field: value})


@given(st.text(alphabet="0123456789/-.", min_size=6, max_size=20))
def test_errors_never_echo_the_value(secret: str) -> None:
    # The value can be a birth date or member id: it must not reach a result or a log.
    try:
        apply_corrections(charge(), {"patient.birth_date": secret})
    except CorrectionError as exc:
        assert secret not in str(exc)


@given(st.lists(st.sampled_from(["GP", "GO", "GN", "KX", "59", "CQ"]), max_size=4, unique=True))
def test_modifier_corrections_are_taken_as_given(modifiers: list[str]) -> None:
    assert apply_corrections(charge(), {"modifiers": modifiers}).modifiers == modifiers


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2030, 1, 1)))
def test_birth_date_corrections_round_trip(day: dt.date) -> None:
    fixed = apply_corrections(charge(), {"patient.birth_date": day.isoformat()})
    assert fixed.patient.birth_date == day
    assert fixed.model_copy(update={"patient": charge().patient}) == charge()
