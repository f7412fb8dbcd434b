"""What the report's API takes and answers (pydantic), shared by the CLI's --json output.

Money is `contracts.base.Money`: exact Decimal, serialized as a two-place string.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from contracts.base import Identifier, Money
from contracts.reprocess import MAX_RUN_NUMBER, Corrections
from workers.report import queries as q

#: Deeper than any biller pages, and inside every database's integer range.
MAX_OFFSET = 2**31 - 1
#: The contract's cap on charge ids in one request.
MAX_CHARGES = 10000

#: Free text a biller types into a search: bounded, and no control characters (PostgreSQL
#: refuses a NUL in a text parameter; none of them is in a payer name or a code).
SearchText = Annotated[str, StringConstraints(max_length=200, pattern=r"^[^\x00-\x08\x0a-\x1f\x7f]*$")]
ReasonCode = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z0-9_]{1,40}$")
]


class SearchFilters(BaseModel):
    """The report's search criteria (everything but sorting and paging)."""

    model_config = ConfigDict(extra="forbid")

    company: Identifier | None = Field(
        None, description="Company to search; defaults to your own (first) company."
    )
    practice: Identifier | None = Field(None, description="Practice id; all practices when omitted.")
    location: Identifier | None = Field(None, description="Location id; all locations when omitted.")
    run: Annotated[int, Field(ge=1, le=MAX_RUN_NUMBER)] | None = Field(
        None, description="Formatter run number of the latest failure."
    )
    reason: ReasonCode | None = Field(
        None, description="Failure reason code, e.g. REQUIRED_FIELD (see /reasons)."
    )
    payer: SearchText | None = Field(None, description="Primary payer name.")
    procedure: Annotated[SearchText, StringConstraints(max_length=16)] | None = Field(
        None, description="Procedure code."
    )
    failed_from: dt.date | None = Field(None, description="Failure date on or after (see date_field).")
    failed_to: dt.date | None = Field(None, description="Failure date on or before (see date_field).")
    date_field: q.DateField = Field("oldest", description="Which failure date the range applies to.")
    status: q.Status = Field("open", description="open (default), reprocessing, resolved, or all.")
    service_from: dt.date | None = Field(None, description="Service date on or after.")
    service_to: dt.date | None = Field(None, description="Service date on or before.")
    amount_min: Money | None = Field(None, description='Amount at least, e.g. "100.00".')
    amount_max: Money | None = Field(None, description='Amount at most, e.g. "250.00".')
    missing: list[q.Blank] = Field(
        [],
        description="Fields the charges must lack (practice, location, payer, procedure), e.g. "
        "missing=practice for the group whose key is null.",
    )

    @model_validator(mode="after")
    def _dates_in_order(self) -> SearchFilters:
        if self.failed_from and self.failed_to and self.failed_from > self.failed_to:
            raise ValueError("failed_from is after failed_to")
        if self.service_from and self.service_to and self.service_from > self.service_to:
            raise ValueError("service_from is after service_to")
        if self.amount_min is not None and self.amount_max is not None and self.amount_min > self.amount_max:
            raise ValueError("amount_min is more than amount_max")
        for name in self.missing:
            if getattr(self, name) is not None:
                raise ValueError(f"{name} is given and asked to be missing; choose one")
        return self

    def to_search(self, company_id: str, **extra: Any) -> q.Search:
        return q.Search(
            company_id=company_id,
            practice_id=self.practice,
            location_id=self.location,
            run_number=self.run,
            failure_code=self.reason,
            payer_name=self.payer,
            procedure_code=self.procedure,
            failed_from=self.failed_from,
            failed_to=self.failed_to,
            date_field=self.date_field,
            status=self.status,
            service_from=self.service_from,
            service_to=self.service_to,
            amount_min=self.amount_min,
            amount_max=self.amount_max,
            missing=tuple(dict.fromkeys(self.missing)),
            **extra,
        )


class SearchQuery(SearchFilters):
    sort: Annotated[SearchText, StringConstraints(max_length=500)] | None = Field(
        None,
        description="Comma-separated columns, '-' for descending, e.g. '-amount,oldest_failure_date'. "
        f"Columns: {', '.join(q.SORTABLE)}.",
    )
    limit: Annotated[int, Field(ge=1, le=q.MAX_LIMIT)] = 50
    offset: Annotated[int, Field(ge=0, le=MAX_OFFSET)] = 0


class GroupQuery(SearchFilters):
    by: q.GroupBy = Field(description="Group by failure reason, practice, location, payer, run or procedure.")


class Reason(BaseModel):
    code: str
    message: str
    field: str | None = None
    severity: str


class PatientRef(BaseModel):
    id: str
    name: str = Field(description='"Last, First", as billers see it.')


class FailedCharge(BaseModel):
    charge_id: str
    company_id: str
    practice_id: str | None
    location_id: str | None
    patient: PatientRef
    service_date: dt.date | None
    procedure_code: str | None
    amount: Money | None
    payer_name: str | None
    reasons: list[Reason]
    run_number: int
    oldest_failure_date: dt.date
    last_failure_date: dt.date
    failure_count: int
    status: str
    latest_version: int

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> FailedCharge:
        return cls.model_validate({**row, "patient": {"id": row["patient_id"], "name": row["patient_name"]}})


class SearchPage(BaseModel):
    company_id: str
    total: int = Field(description="Charges the whole search found, across all pages.")
    total_amount: Money
    limit: int
    offset: int
    next_offset: int | None = Field(description="Offset of the next page; null on the last page.")
    items: list[FailedCharge]


class Group(BaseModel):
    key: str | None = Field(
        description="Reason code, practice/location id, payer name, run number or procedure code."
    )
    label: str | None = Field(None, description="The rule's title when grouped by reason.")
    charges: int
    amount: Money
    drill: dict[str, Any] = Field(
        {},
        description="Search parameters that find exactly this group's charges, to add to the "
        'search it was grouped from, e.g. {"practice": "north"} or {"missing": ["practice"]}.',
    )


class Groups(BaseModel):
    company_id: str
    by: q.GroupBy
    groups: list[Group]


class ChargeVersion(BaseModel):
    version: int
    outcome: str = Field(description="claimed, failed, held or stale")
    run_number: int | None
    claim_id: str | None
    received_at: dt.datetime
    charge: dict[str, Any]


class FailureEvent(BaseModel):
    version: int
    run_number: int
    failed_at: dt.datetime
    reasons: list[Reason]


class ChargeDetail(FailedCharge):
    resolved_claim_id: str | None = None
    resolved_at: dt.datetime | None = None
    versions: list[ChargeVersion]
    failures: list[FailureEvent]
    reprocessing: list[dict[str, Any]] | None = Field(
        description="What the reprocess worker did with this charge; null where it has not run here yet."
    )


class ReprocessSelection(BaseModel):
    """Select failures by charge id, or by the search's filters; one action is one request."""

    model_config = ConfigDict(extra="forbid")

    company: Identifier | None = Field(None, description="Defaults to your own (first) company.")
    charge_ids: Annotated[list[Identifier], Field(max_length=MAX_CHARGES)] = []
    filters: SearchFilters | None = Field(
        None, description="Instead of charge_ids: every open failure found."
    )
    corrections: Corrections = Field(
        default={},
        description='Per charge id, fields to change by dotted path, e.g. {"CH-1": {"patient.sex": "F"}}. '
        "Each value is at most 1,000 characters as JSON.",
    )
    claim_delay_until: dt.date | None = Field(
        None, description="Hold the replayed charges until this date (at most about three years ahead)."
    )
    expected_count: Annotated[int, Field(ge=0, le=MAX_OFFSET)] | None = Field(
        None,
        description="With filters: how many open failures the biller confirmed they select "
        "(POST /reprocess/preview answers it); a different count now refuses the request.",
    )

    @model_validator(mode="after")
    def _one_selection(self) -> ReprocessSelection:
        if bool(self.charge_ids) == (self.filters is not None):
            raise ValueError("select failures by charge_ids or by filters (one of them)")
        if self.filters is not None and self.filters.company not in (None, self.company):
            raise ValueError("give the company once, at the top level")
        stray = set(self.corrections) - set(self.charge_ids)
        if stray:
            raise ValueError(f"corrections for charges not selected: {', '.join(sorted(stray)[:20])}")
        if self.charge_ids and self.expected_count is not None:
            raise ValueError("expected_count goes with filters; charge_ids name the charges themselves")
        return self


class ReprocessBody(ReprocessSelection):
    """A reprocess action. By filters it carries the count the biller confirmed, so that an
    empty or mistyped filter never replays a whole company unseen."""

    @model_validator(mode="after")
    def _count_confirmed(self) -> ReprocessBody:
        if self.filters is not None and self.expected_count is None:
            raise ValueError(
                "reprocessing by filters needs expected_count: the number of open failures they "
                "select, as POST /reprocess/preview answers it and the biller confirmed"
            )
        return self


class ReprocessPreview(BaseModel):
    company_id: str
    count: int = Field(description="Open failures the selection would replay now.")
    first: list[str] = Field(description="The first few of them, in the search's order.")
    limit: int = Field(MAX_CHARGES, description="The most one request replays.")


class FieldProblem(BaseModel):
    """What is wrong with one corrected field, in words; never the value (it may be patient data)."""

    field: str
    problem: str


class Skipped(BaseModel):
    charge_id: str
    reason: str


class ReprocessAccepted(BaseModel):
    request_id: str
    company_id: str
    requested_by: str
    topic: str
    replaying: list[str] = Field(
        description="Open failures in the company that the reprocess worker will replay."
    )
    skipped: list[Skipped] = Field(description="Selected charges that will not be replayed, and why.")


class ReasonInfo(BaseModel):
    code: str
    title: str
    severity: str
    description: str


class Location(BaseModel):
    id: str
    practice: str | None = Field(description="The practice the location's failures are under.")


class Places(BaseModel):
    """Practices and locations a company has failures in, for the search form's choices."""

    company_id: str
    practices: list[str]
    locations: list[Location]


class Me(BaseModel):
    user_id: str
    companies: list[str]
