"""Identity and people: REQUIRED_FIELD, NPI_CHECK_DIGIT, TAX_ID_FORMAT, BIRTH_DATE_INVALID,
MEMBER_ID_MISSING, MEDICARE_MBI_FORMAT."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.unit.formatter.checking import assert_rule, results_for
from tests.unit.formatter.strategies import TODAY, base_charge, changed, npi_from
from workers.formatter.rules import npi_check_digit, valid_npi

SERVICE = TODAY - dt.timedelta(days=10)


def test_the_base_charge_passes_every_rule() -> None:
    assert results_for(base_charge()) == []
    assert results_for(base_charge("commercial")) == []


# -- REQUIRED_FIELD -----------------------------------------------------------------------

MISSING: list[tuple[str, object]] = [
    ("practice_id", None),
    ("location_id", None),
    ("patient.first_name", ""),
    ("patient.last_name", "   "),
    ("patient.birth_date", None),
    ("patient.sex", None),
    ("payers", []),
    ("rendering_provider.npi", ""),
    ("billing_provider.npi", " "),
    ("billing_provider.tax_id", None),
    ("service_date", None),
    ("procedure_code", None),
    ("procedure_code", ""),
    ("units", None),
    ("amount", None),
    ("diagnoses", []),
    ("place_of_service", None),
    ("place_of_service", ""),
]


@pytest.mark.parametrize(("path", "value"), MISSING, ids=[f"{p}={v!r}" for p, v in MISSING])
def test_a_missing_field_is_reported_once_and_by_no_other_rule(path: str, value: object) -> None:
    charge = changed(base_charge(), {path: value})
    results = results_for(charge)
    assert [(r.code, r.field) for r in results] == [("REQUIRED_FIELD", path)]
    assert "missing" in results[0].message and path in results[0].message


def test_every_missing_field_gets_its_own_result() -> None:
    charge = changed(base_charge(), {"practice_id": None, "units": None, "amount": None, "patient.sex": None})
    fields = [r.field for r in results_for(charge) if r.code == "REQUIRED_FIELD"]
    assert fields == ["practice_id", "patient.sex", "units", "amount"]


# -- NPI_CHECK_DIGIT ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("npi", "ok"),
    [
        ("1234567893", True),
        ("1234567890", False),
        ("2000000008", npi_check_digit("200000000") == 8),
        ("123456789", False),
        ("3234567893", False),
        ("12345678931", False),
        ("12345678A3", False),
    ],
)
def test_npi_luhn_check(npi: str, ok: bool) -> None:
    assert valid_npi(npi) is ok


def test_npi_check_digit_over_the_80840_prefix() -> None:
    # The example from the spec: 1234567893 passes.
    assert npi_check_digit("123456789") == 3


@pytest.mark.parametrize(
    ("path", "npi", "fails"),
    [
        ("rendering_provider.npi", "1234567893", False),
        ("rendering_provider.npi", "1234567890", True),
        ("billing_provider.npi", npi_from("287654321"), False),
        ("billing_provider.npi", "2876543210", True),
        ("rendering_provider.npi", "123456789", True),
        ("rendering_provider.npi", "3234567893", True),
    ],
)
def test_npi_check_digit_rule(path: str, npi: str, fails: bool) -> None:
    found = assert_rule("NPI_CHECK_DIGIT", changed(base_charge(), {path: npi}), None, fails)
    if fails:
        assert found[0].field == path
        assert npi in found[0].message and "NPI" in found[0].message


def test_npi_message_names_the_field_and_the_fix() -> None:
    found = assert_rule(
        "NPI_CHECK_DIGIT", changed(base_charge(), {"rendering_provider.npi": "1234567890"}), None, True
    )
    assert found[0].message == (
        "rendering_provider.npi 1234567890 fails the NPI check digit; check the rendering provider's NPI"
    )


# -- TAX_ID_FORMAT ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tax_id", "fails"),
    [
        ("123456789", False),
        ("12-3456789", False),
        ("12345678", True),
        ("12-34567AB", True),
        ("1234567890", True),
        ("12 3456789", True),
    ],
)
def test_tax_id_format(tax_id: str, fails: bool) -> None:
    found = assert_rule(
        "TAX_ID_FORMAT", changed(base_charge(), {"billing_provider.tax_id": tax_id}), None, fails
    )
    for result in found:
        assert tax_id not in result.message  # may be an SSN


# -- BIRTH_DATE_INVALID -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth", "fails"),
    [
        (dt.date(1950, 6, 1), False),
        (SERVICE, False),  # born that day: a newborn's visit
        (SERVICE + dt.timedelta(days=1), True),
        (TODAY + dt.timedelta(days=30), True),
        (SERVICE.replace(year=SERVICE.year - 150), True),
        (SERVICE.replace(year=SERVICE.year - 150) + dt.timedelta(days=1), False),
    ],
)
def test_birth_date(birth: dt.date, fails: bool) -> None:
    found = assert_rule(
        "BIRTH_DATE_INVALID", changed(base_charge(), {"patient.birth_date": birth}), None, fails
    )
    for result in found:
        assert birth.isoformat() not in result.message
        assert str(birth.year) not in result.message
        assert result.field == "patient.birth_date"


def test_birth_date_message_says_what_without_the_date() -> None:
    charge = changed(base_charge(), {"patient.birth_date": SERVICE + dt.timedelta(days=1)})
    (found,) = assert_rule("BIRTH_DATE_INVALID", charge, None, True)
    assert found.message.startswith("patient birth date is after the service date")


# -- MEMBER_ID_MISSING --------------------------------------------------------------------

SECONDARY = {"payer_id": "SEC", "name": "Supplement", "payer_type": "commercial", "member_id": "S123"}


@pytest.mark.parametrize(
    ("payers", "fails"),
    [
        ([{"payer_id": "P", "name": "Aetna", "payer_type": "commercial", "member_id": "W123"}], False),
        ([{"payer_id": "P", "name": "Self", "payer_type": "patient", "member_id": None}], False),
        ([{"payer_id": "P", "name": "Aetna", "payer_type": "commercial", "member_id": None}], True),
        ([{"payer_id": "P", "name": "Aetna", "payer_type": "commercial", "member_id": "  "}], True),
        ([{"payer_id": "P", "name": "", "payer_type": "workers_comp", "member_id": ""}], True),
        ([SECONDARY, {**SECONDARY, "payer_id": "S2", "member_id": None}], True),
    ],
)
def test_member_id_missing(payers: list[dict[str, object]], fails: bool) -> None:
    found = assert_rule("MEMBER_ID_MISSING", changed(base_charge(), {"payers": payers}), None, fails)
    for result in found:
        assert result.field is not None and result.field.endswith(".member_id")


# -- MEDICARE_MBI_FORMAT ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payer_type", "member_id", "fails"),
    [
        ("medicare", "1EG4TE5MK73", False),
        ("medicare", "9AA0A00AA00", False),
        ("medicare", "1EG4-TE5-MK73", True),
        ("medicare", "1eg4te5mk73", True),
        ("medicare", "0EG4TE5MK73", True),  # first character 1-9
        ("medicare", "1SG4TE5MK73", True),  # S is never used
        ("medicare", "1EG4TE5MK7", True),
        ("medicare", "123456789A", True),  # an old HICN
        ("commercial", "123456789A", False),  # not Medicare: any member id
    ],
)
def test_medicare_mbi_format(payer_type: str, member_id: str, fails: bool) -> None:
    charge = changed(base_charge(), {"payers.0.payer_type": payer_type, "payers.0.member_id": member_id})
    found = assert_rule("MEDICARE_MBI_FORMAT", charge, None, fails)
    for result in found:
        assert member_id not in result.message
        assert result.field == "payers[0].member_id"


def test_mbi_rule_checks_a_medicare_secondary_too() -> None:
    medicare = {"payer_id": "MCR", "name": "Medicare", "payer_type": "medicare", "member_id": "BAD"}
    primary = base_charge("commercial").model_dump()["payers"]
    charge = changed(base_charge("commercial"), {"payers": [*primary, medicare]})
    (found,) = assert_rule("MEDICARE_MBI_FORMAT", charge, None, True)
    assert found.field == "payers[1].member_id"
