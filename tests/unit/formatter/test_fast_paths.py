"""The rules' fast paths give the answers of the plain readings they shortcut.

Several checks first ask a cheap question ("is every required field there?", "does every
modifier match?") and only walk the charge field by field when the answer is no. Here each
check is compared with a straightforward reference, written the way the rule reads in the
spec, on charges with any mix of blank, missing and malformed values; and evaluate() with
the composition of the registry's checks, in order.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.charge import Charge
from contracts.claim import RuleResult
from tests.unit.formatter.strategies import BOOK, TODAY, base_charge, changed, context, valid_charges
from workers.formatter.rules import (
    REGISTRY,
    BillState,
    History,
    RuleContext,
    codes,
    diagnoses,
    evaluate,
    identity,
    units,
    valid_npi,
)
from workers.formatter.rules.results import error, warning

# -- charges with anything wrong ------------------------------------------------------------

BLANKS = ("", "  ", None)
FIELD_VALUES: dict[str, tuple[Any, ...]] = {
    "practice_id": (None, "PR-2"),
    "location_id": (None,),
    "patient.first_name": ("", "  ", " Al "),
    "patient.last_name": ("", "\t"),
    "patient.birth_date": (None, TODAY + dt.timedelta(days=1), dt.date(1850, 1, 1)),
    "patient.sex": (None, "U"),
    "payers": ([],),
    "rendering_provider.npi": ("", "  ", "1234567890", "123", "3234567893", "abcdefghij"),
    "billing_provider.npi": ("", "1234567893", "12345678901"),
    "billing_provider.tax_id": (None, "", "12-34", "123456789"),
    "service_date": (None, TODAY + dt.timedelta(days=2), TODAY - dt.timedelta(days=400)),
    "procedure_code": (None, "", "9711", "97161", "G0283", "1234F", "ABCDE", "97110"),
    "units": (None, 0, -2, 1, 3, 40),
    "minutes": (None, 0, 7, 8, 22, 23, 38, 90),
    "amount": (None, Decimal("0.00"), Decimal("-1.00"), Decimal("100000.00")),
    "diagnoses": ([], ["M54.50", "M5450"], ["123"], ["M54.50"] * 3, [f"M54.{n}" for n in range(13)]),
    "diagnosis_pointers": ([], [0], [1, 2, 3, 4, 5], [9], [2, 1]),
    "place_of_service": (None, "", "00", "99", "1"),
    "modifiers": (
        [],
        ["GO", "GP"],
        ["CQ"],
        ["CO", "GO"],
        ["CQ", "GO"],
        ["GP", "GO", "GN"],
        ["G"],
        ["GP", "59", "76", "KX", "XE"],
        ["59", "7$"],
    ),
    "payers.0.member_id": (None, "", "  ", "BAD-MBI", "1EG4TE5MK73"),
    "payers.0.payer_type": ("medicare", "commercial", "patient"),
    "payers.0.name": ("", "  "),
    "payers.0.electronic_id": (None, "", "EDI9"),
    "payers.0.relationship": ("self", "spouse"),
    "payers.0.subscriber": (
        None,
        {"first_name": "Al", "last_name": ""},
        {"first_name": "Al", "last_name": "Bo"},
    ),
    "patient.address": (None, {"line1": "1 A St", "city": "", "state": "IL", "postal_code": "62701"}),
    "billing_provider.address": (None, {"line1": " ", "city": "X", "state": "IL", "postal_code": "62701"}),
    "billing_provider.name": ("", "Clinic"),
    "rendering_provider.name": (" ",),
    "prior_authorization": (
        None,
        {"number": ""},
        {"number": "A1", "start_date": TODAY + dt.timedelta(days=9)},
        {"number": "A2", "end_date": dt.date(2000, 1, 1), "visits_authorized": 3, "visits_used": 5},
    ),
}


@st.composite
def any_charges(draw: st.DrawFn) -> Charge:
    charge = draw(valid_charges())
    fields = draw(st.lists(st.sampled_from(sorted(FIELD_VALUES)), max_size=5, unique=True))
    if "payers" in fields:  # an emptied list has no payers.0 to change
        fields = [f for f in fields if not f.startswith("payers.")]
    return changed(charge, {f: draw(st.sampled_from(FIELD_VALUES[f])) for f in fields})


@st.composite
def contexts(draw: st.DrawFn, charge: Charge) -> RuleContext:
    book = BOOK
    special: bool = draw(st.booleans())
    if charge.payers and special:
        book = book.with_payer(
            charge.payers[0].payer_id,
            rules=draw(
                st.dictionaries(
                    st.sampled_from(["EVALUATION_UNITS", "MEMBER_ID_MISSING", "MEDICARE_MBI_FORMAT"]),
                    st.booleans(),
                )
            ),
            timing_method=draw(st.sampled_from(["eight_minute", "per_code", "off"])),
            authorization_required_codes=draw(st.sampled_from([[], ["*"], ["97110"]])),
        )
    history = History()
    if draw(st.booleans()):
        history = History(
            bills={"B-1": BillState(rejected=draw(st.booleans()), sent_versions={charge.charge_id: 1})},
            charge_bills={charge.charge_id: "B-1"},
        )
    return dataclasses.replace(context(book=book, history=history), today=TODAY)


# -- references: each rule read plainly, one field at a time -------------------------------


def ref_required(c: Charge, x: RuleContext) -> Iterator[RuleResult]:
    for path, read, fix in identity.REQUIRED + identity.CLAIM_REQUIRED:
        value = read(c)
        if value is None or (isinstance(value, str) and not value.strip()):
            yield error("REQUIRED_FIELD", f"{path} is missing; {fix}", path)
    for index, payer in enumerate(c.payers):
        if payer.payer_type == "patient":
            continue
        if not (payer.electronic_id or "").strip():
            path = f"payers[{index}].electronic_id"
            yield error(
                "REQUIRED_FIELD", f"{path} is missing; add the payer's electronic (EDI) payer id", path
            )
        if payer.relationship != "self":
            for part, words in (("last_name", "last name"), ("first_name", "first name")):
                value = getattr(payer.subscriber, part) if payer.subscriber else ""
                if not value.strip():
                    path = f"payers[{index}].subscriber.{part}"
                    yield error("REQUIRED_FIELD", f"{path} is missing; add the policy holder's {words}", path)


def ref_npis(c: Charge, x: RuleContext) -> Iterator[RuleResult]:
    for path, who, npi in (
        ("rendering_provider.npi", "rendering provider", c.rendering_provider.npi),
        ("billing_provider.npi", "billing provider", c.billing_provider.npi),
    ):
        if not npi.strip() or valid_npi(npi):
            continue
        if len(npi) == 10 and npi.isdigit() and npi[0] in "12":
            problem = "fails the NPI check digit"
        else:
            problem = "is not 10 digits starting with 1 or 2"
        yield error("NPI_CHECK_DIGIT", f"{path} {npi} {problem}; check the {who}'s NPI", path)


def ref_modifiers(c: Charge, x: RuleContext) -> Iterator[RuleResult]:
    for index, modifier in enumerate(c.modifiers):
        if not codes.MODIFIER.fullmatch(modifier):
            yield error(
                "MODIFIER_FORMAT",
                f"modifiers[{index}] {modifier!r} is not a 2-character modifier (letters/digits); "
                "correct or remove it",
                f"modifiers[{index}]",
            )
    if len(c.modifiers) > codes.MAX_MODIFIERS:
        yield error(
            "MODIFIER_FORMAT",
            f"modifiers has {len(c.modifiers)} modifiers; a claim line takes at most "
            f"{codes.MAX_MODIFIERS}: keep the ones that affect payment",
            "modifiers",
        )


def ref_therapy_present(c: Charge, x: RuleContext) -> Iterator[RuleResult]:
    if not codes.is_therapy_code(c, x) or any(m in ("GP", "GO", "GN") for m in c.modifiers):
        return
    yield error(
        "THERAPY_MODIFIER_MISSING",
        f"procedure_code {c.procedure_code} is on the therapy code list but modifiers carry "
        "none of GP, GO, GN; add GP (physical therapy), GO (occupational therapy) or "
        "GN (speech-language pathology)",
        "modifiers",
    )


def ref_therapy_conflict(c: Charge, x: RuleContext) -> Iterator[RuleResult]:
    found = sorted({m for m in c.modifiers if m in ("GP", "GO", "GN")})
    if len(found) > 1:
        named = ", ".join(f"{m} ({codes.DISCIPLINE_NAMES[m]})" for m in found)
        yield error(
            "THERAPY_MODIFIER_CONFLICT",
            f"modifiers carry {named}; a line takes one therapy modifier: keep the discipline "
            "that provided the service",
            "modifiers",
        )


def ref_assistant(c: Charge, x: RuleContext) -> Iterator[RuleResult]:
    for assistant, partner in codes.ASSISTANT_PARTNER.items():
        if assistant in c.modifiers and partner not in c.modifiers:
            yield error(
                "ASSISTANT_MODIFIER_MISMATCH",
                f"modifier {assistant} ({codes.DISCIPLINE_NAMES[partner]} assistant) is only valid "
                f"with {partner}; add {partner} or remove {assistant}",
                "modifiers",
            )


def ref_icd10(c: Charge, x: RuleContext) -> Iterator[RuleResult]:
    for index, code in enumerate(c.diagnoses):
        if not diagnoses.ICD10_CM.fullmatch(code):
            yield error(
                "ICD10_FORMAT",
                f"diagnoses[{index}] is not an ICD-10-CM code (a letter, a digit, then up to 5 "
                "letters/digits, dot optional); correct the diagnosis",
                f"diagnoses[{index}]",
            )


def ref_duplicates(c: Charge, x: RuleContext) -> Iterator[RuleResult]:
    first_seen: dict[str, int] = {}
    for index, code in enumerate(c.diagnoses):
        key = code.replace(".", "")
        if key in first_seen:
            yield error(
                "DIAGNOSIS_DUPLICATE",
                f"diagnoses[{index}] repeats diagnoses[{first_seen[key]}]; remove the repeat and "
                "renumber the diagnosis pointers",
                f"diagnoses[{index}]",
            )
        else:
            first_seen[key] = index


def ref_pointers(c: Charge, x: RuleContext) -> Iterator[RuleResult]:
    count, pointers = len(c.diagnoses), c.diagnosis_pointers
    if count == 0:
        return
    if not pointers or len(pointers) > diagnoses.MAX_POINTERS:
        yield error(
            "DIAGNOSIS_POINTER_INVALID",
            f"diagnosis_pointers has {len(pointers)} pointers; a line points at 1 to "
            f"{diagnoses.MAX_POINTERS} diagnoses: point at the diagnoses this service treats",
            "diagnosis_pointers",
        )
    for index, pointer in enumerate(pointers):
        if not 1 <= pointer <= count:
            yield error(
                "DIAGNOSIS_POINTER_INVALID",
                f"diagnosis_pointers[{index}] is {pointer} but the charge has {count} "
                f"diagnos{'is' if count == 1 else 'es'} (pointers count from 1); fix the pointer",
                f"diagnosis_pointers[{index}]",
            )


def ref_minutes(c: Charge, x: RuleContext) -> Iterator[RuleResult]:
    method = x.rules(c).timing_method
    code, minutes, units_ = c.procedure_code, c.minutes, c.units
    if method == "off" or minutes is None or units_ is None or units_ < 1 or not code:
        return
    therapy = x.book.tables.therapy_codes.get(code)
    if therapy is None or not therapy.timed:
        return
    expected = units.units_for_minutes(minutes)
    if units_ == expected:
        return
    if expected == 0:
        reason = f"{minutes} minutes is less than the {units.MINIMUM_MINUTES} needed for one unit"
    else:
        reason = f"{minutes} minutes bill {expected} unit{'s' if expected > 1 else ''}"
    yield warning(
        "UNITS_MINUTES_MISMATCH",
        f"units {units_} for timed code {code} do not agree with the minutes under "
        f"{units._METHOD_NAMES[method]}: {reason}; check the minutes or the units",
        "units",
    )


Reference = Callable[[Charge, RuleContext], Iterator[RuleResult]]
REFERENCES: dict[str, Reference] = {
    "REQUIRED_FIELD": ref_required,
    "NPI_CHECK_DIGIT": ref_npis,
    "MODIFIER_FORMAT": ref_modifiers,
    "THERAPY_MODIFIER_MISSING": ref_therapy_present,
    "THERAPY_MODIFIER_CONFLICT": ref_therapy_conflict,
    "ASSISTANT_MODIFIER_MISMATCH": ref_assistant,
    "ICD10_FORMAT": ref_icd10,
    "DIAGNOSIS_DUPLICATE": ref_duplicates,
    "DIAGNOSIS_POINTER_INVALID": ref_pointers,
    "UNITS_MINUTES_MISMATCH": ref_minutes,
}
CHECKS = {rule.code: rule.check for rule in REGISTRY}


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_each_fast_check_answers_as_its_plain_reading(data: st.DataObject) -> None:
    charge = data.draw(any_charges())
    ctx = data.draw(contexts(charge))
    for code, reference in REFERENCES.items():
        assert list(CHECKS[code](charge, ctx)) == list(reference(charge, ctx)), code


@settings(max_examples=400, deadline=None)
@given(any_charges())
def test_the_required_field_shortcut_agrees_with_reading_every_field(charge: Charge) -> None:
    missing = identity.missing_fields(charge)
    assert identity.has_required_fields(charge) == (missing == [])
    assert list(identity.check_required_fields(charge, context())) == missing


def test_the_required_field_shortcut_reads_exactly_the_required_fields() -> None:
    paths = identity.REQUIRED_TEXT_PATHS + identity.REQUIRED_VALUE_PATHS
    assert sorted(paths) == sorted(path for path, _, _ in identity.REQUIRED)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_evaluate_is_every_applying_check_in_registry_order(data: st.DataObject) -> None:
    charge = data.draw(any_charges())
    ctx = data.draw(contexts(charge))
    settings_ = ctx.book.rules_for_charge(charge)
    expected = [r for rule in REGISTRY if settings_.applies(rule.code) for r in rule.check(charge, ctx)]
    assert evaluate(charge, ctx) == expected


def test_rules_for_charge_is_rules_for_the_primary_payer() -> None:
    book = BOOK.with_payer("PAYER-9", timely_filing_days=30)
    for payers in (
        [],
        [{"payer_id": "PAYER-9", "name": "", "payer_type": "commercial"}],
        [{"payer_id": "OTHER", "name": "", "payer_type": "medicare", "member_id": "1EG4TE5MK73"}],
    ):
        charge = changed(base_charge(), {"payers": payers})
        assert book.rules_for_charge(charge) == book.rules_for_payer(charge.primary_payer)
