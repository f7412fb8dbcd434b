"""A biller's request to replay selected failed charges, and what came of it."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from contracts.base import Contract, Identifier
from contracts.charge import MAX_CLAIM_DELAY_DAYS

#: Run numbers are 32-bit integers in every database the formatter writes to.
MAX_RUN_NUMBER = 2**31 - 1
#: A dotted path into a Charge ("patient.address.city", "payers.0.member_id").
CorrectionPath = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$")
]
#: One corrected value, as JSON: room for a whole address or a few payers, never a document.
MAX_CORRECTION_VALUE_CHARS = 1000
#: Fields corrected on one charge (a Charge has fewer than 30 top-level fields).
MAX_CORRECTED_FIELDS = 40
#: Every correction of a request, as JSON: with 10,000 charge ids the request stays well
#: under the broker's 1 MiB message limit.
MAX_CORRECTIONS_CHARS = 100_000


def _json_size(value: Any) -> int:
    try:
        return len(json.dumps(value, default=str))
    except (TypeError, ValueError, RecursionError):
        raise ValueError("a corrected value must be JSON") from None


def check_corrections_size(corrections: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Mapping[str, Any]]:
    """Bounds on what a biller may send as corrections; errors name the charge and field."""
    total = 0
    for charge_id, fields in corrections.items():
        if len(fields) > MAX_CORRECTED_FIELDS:
            raise ValueError(f"{charge_id}: at most {MAX_CORRECTED_FIELDS} fields are corrected at once")
        for path, value in fields.items():
            size = _json_size(value)
            if size > MAX_CORRECTION_VALUE_CHARS:
                raise ValueError(
                    f"{charge_id} {path}: the value is {size} characters as JSON; "
                    f"at most {MAX_CORRECTION_VALUE_CHARS}"
                )
            total += size + len(path)
    if total > MAX_CORRECTIONS_CHARS:
        raise ValueError(
            f"the corrections are {total} characters; at most {MAX_CORRECTIONS_CHARS} in one request "
            "(reprocess in parts)"
        )
    return corrections


Corrections = Annotated[dict[Identifier, dict[CorrectionPath, Any]], AfterValidator(check_corrections_size)]


class FailureFilters(Contract):
    """The Failed Charges report's search, used to select every open failure it finds."""

    practice_id: Identifier | None = None
    location_id: Identifier | None = None
    run_number: Annotated[int, Field(ge=1, le=MAX_RUN_NUMBER)] | None = None
    failure_code: Annotated[str, StringConstraints(max_length=40)] | None = None
    failed_from: dt.date | None = None
    failed_to: dt.date | None = None


class ReprocessRequest(Contract):
    type: Literal["ReprocessRequest"] = "ReprocessRequest"
    schema_version: Literal[1] = 1

    request_id: Identifier
    requested_by: Identifier
    company_id: Identifier
    charge_ids: Annotated[list[Identifier], Field(max_length=10000)] = []
    filters: FailureFilters | None = None
    corrections: Corrections = Field(
        default={},
        description=(
            "Per charge id, field changes a biller made, by dotted path into the Charge "
            '(e.g. {"patient.birth_date": "1950-02-01", "modifiers": ["GP"]}). Each value is at most '
            f"{MAX_CORRECTION_VALUE_CHARS} characters as JSON, {MAX_CORRECTED_FIELDS} fields a charge, "
            f"{MAX_CORRECTIONS_CHARS} characters in all."
        ),
    )
    claim_delay_until: dt.date | None = Field(
        default=None,
        description=(
            f"Hold the replayed charges until this date: at most {MAX_CLAIM_DELAY_DAYS} days after "
            "requested_at, so that the check depends on the message alone."
        ),
    )
    requested_at: dt.datetime

    @model_validator(mode="after")
    def _selects_something(self) -> ReprocessRequest:
        if not self.charge_ids and self.filters is None:
            raise ValueError("select failures by charge_ids or by filters")
        if (
            self.claim_delay_until is not None
            and (self.claim_delay_until - self.requested_at.date()).days > MAX_CLAIM_DELAY_DAYS
        ):
            raise ValueError(
                f"claim_delay_until is more than {MAX_CLAIM_DELAY_DAYS} days after the request; "
                "no claim is held that long"
            )
        return self


class ReplayedCharge(Contract):
    charge_id: Identifier
    new_version: int


class SkippedCharge(Contract):
    charge_id: str
    reason: str


class ReprocessResult(Contract):
    type: Literal["ReprocessResult"] = "ReprocessResult"
    schema_version: Literal[1] = 1

    request_id: Identifier
    company_id: Identifier
    requested_by: Identifier
    replayed: list[ReplayedCharge] = []
    skipped: list[SkippedCharge] = []
    completed_at: dt.datetime
