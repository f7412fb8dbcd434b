"""evaluate() as a whole: every failure at once, the catalogue, and what messages never say."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from tests.unit.formatter.checking import results_for
from tests.unit.formatter.strategies import BOOK, TODAY, base_charge, changed, context
from workers.formatter.rules import REGISTRY, RULES, BillState, History, errors, evaluate

#: The codes of spec/formatter-rules.md, copied here so a renamed code fails a test.
SPEC_CODES = {
    "REQUIRED_FIELD",
    "NPI_CHECK_DIGIT",
    "TAX_ID_FORMAT",
    "BIRTH_DATE_INVALID",
    "MEMBER_ID_MISSING",
    "MEDICARE_MBI_FORMAT",
    "PROCEDURE_CODE_FORMAT",
    "MODIFIER_FORMAT",
    "THERAPY_MODIFIER_MISSING",
    "THERAPY_MODIFIER_CONFLICT",
    "ASSISTANT_MODIFIER_MISMATCH",
    "EVALUATION_UNITS",
    "UNITS_INVALID",
    "UNITS_MINUTES_MISMATCH",
    "KX_MODIFIER_REQUIRED",
    "AMOUNT_NOT_POSITIVE",
    "ICD10_FORMAT",
    "DIAGNOSIS_COUNT",
    "DIAGNOSIS_DUPLICATE",
    "DIAGNOSIS_POINTER_INVALID",
    "SERVICE_DATE_IN_FUTURE",
    "TIMELY_FILING_EXCEEDED",
    "PLACE_OF_SERVICE_INVALID",
    "AUTHORIZATION_REQUIRED",
    "AUTHORIZATION_RANGE",
    "DUPLICATE_CHARGE",
    "BILL_REJECTED",
}


def test_catalogue_has_every_spec_code_and_the_product_addition() -> None:
    assert set(RULES) == SPEC_CODES | {"ALREADY_BILLED"}
    assert [r.code for r in REGISTRY] == list(RULES)
    warnings = {code for code, rule in RULES.items() if rule.severity == "warning"}
    assert warnings == {"UNITS_MINUTES_MISMATCH", "AUTHORIZATION_RANGE"}
    assert all(rule.title and rule.description for rule in RULES.values())


def test_a_charge_breaking_several_rules_gets_all_of_them() -> None:
    charge = changed(
        base_charge(),
        {
            "location_id": None,
            "rendering_provider.npi": "1234567890",
            "billing_provider.tax_id": "12-34",
            "payers.0.member_id": "NOT-AN-MBI",
            "modifiers": ["GP", "GO", "CQ"],
            "units": 9,
            "minutes": 30,
            "amount": Decimal("0.00"),
            "diagnoses": ["M54.50", "M5450", "123"],
            "diagnosis_pointers": [4],
            "place_of_service": "00",
            "service_date": TODAY + dt.timedelta(days=2),
            "bill_id": "B-1",
        },
    )
    ctx = context(history=History(bills={"B-1": BillState(rejected=True)}))
    codes = [r.code for r in results_for(charge, ctx)]
    assert codes == [
        "REQUIRED_FIELD",
        "NPI_CHECK_DIGIT",
        "TAX_ID_FORMAT",
        "MEDICARE_MBI_FORMAT",
        "THERAPY_MODIFIER_CONFLICT",
        "UNITS_INVALID",
        "UNITS_MINUTES_MISMATCH",
        "AMOUNT_NOT_POSITIVE",
        "ICD10_FORMAT",
        "DIAGNOSIS_DUPLICATE",
        "DIAGNOSIS_POINTER_INVALID",
        "SERVICE_DATE_IN_FUTURE",
        "PLACE_OF_SERVICE_INVALID",
        "BILL_REJECTED",
    ]
    error_codes = [r.code for r in errors(results_for(charge, ctx))]
    assert error_codes == [c for c in codes if c != "UNITS_MINUTES_MISMATCH"]


def test_warnings_alone_do_not_make_errors() -> None:
    charge = changed(base_charge(), {"minutes": 50})
    results = results_for(charge)
    assert [r.code for r in results] == ["UNITS_MINUTES_MISMATCH"]
    assert errors(results) == []


def test_a_rule_switched_off_for_the_payer_does_not_run() -> None:
    charge = changed(base_charge(), {"place_of_service": "00"})
    book = BOOK.with_payer("PAYER-1", rules={"PLACE_OF_SERVICE_INVALID": False})
    assert evaluate(charge, context(book=book)) == []
    assert [r.code for r in evaluate(charge, context())] == ["PLACE_OF_SERVICE_INVALID"]


def test_an_almost_empty_charge_reports_missing_fields_without_crashing() -> None:
    charge = changed(
        base_charge(),
        {
            "practice_id": None,
            "location_id": None,
            "patient.first_name": "",
            "patient.last_name": "",
            "patient.birth_date": None,
            "patient.sex": None,
            "payers": [],
            "rendering_provider.npi": "",
            "billing_provider.npi": "",
            "billing_provider.tax_id": None,
            "service_date": None,
            "procedure_code": None,
            "modifiers": [],
            "units": None,
            "minutes": None,
            "amount": None,
            "diagnoses": [],
            "diagnosis_pointers": [],
            "place_of_service": None,
        },
    )
    results = results_for(charge)
    assert {r.code for r in results} == {"REQUIRED_FIELD"}
    assert len(results) == 16


def test_messages_never_carry_names_birth_dates_or_member_ids() -> None:
    birth = dt.date(1951, 7, 23)
    charge = changed(
        base_charge(),
        {
            "patient.first_name": "Quintessa",
            "patient.last_name": "Vanderzee",
            "patient.birth_date": birth,
            "service_date": dt.date(1951, 7, 1),  # before birth, and long past filing
            "payers": [
                {"payer_id": "MCR", "name": "Medicare", "payer_type": "medicare", "member_id": "Q7Z9PRIVATE"},
                {"payer_id": "SUP", "name": "Supplement", "payer_type": "commercial", "member_id": ""},
            ],
        },
    )
    results = results_for(charge)
    assert {"BIRTH_DATE_INVALID", "MEDICARE_MBI_FORMAT", "MEMBER_ID_MISSING"} <= {r.code for r in results}
    for result in results:
        for secret in ("Quintessa", "Vanderzee", "Q7Z9PRIVATE", birth.isoformat(), "07/23/1951"):
            assert secret not in result.message, result
