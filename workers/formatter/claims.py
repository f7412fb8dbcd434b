"""Turning charges that passed their rules into claims: pure, no I/O.

Within a run, charges for the same patient, billing provider, primary payer and service
date become one claim with several service lines. A professional claim holds at most 12
diagnoses and (here) 50 lines, so a group that would exceed either is split. Diagnoses are
collected at claim level and each line's pointers are renumbered into that list.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from contracts import Charge, Claim, RuleResult

MAX_DIAGNOSES = 12
MAX_LINES = 50


@dataclass(frozen=True, slots=True)
class Passed:
    """A charge that passed every error rule, with its warnings and the bill it goes to."""

    charge: Charge
    warnings: tuple[RuleResult, ...] = ()
    #: An existing (rejected) bill this charge corrects; None opens a new bill.
    replaces_bill: str | None = None


def group_key(p: Passed) -> tuple[str, ...]:
    c = p.charge
    payers = c.payers
    payer = payers[0].payer_id if payers else ""
    return (
        c.company_id,
        c.patient.id,
        c.billing_provider.npi,
        payer,
        c.service_date.isoformat() if c.service_date else "",
        p.replaces_bill or "",
    )


def build_claims(passed: Sequence[Passed], run_number: int, now: dt.datetime) -> list[Claim]:
    groups: dict[tuple[str, ...], list[list[Passed]]] = {}
    for p in passed:
        key = group_key(p)
        chunks = groups.get(key)
        if chunks is None:
            groups[key] = [[p]]
        elif _fits(chunks[-1], p):
            chunks[-1].append(p)
        else:
            chunks.append([p])
    claims: list[Claim] = []
    for chunks in groups.values():
        for chunk in chunks:
            claims.append(_claim(chunk, f"CLM-{run_number}-{len(claims) + 1}", run_number, now))
    return claims


def _fits(chunk: list[Passed], p: Passed) -> bool:
    if not chunk:
        return True
    if len(chunk) >= MAX_LINES:
        return False
    diagnoses = {d for q in chunk for d in q.charge.diagnoses} | set(p.charge.diagnoses)
    return len(diagnoses) <= MAX_DIAGNOSES


def _claim(chunk: list[Passed], claim_id: str, run_number: int, now: dt.datetime) -> Claim:
    first = chunk[0].charge
    diagnoses: list[str] = []
    for p in chunk:
        for code in p.charge.diagnoses:
            if code not in diagnoses:
                diagnoses.append(code)
    # Lines go in as dicts: the Claim's one validation builds (and checks) them as
    # ClaimLines, which costs less than a ClaimLine(...) call per line.
    lines: list[dict[str, Any]] = []
    total = Decimal("0.00")
    for number, p in enumerate(chunk, start=1):
        c = p.charge
        assert c.procedure_code and c.units and c.amount is not None and c.place_of_service
        lines.append(
            {
                "line_number": number,
                "charge_id": c.charge_id,
                "charge_version": c.version,
                "procedure_code": c.procedure_code,
                "modifiers": list(c.modifiers),
                "units": c.units,
                "amount": c.amount,
                "diagnosis_pointers": [diagnoses.index(c.diagnoses[i - 1]) + 1 for i in c.diagnosis_pointers],
                "place_of_service": c.place_of_service,
                "prior_authorization": c.prior_authorization,
                "warnings": list(p.warnings),
            }
        )
        total += c.amount
    replaces = chunk[0].replaces_bill
    assert first.service_date is not None
    return Claim.model_validate(
        {
            "claim_id": claim_id,
            "bill_id": replaces or claim_id,
            "frequency": "replacement" if replaces else "original",
            "run_number": run_number,
            "company_id": first.company_id,
            "practice_id": first.practice_id,
            "location_id": first.location_id,
            "patient": first.patient,
            "payers": list(first.payers),
            "billing_provider": first.billing_provider,
            "rendering_provider": first.rendering_provider,
            "service_date": first.service_date,
            "diagnoses": diagnoses,
            "lines": lines,
            "total_amount": total,
            "created_at": now,
        }
    )
