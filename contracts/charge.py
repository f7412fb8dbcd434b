"""The charge an EHR publishes on `billing.charges`: one service line, versioned.

A charge is identified by `charge_id`; each correction is a new `version` of it. Fields a
professional claim needs are typed here but may be missing or blank: a charge without a
birth date is a failed charge a biller fixes in the Failed Charges report, not an
undecodable message. Only what the pipeline needs to route and record the charge at all
(its ids, company, patient id) is required by the contract.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, ValidationInfo, field_validator

from contracts.base import Contract, Identifier, Money

PayerType = Literal["medicare", "medicaid", "commercial", "workers_comp", "auto", "patient"]
Sex = Literal["F", "M", "U"]
Code = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, max_length=16)]
#: Lengths as the 837P carries them (X12 5010): a name is NM103 (60), an address line N301
#: (55), a city N401 (30). A longer value could never reach a claim whole.
Name = Annotated[str, StringConstraints(max_length=60)]
AddressLine = Annotated[str, StringConstraints(max_length=55)]
City = Annotated[str, StringConstraints(max_length=30)]

#: How far past its service date a charge may be held: timely filing closes within a year or
#: two for every payer type, so a later date is a typo. Without a service date, a fixed latest
#: date. Both depend on the message alone, so a charge decodes the same on every day.
MAX_CLAIM_DELAY_DAYS = 3 * 366
LATEST_CLAIM_DELAY = dt.date(2099, 12, 31)


class Address(Contract):
    line1: AddressLine = ""
    line2: AddressLine = ""
    city: City = ""
    state: Annotated[str, StringConstraints(max_length=2)] = ""
    postal_code: Annotated[str, StringConstraints(max_length=10)] = ""


class Patient(Contract):
    id: Identifier
    first_name: Name = ""
    last_name: Name = ""
    birth_date: dt.date | None = None
    sex: Sex | None = None
    address: Address | None = None


Relationship = Literal["self", "spouse", "child", "other"]
Taxonomy = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, max_length=10)]


class Subscriber(Contract):
    """The insured person of a policy, when the patient is not (837P loop 2010BA)."""

    first_name: Name = ""
    last_name: Name = ""
    birth_date: dt.date | None = None
    sex: Sex | None = None
    address: Address | None = None


class ChargePayer(Contract):
    """One payer responsible for the charge; the list order is the billing order."""

    payer_id: Identifier
    name: Name = ""
    payer_type: PayerType
    member_id: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = None
    group_number: Annotated[str, StringConstraints(max_length=40)] | None = None
    electronic_id: Annotated[str, StringConstraints(strip_whitespace=True, max_length=80)] | None = Field(
        default=None, description="The payer's EDI id on claims (837P NM1*PR NM109)."
    )
    address: Address | None = Field(default=None, description="Where the payer takes paper claims.")
    relationship: Relationship = Field(
        default="self", description="The patient's relationship to this policy's subscriber."
    )
    subscriber: Subscriber | None = Field(
        default=None, description="The policy holder, when the patient is not (relationship not self)."
    )


class Provider(Contract):
    npi: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)] = ""
    name: Name = ""
    tax_id: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)] | None = None
    address: Address | None = Field(
        default=None, description="The billing provider's street address (837P loop 2010AA; no PO box)."
    )
    taxonomy: Taxonomy | None = Field(default=None, description="Health Care Provider Taxonomy code.")


class Authorization(Contract):
    """A prior authorization; dates and visit counts are optional (AUTHORIZATION_RANGE)."""

    number: Annotated[str, StringConstraints(strip_whitespace=True, max_length=50)] = ""
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    visits_authorized: Annotated[int, Field(ge=0, le=10000)] | None = None
    visits_used: Annotated[int, Field(ge=0, le=10000)] | None = None


class Charge(Contract):
    type: Literal["Charge"] = "Charge"
    schema_version: Literal[1] = 1

    charge_id: Identifier
    version: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    company_id: Identifier
    practice_id: Identifier | None = None
    location_id: Identifier | None = None

    patient: Patient
    payers: Annotated[list[ChargePayer], Field(max_length=10)] = []
    rendering_provider: Provider = Provider()
    billing_provider: Provider = Provider()

    service_date: dt.date | None = None
    procedure_code: Code | None = None
    modifiers: Annotated[list[Code], Field(max_length=10)] = []
    units: Annotated[int, Field(ge=-1000, le=1000)] | None = None
    minutes: Annotated[int, Field(ge=0, le=1440)] | None = Field(
        default=None, description="Treatment minutes for a timed code, when the EHR records them."
    )
    amount: Money | None = None
    diagnoses: Annotated[list[Code], Field(max_length=20)] = Field(
        default=[], description="ICD-10-CM codes; pointers below are 1-based into this list."
    )
    diagnosis_pointers: Annotated[list[int], Field(max_length=8)] = []
    place_of_service: Annotated[str, StringConstraints(strip_whitespace=True, max_length=4)] | None = None
    prior_authorization: Authorization | None = None
    claim_delay_until: dt.date | None = Field(
        default=None,
        description=(
            "Hold the charge until this date; it is neither claimed nor failed before. At most "
            f"{MAX_CLAIM_DELAY_DAYS} days after service_date (without one, at most "
            f"{LATEST_CLAIM_DELAY}): bounded by the message itself, so it decodes the same any day."
        ),
    )
    bill_id: Identifier | None = Field(
        default=None,
        description="The existing bill this charge belongs to, when it is added to or corrects one.",
    )
    submitted_at: dt.datetime | None = None

    @field_validator("claim_delay_until")
    @classmethod
    def _delay_within_reach(cls, value: dt.date | None, info: ValidationInfo) -> dt.date | None:
        if value is None:
            return value
        service = info.data.get("service_date")  # declared before, so already validated
        if service is not None and (value - service).days > MAX_CLAIM_DELAY_DAYS:
            raise ValueError(
                f"is more than {MAX_CLAIM_DELAY_DAYS} days after the service date; no claim is held that long"
            )
        if value > LATEST_CLAIM_DELAY:
            raise ValueError(f"is after {LATEST_CLAIM_DELAY}; no claim is held that long")
        return value

    @property
    def account(self) -> str:
        """The topic key: one patient's charges stay in order on one partition."""
        return f"{self.company_id}:{self.patient.id}"

    @property
    def primary_payer(self) -> ChargePayer | None:
        return self.payers[0] if self.payers else None
