"""Claims for the X12 tests: a fixed pair for the golden file, and hypothesis strategies."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from contracts import Claim
from workers.clearinghouse.x12_837 import ControlNumbers, Envelope

CREATED = dt.datetime(2026, 11, 20, 14, 30, tzinfo=dt.UTC)
ENVELOPE = Envelope(
    sender_id="CLAIMFLOW",
    receiver_id="SAMPLECH",
    submitter_name="Claimflow Billing",
    submitter_contact="EDI Desk",
    submitter_phone="5555550100",
    receiver_name="Sample Clearinghouse",
    usage="T",
)
NUMBERS = ControlNumbers(interchange=17, group=17, first_transaction=101)

ADDRESS = {
    "line1": "1 Test St",
    "line2": "Apt 4",
    "city": "Springfield",
    "state": "IL",
    "postal_code": "62701",
}
BILLING = {
    "npi": "1245319599",
    "name": "Acme Therapy LLC",
    "tax_id": "12-3456789",
    "address": {"line1": "10 Clinic Way", "city": "Springfield", "state": "IL", "postal_code": "627011234"},
    "taxonomy": "261QR0400X",
}
MEDICARE = {
    "payer_id": "medicare-b",
    "name": "Medicare Part B",
    "payer_type": "medicare",
    "member_id": "1EG4TE5MK73",
    "electronic_id": "SMPMB1",
    "address": {"line1": "PO Box 1001", "city": "Sampleton", "state": "CA", "postal_code": "900011001"},
}
SUPPLEMENT = {
    "payer_id": "aarp-medsupp",
    "name": "AARP Medicare Supplement",
    "payer_type": "commercial",
    "member_id": "99999999911",
    "electronic_id": "SMPAA2",
}
SELF_PAY = {"payer_id": "patient", "name": "Patient (self-pay)", "payer_type": "patient"}


def claim(**overrides: Any) -> Claim:
    data: dict[str, Any] = {
        "claim_id": "CLM-7-1",
        "bill_id": "CLM-7-1",
        "run_number": 7,
        "company_id": "acme-therapy",
        "patient": {
            "id": "PT000001",
            "first_name": "Testy",
            "last_name": "Sampleton",
            "birth_date": dt.date(1950, 3, 4),
            "sex": "F",
            "address": ADDRESS,
        },
        "payers": [MEDICARE, SUPPLEMENT, SELF_PAY],
        "billing_provider": BILLING,
        "rendering_provider": {"npi": "1234567893", "name": "Pat Therapist, PT, DPT"},
        "service_date": dt.date(2026, 11, 17),
        "diagnoses": ["M54.50", "M25.561"],
        "lines": [
            {
                "line_number": 1,
                "charge_id": "chg-000000000001",
                "charge_version": 1,
                "procedure_code": "97110",
                "modifiers": ["GP"],
                "units": 2,
                "amount": Decimal("90.00"),
                "diagnosis_pointers": [1, 2],
                "place_of_service": "11",
            },
            {
                "line_number": 2,
                "charge_id": "chg-000000000002",
                "charge_version": 1,
                "procedure_code": "97140",
                "modifiers": ["GP", "59"],
                "units": 1,
                "amount": Decimal("47.50"),
                "diagnosis_pointers": [1],
                "place_of_service": "11",
            },
        ],
        "total_amount": Decimal("137.50"),
        "created_at": CREATED,
    }
    data.update(overrides)
    return Claim.model_validate(data)


def dependent_replacement() -> Claim:
    """A spouse on a commercial policy, a corrected claim for a rejected bill."""
    policy = {
        "payer_id": "aetna",
        "name": "Aetna",
        "payer_type": "commercial",
        "member_id": "W123456789",
        "group_number": "GRP12345",
        "electronic_id": "SMPAE5",
        "relationship": "spouse",
        "subscriber": {
            "first_name": "Sam",
            "last_name": "Sampleton",
            "birth_date": dt.date(1962, 1, 9),
            "sex": "M",
            "address": ADDRESS,
        },
    }
    line = {
        "line_number": 1,
        "charge_id": "chg-000000000003",
        "charge_version": 2,
        "procedure_code": "97161",
        "modifiers": ["GP"],
        "units": 1,
        "amount": Decimal("120.00"),
        "diagnosis_pointers": [1],
        "place_of_service": "11",
        "prior_authorization": {"number": "AUTH00001234"},
    }
    return claim(
        claim_id="CLM-7-2",
        bill_id="CLM-3-9",
        frequency="replacement",
        payers=[policy, SELF_PAY],
        diagnoses=["S83.511A"],
        lines=[line],
        total_amount=Decimal("120.00"),
    )


# -- hypothesis ------------------------------------------------------------------------------

_ICD = st.from_regex(r"[A-TV-Z][0-9]{2}(\.[0-9A-Z]{1,4})?", fullmatch=True)
_NAMES = st.sampled_from(["Ann", "Bo", "Cy", "O'Neil", "Mary Jo", "Lee-Smith", "Nguyen"])
_PROCS = st.sampled_from(["97110", "97112", "97140", "97530", "97161", "92507", "G0283", "1234F"])
_MODS = st.lists(st.sampled_from(["GP", "GO", "GN", "59", "KX", "CQ", "76", "XE"]), max_size=4, unique=True)
_MONEY = st.decimals(Decimal("0.01"), Decimal("99999.99"), places=2)


@st.composite
def payers(draw: st.DrawFn, first: bool) -> dict[str, Any]:
    kind = draw(st.sampled_from(["medicare", "medicaid", "commercial", "workers_comp", "auto"]))
    relationship = (
        "self" if kind == "medicare" else draw(st.sampled_from(["self", "spouse", "child", "other"]))
    )
    data: dict[str, Any] = {
        "payer_id": draw(st.sampled_from(["p1", "p2", "p3"])),
        "name": draw(st.sampled_from(["Payer One", "Big Health Plan", "State Plan"])),
        "payer_type": kind,
        "member_id": draw(st.from_regex(r"[A-Z0-9]{6,15}", fullmatch=True)),
        "group_number": draw(st.none() | st.from_regex(r"[A-Z0-9]{3,10}", fullmatch=True)),
        "electronic_id": draw(st.from_regex(r"[A-Z0-9]{5}", fullmatch=True)),
        "relationship": relationship,
    }
    if draw(st.booleans()):
        data["address"] = {"line1": "PO Box 9", "city": "Sampleton", "state": "CA", "postal_code": "90001"}
    if relationship != "self":
        data["subscriber"] = {
            "first_name": draw(_NAMES),
            "last_name": draw(_NAMES),
            "birth_date": draw(st.none() | st.dates(dt.date(1930, 1, 1), dt.date(2005, 1, 1))),
            "sex": draw(st.sampled_from(["F", "M", "U"])),
            "address": draw(st.none() | st.just(ADDRESS)),
        }
    return data


@st.composite
def claims(draw: st.DrawFn) -> Claim:
    diagnoses = draw(st.lists(_ICD, min_size=1, max_size=12, unique_by=lambda c: c.replace(".", "")))
    count = draw(st.integers(1, 8))
    place = draw(st.sampled_from(["11", "22", "02", "12"]))
    lines = []
    for number in range(1, count + 1):
        pointers = draw(
            st.lists(st.integers(1, len(diagnoses)), min_size=1, max_size=min(4, len(diagnoses)), unique=True)
        )
        auth = draw(st.none() | st.from_regex(r"AUTH[0-9]{6}", fullmatch=True))
        lines.append(
            {
                "line_number": number,
                "charge_id": f"chg-{number:012x}",
                "charge_version": draw(st.integers(1, 4)),
                "procedure_code": draw(_PROCS),
                "modifiers": draw(_MODS),
                "units": draw(st.integers(1, 12)),
                "amount": draw(_MONEY),
                "diagnosis_pointers": pointers,
                "place_of_service": draw(st.sampled_from([place, place, "11", "22"])),
                "prior_authorization": {"number": auth} if auth else None,
            }
        )
    others = draw(st.lists(payers(first=False), max_size=3))
    tail = [SELF_PAY] if draw(st.booleans()) else []
    rendering_npi = draw(st.sampled_from(["1234567893", BILLING["npi"]]))
    return claim(
        claim_id=f"CLM-{draw(st.integers(1, 10**6))}-{draw(st.integers(1, 5000))}",
        frequency=draw(st.sampled_from(["original", "replacement"])),
        patient={
            "id": "PT1",
            "first_name": draw(_NAMES),
            "last_name": draw(_NAMES),
            "birth_date": draw(st.dates(dt.date(1920, 1, 1), dt.date(2025, 1, 1))),
            "sex": draw(st.sampled_from(["F", "M", "U"])),
            "address": ADDRESS,
        },
        payers=[draw(payers(first=True)), *others, *tail],
        rendering_provider={"npi": rendering_npi, "name": draw(st.sampled_from(["Pat Therapist, PT", "Ng"]))},
        billing_provider={**BILLING, "taxonomy": draw(st.none() | st.just("225100000X"))},
        diagnoses=diagnoses,
        lines=lines,
        total_amount=sum((Decimal(str(line["amount"])) for line in lines), Decimal("0.00")),
    )
