"""A charge record as the page shows it (workers/report/web/charge_view.py): reasons beside
their fields, the form back into corrections, and the history in sentences."""

from __future__ import annotations

import datetime as dt
from typing import Any

from workers.report.web import charge_history, charge_view

CHARGE: dict[str, Any] = {
    "charge_id": "CH-1",
    "version": 2,
    "company_id": "acme",
    "patient": {"id": "P-1", "first_name": "Ann", "last_name": "Lee", "birth_date": "1950-01-02", "sex": "F"},
    "payers": [{"payer_id": "mc", "name": "Medicare", "payer_type": "medicare", "member_id": None}],
    "procedure_code": "ZZZZZ",
    "modifiers": ["GP"],
    "diagnoses": ["M54.16", "R26.2"],
    "units": 1,
    "amount": "42.00",
}


def rows(sections: list[charge_view.Section]) -> dict[str, charge_view.Row]:
    return {r.path: r for s in sections for r in s.rows}


def test_each_reason_sits_beside_the_field_it_names() -> None:
    reasons: list[dict[str, Any]] = [
        {"code": "PROCEDURE_CODE_FORMAT", "message": "not a CPT code", "field": "procedure_code"},
        {"code": "MEMBER_ID_MISSING", "message": "member id is missing", "field": "payers[0].member_id"},
        {"code": "DIAGNOSIS_DUPLICATE", "message": "repeats", "field": "diagnoses[1]"},
        {"code": "DUPLICATE_CHARGE", "message": "already claimed", "field": None},
    ]
    sections, general = charge_view.sections(CHARGE, reasons)
    found = rows(sections)
    assert [r["title"] for r in found["procedure_code"].reasons] == ["Procedure code invalid"]
    assert found["procedure_code"].editable and found["procedure_code"].reasons[0]["fix"]
    assert found["payers.0.member_id"].reasons[0]["code"] == "MEMBER_ID_MISSING"
    assert found["diagnoses"].reasons[0]["code"] == "DIAGNOSIS_DUPLICATE"
    assert not found["patient.sex"].editable
    assert [g["code"] for g in general] == ["DUPLICATE_CHARGE"]


def test_a_reason_on_payers_without_one_goes_to_the_section() -> None:
    sections, general = charge_view.sections(
        {**CHARGE, "payers": []}, [{"code": "REQUIRED_FIELD", "message": "no payer", "field": "payers"}]
    )
    payers = next(s for s in sections if s.title == "Payers")
    assert not payers.rows and payers.reasons[0]["code"] == "REQUIRED_FIELD" and not general


def test_only_changed_fields_become_corrections() -> None:
    form = [
        ("csrf_token", "t"),
        ("fix.procedure_code", "97110"),
        ("fix.patient.sex", "F"),  # as shown: no correction
        ("fix.diagnoses", "M54.16,  R26.9"),
        ("fix.payers.0.member_id", "1EG4TE5MK73"),
        ("fix.units", "2"),
    ]
    changes, typed = charge_view.corrections(CHARGE, form)
    assert changes == {
        "procedure_code": "97110",
        "diagnoses": ["M54.16", "R26.9"],
        "payers.0.member_id": "1EG4TE5MK73",
        "units": "2",
    }
    assert typed["patient.sex"] == "F"
    assert charge_view.corrections(CHARGE, [("fix.patient.sex", "x")])[0] == {"patient.sex": "X"}


def test_version_changes_name_fields_not_values() -> None:
    versions = [
        {"version": 1, "charge": {**CHARGE, "version": 1}},
        {
            "version": 2,
            "charge": {**CHARGE, "procedure_code": "97110", "patient": {**CHARGE["patient"], "sex": "M"}},
        },
    ]
    assert charge_history.version_changes(versions) == {2: ["patient.sex", "procedure_code"]}


def test_history_is_told_in_sentences() -> None:
    at = dt.datetime(2026, 12, 6, 20, 14, tzinfo=dt.UTC)
    detail = {
        "versions": [
            {"version": 2, "outcome": "failed", "claim_id": None},
            {"version": 3, "outcome": "claimed", "claim_id": "CLM-4-12"},
        ],
        "failures": [{"version": 2, "reasons": [{"code": "PROCEDURE_CODE_FORMAT", "message": "x"}]}],
        "reprocessing": [
            {"outcome": "replayed", "new_version": 3, "request": {"requested_by": "amy", "requested_at": at}},
            {
                "outcome": "replayed",
                "new_version": 2,
                "request": {"requested_by": "amy", "requested_at": at - dt.timedelta(hours=1)},
            },
            {
                "outcome": "skipped",
                "reason": "not open (status resolved)",
                "request": {"requested_by": "ben"},
            },
            {"outcome": "replayed", "new_version": 4, "request": {"requested_by": "amy", "requested_at": at}},
        ],
    }
    sentences = charge_history.history(detail)
    assert sentences is not None
    assert "Replayed as version 3 by amy on 2026-12-06 20:14 UTC: claimed as CLM-4-12." in sentences
    assert (
        "Replayed as version 2 by amy on 2026-12-06 19:14 UTC: failed again (Procedure code invalid)."
        in sentences
    )
    assert "Not replayed (asked by ben on ): not open (status resolved)." in sentences
    assert "Replayed as version 4 by amy on 2026-12-06 20:14 UTC: waiting for the formatter." in sentences
    assert charge_history.history({"reprocessing": None}) is None
