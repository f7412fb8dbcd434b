"""The one list of rules: code, title, severity, description, and the check that runs it.

Adding a rule is one `check_*` function and one entry here. The order is the spec's, and
it is the order results come out in, so a failure reads the same on every run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

from contracts.charge import Charge
from contracts.claim import RuleResult
from workers.formatter.rules import amounts, codes, dates, diagnoses, identity, place, state, units
from workers.formatter.rules.results import Check

if TYPE_CHECKING:
    from workers.formatter.rules.context import RuleContext

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Rule:
    code: str
    title: str
    severity: Severity
    description: str
    check: Check


def _rule(code: str, title: str, description: str, check: Check, severity: Severity = "error") -> Rule:
    return Rule(code, title, severity, description, check)


REGISTRY: tuple[Rule, ...] = (
    # Identity and people
    _rule(
        "REQUIRED_FIELD",
        "Required field missing",
        "Every field a professional claim needs is present and non-blank.",
        identity.check_required_fields,
    ),
    _rule(
        "NPI_CHECK_DIGIT",
        "NPI invalid",
        "Each NPI is 10 digits starting 1 or 2 with a valid Luhn check digit (prefix 80840).",
        identity.check_npis,
    ),
    _rule(
        "TAX_ID_FORMAT",
        "Tax id invalid",
        "The billing tax id is 9 digits (an EIN; hyphens allowed).",
        identity.check_tax_id,
    ),
    _rule(
        "BIRTH_DATE_INVALID",
        "Birth date invalid",
        "The birth date is not after the service date or today and implies an age under 150.",
        identity.check_birth_date,
    ),
    _rule(
        "MEMBER_ID_MISSING",
        "Member id missing",
        "Every insurance payer on the charge has a member id.",
        identity.check_member_ids,
    ),
    _rule(
        "MEDICARE_MBI_FORMAT",
        "Medicare MBI invalid",
        "A Medicare member id is an 11-character Medicare Beneficiary Identifier.",
        identity.check_medicare_mbis,
    ),
    # Codes
    _rule(
        "PROCEDURE_CODE_FORMAT",
        "Procedure code invalid",
        "CPT category I (5 digits), category II/III (4 digits + F/T) or HCPCS (letter + 4 digits).",
        codes.check_procedure_code,
    ),
    _rule(
        "MODIFIER_FORMAT",
        "Modifier invalid",
        "Each modifier is 2 letters/digits; at most 4 per line.",
        codes.check_modifiers,
    ),
    _rule(
        "THERAPY_MODIFIER_MISSING",
        "Therapy modifier missing",
        "A code on the therapy code list carries GP, GO or GN.",
        codes.check_therapy_modifier_present,
    ),
    _rule(
        "THERAPY_MODIFIER_CONFLICT",
        "Therapy modifiers conflict",
        "At most one of GP, GO, GN on a line.",
        codes.check_therapy_modifier_conflict,
    ),
    _rule(
        "ASSISTANT_MODIFIER_MISMATCH",
        "Assistant modifier mismatch",
        "CQ only with GP, CO only with GO.",
        codes.check_assistant_modifiers,
    ),
    _rule(
        "EVALUATION_UNITS",
        "Evaluation units",
        "Evaluation and re-evaluation codes (97161-97168) bill exactly 1 unit.",
        units.check_evaluation_units,
    ),
    _rule(
        "UNITS_INVALID",
        "Units invalid",
        "Units are at least 1 and within the code's MUE limit.",
        units.check_units,
    ),
    _rule(
        "UNITS_MINUTES_MISMATCH",
        "Units and minutes disagree",
        "For a timed code with minutes, units agree with the payer's timing method.",
        units.check_units_against_minutes,
        "warning",
    ),
    _rule(
        "KX_MODIFIER_REQUIRED",
        "KX modifier required",
        "Therapy past the year's Medicare threshold carries the KX modifier.",
        amounts.check_kx_modifier,
    ),
    _rule(
        "AMOUNT_NOT_POSITIVE",
        "Amount out of range",
        "The amount is above 0.00 and at most 99,999.99.",
        amounts.check_amount,
    ),
    # Diagnoses
    _rule(
        "ICD10_FORMAT",
        "Diagnosis code invalid",
        "Each diagnosis is an ICD-10-CM code.",
        diagnoses.check_icd10_format,
    ),
    _rule("DIAGNOSIS_COUNT", "Too many diagnoses", "1 to 12 diagnoses.", diagnoses.check_diagnosis_count),
    _rule(
        "DIAGNOSIS_DUPLICATE",
        "Diagnosis repeated",
        "No diagnosis twice on one charge.",
        diagnoses.check_diagnosis_duplicates,
    ),
    _rule(
        "DIAGNOSIS_POINTER_INVALID",
        "Diagnosis pointer invalid",
        "1 to 4 pointers per line, each pointing at a diagnosis that exists.",
        diagnoses.check_diagnosis_pointers,
    ),
    # Dates, place and payer
    _rule(
        "SERVICE_DATE_IN_FUTURE",
        "Service date in the future",
        "The service date is not after today.",
        dates.check_service_date,
    ),
    _rule(
        "TIMELY_FILING_EXCEEDED",
        "Timely filing exceeded",
        "Today is within the payer's filing limit from the service date.",
        dates.check_timely_filing,
    ),
    _rule(
        "PLACE_OF_SERVICE_INVALID",
        "Place of service invalid",
        "A code from the CMS place-of-service code set.",
        place.check_place_of_service,
    ),
    _rule(
        "AUTHORIZATION_REQUIRED",
        "Authorization required",
        "Where the payer requires prior authorization for the code, a number is present.",
        place.check_authorization_present,
    ),
    _rule(
        "AUTHORIZATION_RANGE",
        "Outside the authorization",
        "The service date is inside the authorization's dates and its visits are not used up.",
        place.check_authorization_range,
        "warning",
    ),
    # State
    _rule(
        "DUPLICATE_CHARGE",
        "Duplicate charge",
        "The same patient, date, code and modifiers already produced a claim (another charge).",
        state.check_duplicate_charge,
    ),
    _rule(
        "BILL_REJECTED",
        "Bill rejected",
        "The charge's bill is in Rejected status and the charge is not a correction of it.",
        state.check_bill_rejected,
    ),
    _rule(
        "ALREADY_BILLED",
        "Already billed",
        "The charge already went out on a bill that is not rejected (product addition).",
        state.check_already_billed,
    ),
)

RULES: Mapping[str, Rule] = MappingProxyType({rule.code: rule for rule in REGISTRY})
assert len(RULES) == len(REGISTRY), "two rules share a code"


def evaluate(charge: Charge, ctx: RuleContext) -> list[RuleResult]:
    """Every error and warning for the charge, in registry order; empty means it may be claimed.

    Which rules run is the primary payer's setting in the rule book (`RuleContext.book`).
    """
    results: list[RuleResult] = []
    for check in ctx.rules(charge).checks:
        found = check(charge, ctx)
        if found:
            results.extend(found)
    return results


def errors(results: list[RuleResult]) -> list[RuleResult]:
    """The results that stop a claim (warnings ride along on the claim line)."""
    return [r for r in results if r.severity == "error"]
