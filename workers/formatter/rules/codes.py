"""Procedure codes and modifiers: format, therapy discipline, assistant modifiers."""

from __future__ import annotations

import re

from contracts.charge import Charge
from workers.formatter.rules.context import DISCIPLINE_MODIFIERS, RuleContext
from workers.formatter.rules.results import PASS, Results, error

#: CPT category I (5 digits), category II/III (4 digits + F/T), HCPCS level II (letter + 4).
PROCEDURE_CODE = re.compile(r"^(?:[0-9]{5}|[0-9]{4}[FT]|[A-Z][0-9]{4})$")
MODIFIER = re.compile(r"^[A-Z0-9]{2}$")
MAX_MODIFIERS = 4

DISCIPLINE_NAMES = {"GP": "physical therapy", "GO": "occupational therapy", "GN": "speech-language pathology"}
#: Therapy assistant modifier -> the discipline modifier it must travel with.
ASSISTANT_PARTNER = {"CQ": "GP", "CO": "GO"}


_THERAPY_MODIFIERS = frozenset(DISCIPLINE_MODIFIERS)
_ASSISTANTS = frozenset(ASSISTANT_PARTNER)


def check_procedure_code(charge: Charge, ctx: RuleContext) -> Results:
    code = charge.procedure_code
    if code is None or not code.strip() or PROCEDURE_CODE.fullmatch(code):
        return PASS
    return [
        error(
            "PROCEDURE_CODE_FORMAT",
            f"procedure_code {code} is not a CPT code (5 digits, or 4 digits + F/T) or a HCPCS "
            "code (letter + 4 digits); correct the procedure code",
            "procedure_code",
        )
    ]


def check_modifiers(charge: Charge, ctx: RuleContext) -> Results:
    modifiers = charge.modifiers
    if len(modifiers) <= MAX_MODIFIERS and all(map(MODIFIER.fullmatch, modifiers)):
        return PASS
    out = [
        error(
            "MODIFIER_FORMAT",
            f"modifiers[{index}] {modifier!r} is not a 2-character modifier (letters/digits); "
            "correct or remove it",
            f"modifiers[{index}]",
        )
        for index, modifier in enumerate(modifiers)
        if not MODIFIER.fullmatch(modifier)
    ]
    if len(modifiers) > MAX_MODIFIERS:
        out.append(
            error(
                "MODIFIER_FORMAT",
                f"modifiers has {len(modifiers)} modifiers; a claim line takes at most "
                f"{MAX_MODIFIERS}: keep the ones that affect payment",
                "modifiers",
            )
        )
    return out


def is_therapy_code(charge: Charge, ctx: RuleContext) -> bool:
    return bool(charge.procedure_code) and charge.procedure_code in ctx.book.tables.therapy_codes


def check_therapy_modifier_present(charge: Charge, ctx: RuleContext) -> Results:
    if not is_therapy_code(charge, ctx) or not _THERAPY_MODIFIERS.isdisjoint(charge.modifiers):
        return PASS
    return [
        error(
            "THERAPY_MODIFIER_MISSING",
            f"procedure_code {charge.procedure_code} is on the therapy code list but modifiers "
            "carry none of GP, GO, GN; add GP (physical therapy), GO (occupational therapy) or "
            "GN (speech-language pathology)",
            "modifiers",
        )
    ]


def check_therapy_modifier_conflict(charge: Charge, ctx: RuleContext) -> Results:
    found = _THERAPY_MODIFIERS.intersection(charge.modifiers)
    if len(found) <= 1:
        return PASS
    named = ", ".join(f"{m} ({DISCIPLINE_NAMES[m]})" for m in sorted(found))
    return [
        error(
            "THERAPY_MODIFIER_CONFLICT",
            f"modifiers carry {named}; a line takes one therapy modifier: keep the discipline "
            "that provided the service",
            "modifiers",
        )
    ]


def check_assistant_modifiers(charge: Charge, ctx: RuleContext) -> Results:
    if _ASSISTANTS.isdisjoint(charge.modifiers):
        return PASS
    present = set(charge.modifiers)
    return [
        error(
            "ASSISTANT_MODIFIER_MISMATCH",
            f"modifier {assistant} ({DISCIPLINE_NAMES[partner]} assistant) is only valid with "
            f"{partner}; add {partner} or remove {assistant}",
            "modifiers",
        )
        for assistant, partner in ASSISTANT_PARTNER.items()
        if assistant in present and partner not in present
    ] or PASS
