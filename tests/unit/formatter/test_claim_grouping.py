import datetime as dt
from decimal import Decimal

from tests.factories import TODAY, charge
from workers.formatter.claims import MAX_DIAGNOSES, Passed, build_claims

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def test_same_visit_becomes_one_claim_with_several_lines() -> None:
    a = charge(charge_id="A", procedure_code="97110", diagnoses=["M54.50", "M62.81"], diagnosis_pointers=[2])
    b = charge(
        charge_id="B", procedure_code="97140", diagnoses=["M62.81", "R26.89"], diagnosis_pointers=[1, 2]
    )
    [claim] = build_claims([Passed(a), Passed(b)], run_number=7, now=NOW)
    assert claim.run_number == 7
    assert [line.charge_id for line in claim.lines] == ["A", "B"]
    assert claim.diagnoses == ["M54.50", "M62.81", "R26.89"]
    # Pointers are renumbered into the claim's diagnosis list.
    assert claim.lines[0].diagnosis_pointers == [2]
    assert claim.lines[1].diagnosis_pointers == [2, 3]
    assert claim.total_amount == Decimal("180.00")
    assert claim.bill_id == claim.claim_id and claim.frequency == "original"


def test_different_patient_date_provider_or_payer_split_claims() -> None:
    base = charge(charge_id="A")
    others = [
        charge(charge_id="B", patient={**base.patient.model_dump(), "id": "P-2"}),
        charge(charge_id="C", service_date=TODAY - dt.timedelta(days=4)),
        charge(charge_id="D", billing_provider={"npi": "1234567893", "name": "Other", "tax_id": "987654321"}),
        charge(
            charge_id="E",
            payers=[{"payer_id": "aetna", "name": "Aetna", "payer_type": "commercial", "member_id": "W123"}],
        ),
    ]
    claims = build_claims([Passed(base), *(Passed(o) for o in others)], run_number=1, now=NOW)
    assert len(claims) == 5
    assert len({c.claim_id for c in claims}) == 5


def test_more_than_twelve_diagnoses_split_the_claim() -> None:
    codes = [f"M54.{i}" for i in range(10, 24)]
    passed = [
        Passed(charge(charge_id=f"C{i}", diagnoses=[code], diagnosis_pointers=[1], procedure_code="97110"))
        for i, code in enumerate(codes)
    ]
    claims = build_claims(passed, run_number=1, now=NOW)
    assert len(claims) == 2
    assert all(len(c.diagnoses) <= MAX_DIAGNOSES for c in claims)
    assert sum(len(c.lines) for c in claims) == len(codes)


def test_a_correction_of_a_rejected_bill_is_a_replacement_for_that_bill() -> None:
    [claim] = build_claims([Passed(charge(version=2), replaces_bill="CLM-3-1")], run_number=9, now=NOW)
    assert claim.bill_id == "CLM-3-1"
    assert claim.frequency == "replacement"
