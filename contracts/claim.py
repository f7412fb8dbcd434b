"""A claim ready for a clearinghouse, on `billing.claims`, and the rule results it carries.

Within a run, charges for the same patient, billing provider, primary payer and service
date become one claim with several service lines. Diagnoses are collected at claim level
(at most 12, as on the CMS-1500 and 837P) and each line points into that list.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field

from contracts.base import Contract, Identifier, Money
from contracts.charge import Authorization, ChargePayer, Patient, Provider


class RuleResult(Contract):
    """One rule that did not pass: its stable code, what is wrong, and where."""

    code: str
    message: str
    field: str | None = None
    severity: Literal["error", "warning"] = "error"


class ClaimLine(Contract):
    line_number: Annotated[int, Field(ge=1)]
    charge_id: Identifier
    charge_version: int
    procedure_code: str
    modifiers: list[str] = []
    units: int
    amount: Money
    diagnosis_pointers: list[int]
    place_of_service: str
    prior_authorization: Authorization | None = None
    warnings: list[RuleResult] = []


class Claim(Contract):
    type: Literal["Claim"] = "Claim"
    schema_version: Literal[1] = 1

    claim_id: Identifier
    bill_id: Identifier = Field(description="The bill this claim opens, or re-sends after a Rejection.")
    frequency: Literal["original", "replacement"] = Field(
        default="original", description="replacement: a corrected claim for a bill that was rejected."
    )
    run_number: Annotated[int, Field(ge=1)]
    company_id: Identifier
    practice_id: Identifier | None = None
    location_id: Identifier | None = None
    patient: Patient
    payers: list[ChargePayer]
    billing_provider: Provider
    rendering_provider: Provider
    service_date: dt.date
    diagnoses: Annotated[list[str], Field(min_length=1, max_length=12)]
    lines: Annotated[list[ClaimLine], Field(min_length=1, max_length=50)]
    total_amount: Money
    created_at: dt.datetime
