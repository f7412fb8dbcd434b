"""Ways to break a valid charge against exactly one formatter rule.

Each breaker names the rule code of spec/formatter-rules.md it is meant to trip, says
which charges it fits (the MBI rule needs a Medicare patient), and changes only what that
rule looks at, so that the charge fails for that reason alone wherever the rules allow it.
Rules that depend on history (DUPLICATE_CHARGE, KX_MODIFIER_REQUIRED, BILL_REJECTED) or
on per-payer settings off by default (AUTHORIZATION_REQUIRED), and the warnings, are not
broken here: one charge on its own cannot be relied on to trip them.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from contracts import Charge
from devtools.sample import catalog
from devtools.sample.identifiers import break_npi, malformed_mbi

THERAPY_MODIFIERS = ("GP", "GO", "GN")
ASSISTANT_MODIFIERS = ("CQ", "CO")
#: Modifiers that are well formed and neither therapy nor assistant modifiers.
FILLER_MODIFIERS = ("59", "76", "77", "XU", "XE")
BAD_PROCEDURE_CODES = ("9711", "971100", "97.110", "0283G", "ABCDE")
BAD_PLACES_OF_SERVICE = ("99x", "1A", "00")
#: Far above any practitioner MUE for a timed therapy code (they are single digits).
UNITS_OVER_LIMIT = 25
#: Commercial filing limit is 90 days; these service dates are beyond it.
LATE_DAYS = (95, 150)


def submitted_at(rng: random.Random, service_date: dt.date, today: dt.date) -> dt.datetime:
    """When the EHR sent the charge: the evening of the visit, never after `today`."""
    day = min(service_date, today)
    return dt.datetime(day.year, day.month, day.day, 17, rng.randrange(60), tzinfo=dt.UTC)


@dataclass(frozen=True)
class Breaker:
    code: str
    applies: Callable[[Charge], bool]
    change: Callable[[Charge, random.Random, dt.date], dict[str, Any]]

    def apply(self, charge: Charge, rng: random.Random, today: dt.date) -> Charge:
        return charge.model_copy(update=self.change(charge, rng, today))


def _any(_: Charge) -> bool:
    return True


def _primary_is(payer_type: str) -> Callable[[Charge], bool]:
    def applies(charge: Charge) -> bool:
        primary = charge.primary_payer
        return primary is not None and primary.payer_type == payer_type

    return applies


def _therapy_modifier(charge: Charge) -> str:
    return next((m for m in charge.modifiers if m in THERAPY_MODIFIERS), "GP")


def _unit_fee(charge: Charge) -> Decimal:
    assert charge.amount is not None and charge.units
    return charge.amount / charge.units


def _missing_required(charge: Charge, rng: random.Random, _: dt.date) -> dict[str, Any]:
    field = "birth_date" if rng.random() < 0.7 else "sex"
    return {"patient": charge.patient.model_copy(update={field: None})}


def _bad_npi(charge: Charge, rng: random.Random, _: dt.date) -> dict[str, Any]:
    which = rng.choice(("rendering_provider", "billing_provider"))
    provider = getattr(charge, which)
    return {which: provider.model_copy(update={"npi": break_npi(provider.npi)})}


def _bad_tax_id(charge: Charge, rng: random.Random, _: dt.date) -> dict[str, Any]:
    tax_id = (charge.billing_provider.tax_id or "").replace("-", "")
    bad = rng.choice((tax_id[:8], tax_id + "0", tax_id[:8] + "X"))
    return {"billing_provider": charge.billing_provider.model_copy(update={"tax_id": bad})}


def _bad_birth_date(charge: Charge, rng: random.Random, today: dt.date) -> dict[str, Any]:
    assert charge.service_date is not None
    if rng.random() < 0.5:
        born = charge.service_date + dt.timedelta(days=rng.randint(1, 30))  # born after the visit
    else:
        born = dt.date(rng.randint(1840, 1860), rng.randint(1, 12), rng.randint(1, 28))
    return {"patient": charge.patient.model_copy(update={"birth_date": born})}


def _replace_primary(charge: Charge, member_id: str | None) -> dict[str, Any]:
    primary = charge.payers[0].model_copy(update={"member_id": member_id})
    return {"payers": [primary, *charge.payers[1:]]}


def _no_member_id(charge: Charge, rng: random.Random, _: dt.date) -> dict[str, Any]:
    return _replace_primary(charge, rng.choice((None, "")))


def _bad_mbi(charge: Charge, rng: random.Random, _: dt.date) -> dict[str, Any]:
    return _replace_primary(charge, malformed_mbi(rng, charge.payers[0].member_id or ""))


def _bad_procedure(charge: Charge, rng: random.Random, _: dt.date) -> dict[str, Any]:
    # One unit: an unknown code has no unit limit that a unit table could vouch for.
    return {
        "procedure_code": rng.choice(BAD_PROCEDURE_CODES),
        "units": 1,
        "minutes": None,
        "amount": _unit_fee(charge),
    }


def _too_many_modifiers(charge: Charge, rng: random.Random, _: dt.date) -> dict[str, Any]:
    modifiers = list(charge.modifiers)
    if rng.random() < 0.3:
        return {"modifiers": [*modifiers, rng.choice(("9", "GPX", "G-"))]}
    fillers = [m for m in FILLER_MODIFIERS if m not in modifiers]
    return {"modifiers": modifiers + fillers[: 5 - len(modifiers)]}


def _is_medicare_therapy(charge: Charge) -> bool:
    return _primary_is("medicare")(charge) and charge.procedure_code in _THERAPY_LIST


def _drop_therapy_modifier(charge: Charge, rng: random.Random, _: dt.date) -> dict[str, Any]:
    # Drop the assistant modifier too: CQ without GP would break a second rule.
    kept = [m for m in charge.modifiers if m not in THERAPY_MODIFIERS + ASSISTANT_MODIFIERS]
    return {"modifiers": kept}


def _conflicting_modifiers(charge: Charge, rng: random.Random, _: dt.date) -> dict[str, Any]:
    own = _therapy_modifier(charge)
    other = rng.choice([m for m in THERAPY_MODIFIERS if m != own])
    return {"modifiers": [own, other]}


def _assistant_mismatch(charge: Charge, rng: random.Random, _: dt.date) -> dict[str, Any]:
    own = _therapy_modifier(charge)
    wrong = "CO" if own == "GP" else "CQ"  # CQ belongs with GP, CO with GO
    return {"modifiers": [own, wrong]}


def _is_evaluation(charge: Charge) -> bool:
    return charge.procedure_code in catalog.EVALUATION_CODES


def _evaluation_units(charge: Charge, rng: random.Random, _: dt.date) -> dict[str, Any]:
    units = rng.choice((2, 3))
    return {"units": units, "amount": _unit_fee(charge) * units}


def _is_timed(charge: Charge) -> bool:
    return any(p.code == charge.procedure_code and p.timed for p in catalog.PROCEDURES)


def _units_over_limit(charge: Charge, rng: random.Random, _: dt.date) -> dict[str, Any]:
    # Minutes are dropped so the 8-minute warning does not join in.
    return {
        "units": UNITS_OVER_LIMIT,
        "minutes": None,
        "amount": _unit_fee(charge) * UNITS_OVER_LIMIT,
    }


def _not_positive(charge: Charge, rng: random.Random, _: dt.date) -> dict[str, Any]:
    return {"amount": rng.choice((Decimal("0.00"), Decimal("0.00"), -_unit_fee(charge)))}


def _bad_icd10(charge: Charge, rng: random.Random, _: dt.date) -> dict[str, Any]:
    return {"diagnoses": [rng.choice(catalog.MALFORMED_DIAGNOSES), *charge.diagnoses[1:]]}


def _too_many_diagnoses(charge: Charge, rng: random.Random, _: dt.date) -> dict[str, Any]:
    extra = [d for d in catalog.ALL_DIAGNOSES if d not in charge.diagnoses]
    rng.shuffle(extra)
    # Existing pointers stay valid: the charge's own diagnoses keep their places.
    return {"diagnoses": [*charge.diagnoses, *extra[: 13 - len(charge.diagnoses)]]}


def _duplicate_diagnosis(charge: Charge, rng: random.Random, _: dt.date) -> dict[str, Any]:
    return {"diagnoses": [*charge.diagnoses, rng.choice(charge.diagnoses)]}


def _bad_pointer(charge: Charge, rng: random.Random, _: dt.date) -> dict[str, Any]:
    return {"diagnosis_pointers": [1, len(charge.diagnoses) + rng.randint(1, 3)]}


def _future_date(charge: Charge, rng: random.Random, today: dt.date) -> dict[str, Any]:
    day = today + dt.timedelta(days=rng.randint(1, 14))
    return {"service_date": day, "submitted_at": submitted_at(rng, day, today)}


def _past_filing_limit(charge: Charge, rng: random.Random, today: dt.date) -> dict[str, Any]:
    day = today - dt.timedelta(days=rng.randint(*LATE_DAYS))
    return {"service_date": day, "submitted_at": submitted_at(rng, today, today)}


def _bad_place(charge: Charge, rng: random.Random, _: dt.date) -> dict[str, Any]:
    return {"place_of_service": rng.choice(BAD_PLACES_OF_SERVICE)}


#: The therapy code list of THERAPY_MODIFIER_MISSING (its minimum, per the rules).
_THERAPY_LIST = frozenset(
    {"97110", "97112", "97116", "97140", "97150", "97530", "97535", "G0283", "92507", "92526"}
    | set(catalog.EVALUATION_CODES)
)

BREAKERS: tuple[Breaker, ...] = (
    Breaker("REQUIRED_FIELD", _any, _missing_required),
    Breaker("NPI_CHECK_DIGIT", _any, _bad_npi),
    Breaker("TAX_ID_FORMAT", _any, _bad_tax_id),
    Breaker("BIRTH_DATE_INVALID", _any, _bad_birth_date),
    Breaker("MEMBER_ID_MISSING", _primary_is("commercial"), _no_member_id),
    Breaker("MEDICARE_MBI_FORMAT", _primary_is("medicare"), _bad_mbi),
    Breaker("PROCEDURE_CODE_FORMAT", _any, _bad_procedure),
    Breaker("MODIFIER_FORMAT", _any, _too_many_modifiers),
    Breaker("THERAPY_MODIFIER_MISSING", _is_medicare_therapy, _drop_therapy_modifier),
    Breaker("THERAPY_MODIFIER_CONFLICT", _any, _conflicting_modifiers),
    Breaker("ASSISTANT_MODIFIER_MISMATCH", _any, _assistant_mismatch),
    Breaker("EVALUATION_UNITS", _is_evaluation, _evaluation_units),
    Breaker("UNITS_INVALID", _is_timed, _units_over_limit),
    Breaker("AMOUNT_NOT_POSITIVE", _any, _not_positive),
    Breaker("ICD10_FORMAT", _any, _bad_icd10),
    Breaker("DIAGNOSIS_COUNT", _any, _too_many_diagnoses),
    Breaker("DIAGNOSIS_DUPLICATE", _any, _duplicate_diagnosis),
    Breaker("DIAGNOSIS_POINTER_INVALID", _any, _bad_pointer),
    Breaker("SERVICE_DATE_IN_FUTURE", _any, _future_date),
    Breaker("TIMELY_FILING_EXCEEDED", _primary_is("commercial"), _past_filing_limit),
    Breaker("PLACE_OF_SERVICE_INVALID", _any, _bad_place),
)

#: The rule codes a generated charge may be built to break.
BREAKABLE_RULES: tuple[str, ...] = tuple(b.code for b in BREAKERS)
