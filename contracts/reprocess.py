"""A biller's request to replay selected failed charges, and what came of it."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from contracts.base import Contract, Identifier

#: Kafka header on a charge version reprocess replayed: the request's id. The formatter
#: reads it when it refuses such a version, to send the failure back to `open`.
REPLAYED_BY_REQUEST = "x-reprocess-request"


class FailureFilters(Contract):
    """The Failed Charges report's search, used to select every open failure it finds."""

    practice_id: Identifier | None = None
    location_id: Identifier | None = None
    run_number: int | None = None
    failure_code: str | None = None
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
    corrections: dict[str, dict[str, Any]] = Field(
        default={},
        description=(
            "Per charge id, field changes a biller made, by dotted path into the Charge "
            '(e.g. {"patient.birth_date": "1950-02-01", "modifiers": ["GP"]}).'
        ),
    )
    claim_delay_until: dt.date | None = None
    requested_at: dt.datetime

    @model_validator(mode="after")
    def _selects_something(self) -> ReprocessRequest:
        if not self.charge_ids and self.filters is None:
            raise ValueError("select failures by charge_ids or by filters")
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
