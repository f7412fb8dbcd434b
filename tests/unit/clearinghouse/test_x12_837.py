"""The 837P mapper: every interchange passes pyx12 with no errors and a 999 that accepts it."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from contracts import Claim
from devtools.sample import generate_samples
from tests.unit.clearinghouse.claims import CREATED, ENVELOPE, NUMBERS, claim, claims, dependent_replacement
from tests.unit.clearinghouse.validator import validate
from workers.clearinghouse.x12_837 import (
    OutgoingClaim,
    UnsendableClaim,
    amount,
    interchange,
    person_name,
    sendable,
)
from workers.formatter.claims import Passed, build_claims
from workers.formatter.rules import identity

GOLDEN = Path(__file__).parents[2] / "golden" / "837p_two_claims.x12"


def assert_accepted(text: str) -> None:
    verdict = validate(text)
    assert verdict.errors == []
    assert verdict.valid
    assert verdict.ack_codes and set(verdict.ack_codes) == {"A"}, verdict.ack


def golden_text() -> str:
    return interchange(
        [OutgoingClaim(claim()), OutgoingClaim(dependent_replacement(), original_reference="PCN20261001777")],
        ENVELOPE,
        NUMBERS,
        CREATED,
    )


def test_the_golden_file_shows_the_layout() -> None:
    text = golden_text()
    if os.environ.get("CLAIMFLOW_REGOLD"):
        GOLDEN.write_text(text, encoding="ascii")
    assert text == GOLDEN.read_text(encoding="ascii")
    assert_accepted(text)


def test_a_replacement_carries_frequency_7_and_the_payers_claim_control_number() -> None:
    text = golden_text()
    assert "CLM*CLM-7-2*120***11:B:7*Y*A*Y*Y~" in text
    assert "REF*F8*PCN20261001777~" in text
    assert "CLM*CLM-7-1*137.5***11:B:1*Y*A*Y*Y~" in text


def test_a_replacement_without_a_known_control_number_still_validates() -> None:
    assert_accepted(interchange([OutgoingClaim(dependent_replacement())], ENVELOPE, NUMBERS, CREATED))


def test_control_numbers_land_in_isa_gs_and_st() -> None:
    segments = golden_text().split("~\n")
    assert segments[0].split("*")[13] == "000000017"
    assert segments[1].split("*")[6] == "17"
    assert [s.split("*")[2] for s in segments if s.startswith("ST*")] == ["0101", "0102"]
    assert segments[-2] == "IEA*1*000000017"


def test_claims_from_the_sample_data_validate() -> None:
    today = dt.date(2026, 11, 20)
    samples = [s.charge for s in generate_samples(400, seed=11, today=today, bad_share=0.0)]
    assert all(identity.missing_fields(c) == [] for c in samples)
    built = build_claims([Passed(c) for c in samples], 3, CREATED)
    outgoing = [OutgoingClaim(c) for c in built if sendable(c) is None]
    assert len(outgoing) > 20
    assert any(c.claim.payers[0].relationship != "self" for c in outgoing)
    assert any(len([p for p in c.claim.payers if p.payer_type != "patient"]) > 1 for c in outgoing)
    assert_accepted(interchange(outgoing, ENVELOPE, NUMBERS, CREATED))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(claims())
def test_generated_claims_validate(generated: Claim) -> None:
    assert_accepted(interchange([OutgoingClaim(generated, "ORIG123")], ENVELOPE, NUMBERS, CREATED))


def test_self_pay_claims_are_not_sendable() -> None:
    self_pay = claim(payers=[{"payer_id": "patient", "name": "Patient", "payer_type": "patient"}])
    assert sendable(self_pay) is not None
    with pytest.raises(UnsendableClaim):
        interchange([OutgoingClaim(self_pay)], ENVELOPE, NUMBERS, CREATED)


@pytest.mark.parametrize(
    ("value", "text"), [("90.00", "90"), ("47.50", "47.5"), ("0.05", "0.05"), ("100.10", "100.1")]
)
def test_amounts_drop_trailing_zeros(value: str, text: str) -> None:
    from decimal import Decimal

    assert amount(Decimal(value)) == text


def test_a_therapists_name_splits_into_last_and_first() -> None:
    assert person_name("Pat O'Neil, PT, DPT") == ("O'NEIL", "PAT")
    assert person_name("Ng") == ("NG", "")


def test_a_claim_at_the_limits_validates() -> None:
    """12 diagnoses, 8 lines of 4 modifiers and 4 pointers, two secondary payers, a replacement."""
    from decimal import Decimal

    from tests.unit.clearinghouse.claims import MEDICARE, SELF_PAY, SUPPLEMENT

    diagnoses = [f"M{n:02d}.{n}" for n in range(10, 22)]
    lines = [
        {
            "line_number": n,
            "charge_id": f"chg-{n:012d}",
            "charge_version": 2,
            "procedure_code": "97110",
            "modifiers": ["GP", "59", "KX", "XE"],
            "units": 4,
            "amount": Decimal("180.00"),
            "diagnosis_pointers": [n, n + 1, n + 2, n + 3],
            "place_of_service": "11" if n % 2 else "22",
        }
        for n in range(1, 9)
    ]
    medicaid = {**SUPPLEMENT, "payer_id": "mcd", "payer_type": "medicaid", "electronic_id": "SMPMD4"}
    big = claim(
        frequency="replacement",
        payers=[MEDICARE, SUPPLEMENT, medicaid, SELF_PAY],
        diagnoses=diagnoses,
        lines=lines,
        total_amount=Decimal("1440.00"),
    )
    text = interchange([OutgoingClaim(big, "PCN1")], ENVELOPE, NUMBERS, CREATED)
    assert text.count("*ABF:") == 11 and text.count("LX*") == 8 and "SBR*T*18" in text
    assert_accepted(text)
