"""Diagnoses: ICD-10-CM format, how many, no repeats, and the line's pointers into them.

Diagnosis codes are not echoed in messages: the field's index tells the biller which one.
"""

from __future__ import annotations

import re

from contracts.charge import Charge
from workers.formatter.rules.context import RuleContext
from workers.formatter.rules.results import PASS, Results, error

ICD10_CM = re.compile(r"^[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$")
MAX_DIAGNOSES = 12  # the CMS-1500 and 837P hold twelve
MAX_POINTERS = 4


def check_icd10_format(charge: Charge, ctx: RuleContext) -> Results:
    diagnoses = charge.diagnoses
    if all(map(ICD10_CM.fullmatch, diagnoses)):
        return PASS
    return [
        error(
            "ICD10_FORMAT",
            f"diagnoses[{index}] is not an ICD-10-CM code (a letter, a digit, then up to 5 "
            "letters/digits, dot optional); correct the diagnosis",
            f"diagnoses[{index}]",
        )
        for index, code in enumerate(diagnoses)
        if not ICD10_CM.fullmatch(code)
    ]


def check_diagnosis_count(charge: Charge, ctx: RuleContext) -> Results:
    # None at all is REQUIRED_FIELD's to report.
    if len(charge.diagnoses) <= MAX_DIAGNOSES:
        return PASS
    return [
        error(
            "DIAGNOSIS_COUNT",
            f"diagnoses has {len(charge.diagnoses)} codes; a claim holds at most {MAX_DIAGNOSES}: "
            "keep the ones the service treats",
            "diagnoses",
        )
    ]


def _same_code(code: str) -> str:
    # M54.50 and M5450 are the same diagnosis; the dot is presentation only.
    return code.replace(".", "")


def check_diagnosis_duplicates(charge: Charge, ctx: RuleContext) -> Results:
    keys = [_same_code(code) for code in charge.diagnoses]
    if len(set(keys)) == len(keys):
        return PASS
    out = []
    first_seen: dict[str, int] = {}
    for index, key in enumerate(keys):
        if key in first_seen:
            out.append(
                error(
                    "DIAGNOSIS_DUPLICATE",
                    f"diagnoses[{index}] repeats diagnoses[{first_seen[key]}]; remove the repeat "
                    "and renumber the diagnosis pointers",
                    f"diagnoses[{index}]",
                )
            )
        else:
            first_seen[key] = index
    return out


def check_diagnosis_pointers(charge: Charge, ctx: RuleContext) -> Results:
    count = len(charge.diagnoses)
    if count == 0:
        return PASS  # REQUIRED_FIELD reports the missing diagnosis; pointers cannot be judged
    pointers = charge.diagnosis_pointers
    if pointers and len(pointers) <= MAX_POINTERS and min(pointers) >= 1 and max(pointers) <= count:
        return PASS
    out = []
    if not pointers or len(pointers) > MAX_POINTERS:
        out.append(
            error(
                "DIAGNOSIS_POINTER_INVALID",
                f"diagnosis_pointers has {len(pointers)} pointers; a line points at 1 to "
                f"{MAX_POINTERS} diagnoses: point at the diagnoses this service treats",
                "diagnosis_pointers",
            )
        )
    out.extend(
        error(
            "DIAGNOSIS_POINTER_INVALID",
            f"diagnosis_pointers[{index}] is {pointer} but the charge has {count} "
            f"diagnos{'is' if count == 1 else 'es'} (pointers count from 1); fix the pointer",
            f"diagnosis_pointers[{index}]",
        )
        for index, pointer in enumerate(pointers)
        if not 1 <= pointer <= count
    )
    return out
