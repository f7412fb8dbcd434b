"""Small builders for test charges and claims (valid unless a test says otherwise)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from contracts import Charge

TODAY = dt.date(2026, 11, 20)


def charge(**overrides: Any) -> Charge:
    data: dict[str, Any] = {
        "charge_id": "CH-1",
        "version": 1,
        "company_id": "acme-therapy",
        "practice_id": "north",
        "location_id": "north-main",
        "patient": {
            "id": "P-1",
            "first_name": "Testy",
            "last_name": "Patient",
            "birth_date": dt.date(1950, 3, 4),
            "sex": "F",
            "address": {"line1": "1 Test St", "city": "Springfield", "state": "IL", "postal_code": "62701"},
        },
        "payers": [
            {
                "payer_id": "medicare",
                "name": "Medicare",
                "payer_type": "medicare",
                "member_id": "1EG4TE5MK73",
                "electronic_id": "12202",
            },
            {"payer_id": "self", "name": "Patient", "payer_type": "patient"},
        ],
        "rendering_provider": {"npi": "1234567893", "name": "Pat Therapist"},
        "billing_provider": {
            "npi": "1245319599",
            "name": "Acme Therapy",
            "tax_id": "123456789",
            "address": {
                "line1": "10 Clinic Way",
                "city": "Springfield",
                "state": "IL",
                "postal_code": "627011234",
            },
        },
        "service_date": TODAY - dt.timedelta(days=3),
        "procedure_code": "97110",
        "modifiers": ["GP"],
        "units": 2,
        "amount": Decimal("90.00"),
        "diagnoses": ["M54.50"],
        "diagnosis_pointers": [1],
        "place_of_service": "11",
    }
    data.update(overrides)
    return Charge.model_validate(data, strict=False)


def visit(i: int, **overrides: Any) -> Charge:
    """Charge CH-i for patient P-i: a therapy visit two days ago that passes every rule (the
    pipeline tests' charge, dated from the real today for timely filing)."""
    data: dict[str, Any] = {
        "charge_id": f"CH-{i}",
        "patient": {
            "id": f"P-{i}",
            "first_name": "Testy",
            "last_name": "Patient",
            "birth_date": dt.date(1950, 3, 4),
            "sex": "F",
            "address": {"line1": "1 Test St", "city": "Springfield", "state": "IL", "postal_code": "62701"},
        },
        "procedure_code": "97110",
        "service_date": dt.date.today() - dt.timedelta(days=2),
        "units": 1,
        "amount": Decimal("45.00"),
        "modifiers": ["GP"],
    }
    data.update(overrides)
    return charge(**data)
