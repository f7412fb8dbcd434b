"""What the formatter says about a charge that did not become a claim, on
`billing.charge-failures`, and the later word that it did."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from contracts.base import Contract, Identifier, Money
from contracts.claim import RuleResult


class ChargeFailed(Contract):
    type: Literal["ChargeFailed"] = "ChargeFailed"
    schema_version: Literal[1] = 1

    charge_id: Identifier
    charge_version: int
    company_id: Identifier
    practice_id: Identifier | None = None
    location_id: Identifier | None = None
    run_number: int
    reasons: list[RuleResult] = Field(min_length=1, description="Every rule that failed, not just the first.")
    oldest_failure_date: dt.date = Field(
        description="The first date this charge failed, kept across retries."
    )
    failure_count: int = Field(ge=1)
    failed_at: dt.datetime
    service_date: dt.date | None = None
    procedure_code: str | None = None
    amount: Money | None = None
    payer_name: str | None = None


class ChargeFailureResolved(Contract):
    type: Literal["ChargeFailureResolved"] = "ChargeFailureResolved"
    schema_version: Literal[1] = 1

    charge_id: Identifier
    charge_version: int
    company_id: Identifier
    run_number: int
    claim_id: Identifier
    resolved_at: dt.datetime
