"""Procedure codes and modifiers: format, therapy discipline, assistant modifiers."""

from __future__ import annotations

import re
from collections.abc import Iterator

from contracts.charge import Charge
from contracts.claim import RuleResult
from workers.formatter.rules.context import DISCIPLINE_MODIFIERS, RuleContext
from workers.formatter.rules.results import blank, error

#: CPT category I (5 digits), category II/III (4 digits + F/T), HCPCS level II (letter + 4).
PROCEDURE_CODE = re.compile(r"^(?:[0-9]{5}|[0-9]{4}[FT]|[A-Z][0-9]{4})$")
MODIFIER = re.compile(r"^[A-Z0-9]{2}$")
MAX_MODIFIERS = 4

DISCIPLINE_NAMES = {"GP": "physical therapy", "GO": "occupational therapy", "GN": "speech-language pathology"}
#: Therapy assistant modifier -> the discipline modifier it must travel with.
ASSISTANT_PARTNER = {"CQ": "GP", "CO": "GO"}


def check_procedure_code(charge: Charge, ctx: RuleContext) -> Iterator[RuleResult]:
    code = charge.procedure_code
    if blank(code) or PROCEDURE_CODE.fullmatch(code or ""):
        return
    yield error(
        "PROCEDURE_CODE_FORMAT",
        f"procedure_code {code} is not a CPT code (5 digits, or 4 digits + F/T) or a HCPCS "
        "code (letter + 4 digits); correct the procedure code",
        "procedure_code",
    )


def check_modifiers(charge: Charge, ctx: RuleContext) -> Iterator[RuleResult]:
    for index, modifier in enumerate(charge.modifiers):
        if not MODIFIER.fullmatch(modifier):
            yield error(
                "MODIFIER_FORMAT",
                f"modifiers[{index}] {modifier!r} is not a 2-character modifier (letters/digits); "
                "correct or remove it",
                f"modifiers[{index}]",
            )
    if len(charge.modifiers) > MAX_MODIFIERS:
        yield error(
            "MODIFIER_FORMAT",
            f"modifiers has {len(charge.modifiers)} modifiers; a claim line takes at most "
            f"{MAX_MODIFIERS}: keep the ones that affect payment",
            "modifiers",
        )


def is_therapy_code(charge: Charge, ctx: RuleContext) -> bool:
    return bool(charge.procedure_code) and charge.procedure_code in ctx.book.tables.therapy_codes


def check_therapy_modifier_present(charge: Charge, ctx: RuleContext) -> Iterator[RuleResult]:
    if not is_therapy_code(charge, ctx):
        return
    if any(m in DISCIPLINE_MODIFIERS for m in charge.modifiers):
        return
    yield error(
        "THERAPY_MODIFIER_MISSING",
        f"procedure_code {charge.procedure_code} is on the therapy code list but modifiers carry "
        "none of GP, GO, GN; add GP (physical therapy), GO (occupational therapy) or "
        "GN (speech-language pathology)",
        "modifiers",
    )


def check_therapy_modifier_conflict(charge: Charge, ctx: RuleContext) -> Iterator[RuleResult]:
    found = sorted({m for m in charge.modifiers if m in DISCIPLINE_MODIFIERS})
    if len(found) > 1:
        named = ", ".join(f"{m} ({DISCIPLINE_NAMES[m]})" for m in found)
        yield error(
            "THERAPY_MODIFIER_CONFLICT",
            f"modifiers carry {named}; a line takes one therapy modifier: keep the discipline "
            "that provided the service",
            "modifiers",
        )


def check_assistant_modifiers(charge: Charge, ctx: RuleContext) -> Iterator[RuleResult]:
    present = set(charge.modifiers)
    for assistant, partner in ASSISTANT_PARTNER.items():
        if assistant in present and partner not in present:
            yield error(
                "ASSISTANT_MODIFIER_MISMATCH",
                f"modifier {assistant} ({DISCIPLINE_NAMES[partner]} assistant) is only valid with "
                f"{partner}; add {partner} or remove {assistant}",
                "modifiers",
            )
