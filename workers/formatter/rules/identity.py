"""Identity and people: required fields, NPIs, tax id, birth date, member ids.

Messages never carry a patient's name, birth date or member id (they reach logs and
dashboards); they name the field and say what is wrong with it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from functools import lru_cache
from operator import attrgetter

from contracts.charge import Address, Charge
from contracts.claim import RuleResult
from workers.formatter.rules.context import RuleContext
from workers.formatter.rules.results import PASS, Results, blank, error

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

#: What an 837P needs besides (loops 2010AA, 2010BA/2010CA, 2310B): a charge without them
#: fails here, in the Failed Charges report, rather than at the clearinghouse. Each payer's
#: own needs (electronic id, policy holder) are read by _payer_fields.
CLAIM_REQUIRED: tuple[tuple[str, Callable[[Charge], object], str], ...] = (
    ("patient.address.line1", lambda c: _address(c.patient.address, "line1"), "add the patient's street"),
    ("patient.address.city", lambda c: _address(c.patient.address, "city"), "add the patient's city"),
    ("patient.address.state", lambda c: _address(c.patient.address, "state"), "add the patient's state"),
    (
        "patient.address.postal_code",
        lambda c: _address(c.patient.address, "postal_code"),
        "add the patient's ZIP code",
    ),
    ("rendering_provider.name", lambda c: c.rendering_provider.name, "add the rendering provider's name"),
    ("billing_provider.name", lambda c: c.billing_provider.name, "add the billing provider's name"),
    (
        "billing_provider.address.line1",
        lambda c: _address(c.billing_provider.address, "line1"),
        "add the billing provider's street address (no PO box)",
    ),
    (
        "billing_provider.address.city",
        lambda c: _address(c.billing_provider.address, "city"),
        "add the billing provider's city",
    ),
    (
        "billing_provider.address.state",
        lambda c: _address(c.billing_provider.address, "state"),
        "add the billing provider's state",
    ),
    (
        "billing_provider.address.postal_code",
        lambda c: _address(c.billing_provider.address, "postal_code"),
        "add the billing provider's ZIP code",
    ),
)


def _address(address: Address | None, part: str) -> str | None:
    return None if address is None else getattr(address, part)


def _payer_fields(charge: Charge) -> list[tuple[str, object, str]]:
    """(path, value, fix) for what each insurance payer needs on an 837P; self-pay needs none."""
    out: list[tuple[str, object, str]] = []
    for index, payer in enumerate(charge.payers):
        if payer.payer_type == "patient":
            continue
        at = f"payers[{index}]"
        out.append((f"{at}.electronic_id", payer.electronic_id, "add the payer's electronic (EDI) payer id"))
        if payer.relationship != "self":
            subscriber = payer.subscriber
            for part, words in (("last_name", "last name"), ("first_name", "first name")):
                value = None if subscriber is None else getattr(subscriber, part)
                out.append((f"{at}.subscriber.{part}", value, f"add the policy holder's {words}"))
    return out


def _payers_complete(charge: Charge) -> bool:
    for payer in charge.payers:
        if payer.payer_type == "patient":
            continue
        if not payer.electronic_id:
            return False
        if payer.relationship != "self":
            subscriber = payer.subscriber
            if subscriber is None or not subscriber.last_name.strip() or not subscriber.first_name.strip():
                return False
    return True


def _addresses_complete(charge: Charge) -> bool:
    for address in (charge.patient.address, charge.billing_provider.address):
        if address is None:
            return False
        if not (address.line1.strip() and address.city.strip() and address.state.strip()):
            return False
        if not address.postal_code.strip():
            return False
    return bool(charge.rendering_provider.name.strip() and charge.billing_provider.name.strip())


#: REQUIRED's paths by the type the contract gives them: text (or None), and the rest
#: (dates, numbers, lists, or None). A charge that has every one of them, as nearly all
#: do, is recognised in a few C calls instead of 18 readers.
REQUIRED_TEXT_PATHS = (
    "company_id",
    "practice_id",
    "location_id",
    "patient.id",
    "patient.first_name",
    "patient.last_name",
    "patient.sex",
    "rendering_provider.npi",
    "billing_provider.npi",
    "billing_provider.tax_id",
    "procedure_code",
    "place_of_service",
)
REQUIRED_VALUE_PATHS = ("patient.birth_date", "payers", "service_date", "units", "amount", "diagnoses")
_texts = attrgetter(*REQUIRED_TEXT_PATHS)
_values = attrgetter(*REQUIRED_VALUE_PATHS)


def has_required_fields(charge: Charge) -> bool:
    """True when no REQUIRED field is missing (the slow answer is missing_fields() == [])."""
    texts = _texts(charge)
    if None in texts or not all(map(str.strip, texts)):
        return False
    values = _values(charge)
    # payers and diagnoses are lists: missing when empty.
    if None in values or not values[1] or not values[5]:
        return False
    return _addresses_complete(charge) and _payers_complete(charge)


def missing_fields(charge: Charge) -> list[RuleResult]:
    out = []
    for path, read, fix in REQUIRED + CLAIM_REQUIRED:
        value = read(charge)
        if value is None or (isinstance(value, str) and not value.strip()):
            out.append(error("REQUIRED_FIELD", f"{path} is missing; {fix}", path))
    for path, value, fix in _payer_fields(charge):
        if value is None or (isinstance(value, str) and not value.strip()):
            out.append(error("REQUIRED_FIELD", f"{path} is missing; {fix}", path))
    return out


def check_required_fields(charge: Charge, ctx: RuleContext) -> Results:
    return PASS if has_required_fields(charge) else missing_fields(charge)


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


def check_npis(charge: Charge, ctx: RuleContext) -> Results:
    rendering, billing = charge.rendering_provider.npi, charge.billing_provider.npi
    if rendering and billing and valid_npi(rendering) and valid_npi(billing):
        return PASS
    out = []
    for path, who, read in _NPI_FIELDS:
        npi = read(charge)
        if blank(npi) or valid_npi(npi):
            continue
        if len(npi) == 10 and npi.isdigit() and npi[0] in "12":
            problem = "fails the NPI check digit"
        else:
            problem = "is not 10 digits starting with 1 or 2"
        out.append(error("NPI_CHECK_DIGIT", f"{path} {npi} {problem}; check the {who}'s NPI", path))
    return out


def check_tax_id(charge: Charge, ctx: RuleContext) -> Results:
    tax_id = charge.billing_provider.tax_id
    if tax_id is None or not tax_id.strip():
        return PASS
    digits = tax_id.replace("-", "")
    if len(digits) == 9 and digits.isascii() and digits.isdigit():
        return PASS
    # The value is not echoed: a sole practitioner's tax id can be an SSN.
    return [
        error(
            "TAX_ID_FORMAT",
            "billing_provider.tax_id is not 9 digits; enter the billing EIN as 12-3456789",
            "billing_provider.tax_id",
        )
    ]


MAX_AGE = 150


def age_on(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def check_birth_date(charge: Charge, ctx: RuleContext) -> Results:
    birth = charge.patient.birth_date
    if birth is None:
        return PASS
    field = "patient.birth_date"
    service = charge.service_date
    if birth > ctx.today:
        problem = "is in the future"
    elif service is not None and birth > service:
        problem = "is after the service date"
    elif age_on(birth, service or ctx.today) >= MAX_AGE:
        problem = f"implies an age of {MAX_AGE} or more"
    else:
        return PASS
    return [
        error("BIRTH_DATE_INVALID", f"patient birth date {problem}; check the patient's birth date", field)
    ]


def _payer_label(index: int, name: str, payer_id: str) -> str:
    return f"payers[{index}] ({name.strip() or payer_id})"


def check_member_ids(charge: Charge, ctx: RuleContext) -> Results:
    out: list[RuleResult] = []
    for index, payer in enumerate(charge.payers):
        member_id = payer.member_id
        if payer.payer_type == "patient" or (member_id is not None and member_id.strip()):
            continue
        if not ctx.rules_for_payer(payer).applies("MEMBER_ID_MISSING"):
            continue
        label = _payer_label(index, payer.name, payer.payer_id)
        out.append(
            error(
                "MEMBER_ID_MISSING",
                f"{label}: member id is missing; add the member id from the patient's insurance card",
                f"payers[{index}].member_id",
            )
        )
    return out or PASS


MBI = re.compile(
    r"^[1-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9][0-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9][0-9]"
    r"[AC-HJKMNP-RT-Y]{2}[0-9]{2}$"
)


def valid_mbi(value: str) -> bool:
    return MBI.fullmatch(value) is not None


def check_medicare_mbis(charge: Charge, ctx: RuleContext) -> Results:
    out: list[RuleResult] = []
    for index, payer in enumerate(charge.payers):
        member_id = payer.member_id
        if payer.payer_type != "medicare" or member_id is None or not member_id.strip():
            continue
        if MBI.fullmatch(member_id) is not None:
            continue
        if not ctx.rules_for_payer(payer).applies("MEDICARE_MBI_FORMAT"):
            continue
        label = _payer_label(index, payer.name, payer.payer_id)
        out.append(
            error(
                "MEDICARE_MBI_FORMAT",
                # No example MBI here: it could be taken for (or be part of) the patient's own.
                f"{label}: member id is not a Medicare Beneficiary Identifier (11 capital letters "
                "and digits in the CMS pattern, no dashes); copy the MBI from the patient's "
                "Medicare card",
                f"payers[{index}].member_id",
            )
        )
    return out or PASS
