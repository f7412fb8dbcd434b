"""Identity and people: required fields, NPIs, tax id, birth date, member ids.

Messages never carry a patient's name, birth date or member id (they reach logs and
dashboards); they name the field and say what is wrong with it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from functools import lru_cache

from contracts.charge import Charge
from contracts.claim import RuleResult
from workers.formatter.rules.context import RuleContext
from workers.formatter.rules.results import blank, error

#: (field path, how to read it, what the biller should do)
REQUIRED: tuple[tuple[str, Callable[[Charge], object], str], ...] = (
    ("company_id", lambda c: c.company_id, "set the company"),
    ("practice_id", lambda c: c.practice_id, "set the practice"),
    ("location_id", lambda c: c.location_id, "set the service location"),
    ("patient.id", lambda c: c.patient.id, "set the patient's account id"),
    ("patient.first_name", lambda c: c.patient.first_name, "add the patient's first name"),
    ("patient.last_name", lambda c: c.patient.last_name, "add the patient's last name"),
    ("patient.birth_date", lambda c: c.patient.birth_date, "add the patient's birth date"),
    ("patient.sex", lambda c: c.patient.sex, "add the patient's sex (F, M or U)"),
    ("payers", lambda c: c.payers or None, "add the payer responsible for the charge"),
    ("rendering_provider.npi", lambda c: c.rendering_provider.npi, "add the rendering provider's NPI"),
    ("billing_provider.npi", lambda c: c.billing_provider.npi, "add the billing provider's NPI"),
    ("billing_provider.tax_id", lambda c: c.billing_provider.tax_id, "add the billing tax id (EIN)"),
    ("service_date", lambda c: c.service_date, "add the date of service"),
    ("procedure_code", lambda c: c.procedure_code, "add the CPT/HCPCS procedure code"),
    ("units", lambda c: c.units, "add the units billed"),
    ("amount", lambda c: c.amount, "add the charge amount"),
    ("diagnoses", lambda c: c.diagnoses or None, "add at least one ICD-10-CM diagnosis"),
    ("place_of_service", lambda c: c.place_of_service, "add the place-of-service code"),
)


def check_required_fields(charge: Charge, ctx: RuleContext) -> Iterator[RuleResult]:
    for path, read, fix in REQUIRED:
        value = read(charge)
        # blank(), inlined: this runs 18 times per charge.
        if value is None or (isinstance(value, str) and not value.strip()):
            yield error("REQUIRED_FIELD", f"{path} is missing; {fix}", path)


def npi_check_digit(first_nine: str) -> int:
    """The Luhn check digit of an NPI: computed over the card-issuer prefix 80840 + 9 digits."""
    total = 0
    # Walking right to left, the digit next to the (absent) check digit is doubled first.
    for position, char in enumerate(reversed("80840" + first_nine)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


# A practice bills under a handful of NPIs, so nearly every look-up is one seen before.
@lru_cache(maxsize=4096)
def valid_npi(npi: str) -> bool:
    return (
        len(npi) == 10
        and npi.isascii()
        and npi.isdigit()
        and npi[0] in "12"
        and int(npi[9]) == npi_check_digit(npi[:9])
    )


_NPI_FIELDS = (
    ("rendering_provider.npi", "rendering provider", lambda c: c.rendering_provider.npi),
    ("billing_provider.npi", "billing provider", lambda c: c.billing_provider.npi),
)


def check_npis(charge: Charge, ctx: RuleContext) -> Iterator[RuleResult]:
    for path, who, read in _NPI_FIELDS:
        npi = read(charge)
        if blank(npi) or valid_npi(npi):
            continue
        if len(npi) == 10 and npi.isdigit() and npi[0] in "12":
            problem = "fails the NPI check digit"
        else:
            problem = "is not 10 digits starting with 1 or 2"
        yield error("NPI_CHECK_DIGIT", f"{path} {npi} {problem}; check the {who}'s NPI", path)


def check_tax_id(charge: Charge, ctx: RuleContext) -> Iterator[RuleResult]:
    tax_id = charge.billing_provider.tax_id
    if blank(tax_id):
        return
    assert tax_id is not None
    digits = tax_id.replace("-", "")
    if not (len(digits) == 9 and digits.isascii() and digits.isdigit()):
        # The value is not echoed: a sole practitioner's tax id can be an SSN.
        yield error(
            "TAX_ID_FORMAT",
            "billing_provider.tax_id is not 9 digits; enter the billing EIN as 12-3456789",
            "billing_provider.tax_id",
        )


MAX_AGE = 150


def age_on(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def check_birth_date(charge: Charge, ctx: RuleContext) -> Iterator[RuleResult]:
    birth = charge.patient.birth_date
    if birth is None:
        return
    field = "patient.birth_date"
    service = charge.service_date
    if birth > ctx.today:
        problem = "is in the future"
    elif service is not None and birth > service:
        problem = "is after the service date"
    elif age_on(birth, service or ctx.today) >= MAX_AGE:
        problem = f"implies an age of {MAX_AGE} or more"
    else:
        return
    yield error("BIRTH_DATE_INVALID", f"patient birth date {problem}; check the patient's birth date", field)


def _payer_label(index: int, name: str, payer_id: str) -> str:
    return f"payers[{index}] ({name.strip() or payer_id})"


def check_member_ids(charge: Charge, ctx: RuleContext) -> Iterator[RuleResult]:
    for index, payer in enumerate(charge.payers):
        if payer.payer_type == "patient" or not blank(payer.member_id):
            continue
        if not ctx.rules_for_payer(payer).applies("MEMBER_ID_MISSING"):
            continue
        label = _payer_label(index, payer.name, payer.payer_id)
        yield error(
            "MEMBER_ID_MISSING",
            f"{label}: member id is missing; add the member id from the patient's insurance card",
            f"payers[{index}].member_id",
        )


MBI = re.compile(
    r"^[1-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9][0-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9][0-9]"
    r"[AC-HJKMNP-RT-Y]{2}[0-9]{2}$"
)


def valid_mbi(value: str) -> bool:
    return MBI.fullmatch(value) is not None


def check_medicare_mbis(charge: Charge, ctx: RuleContext) -> Iterator[RuleResult]:
    for index, payer in enumerate(charge.payers):
        if payer.payer_type != "medicare" or blank(payer.member_id):
            continue
        assert payer.member_id is not None
        if valid_mbi(payer.member_id):
            continue
        if not ctx.rules_for_payer(payer).applies("MEDICARE_MBI_FORMAT"):
            continue
        label = _payer_label(index, payer.name, payer.payer_id)
        yield error(
            "MEDICARE_MBI_FORMAT",
            # No example MBI here: it could be taken for (or be part of) the patient's own.
            f"{label}: member id is not a Medicare Beneficiary Identifier (11 capital letters and "
            "digits in the CMS pattern, no dashes); copy the MBI from the patient's Medicare card",
            f"payers[{index}].member_id",
        )
