"""Charges for tests: a known-good example, hypothesis strategies for valid charges, and
generators for the identifiers they need (NPIs with a Luhn check digit, MBIs, ICD-10-CM).

Other test suites may import from here: `valid_charges()` draws charges that pass every
rule of the default rule book on `TODAY` with an empty history; `base_charge()` is one
fixed such charge; `changed(charge, {"patient.birth_date": ...})` returns a validated copy
with dotted paths replaced.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from contracts.charge import Charge
from workers.formatter.rules import History, RuleBook, RuleContext, npi_check_digit
from workers.formatter.rules.units import EVALUATION_CODES

TODAY = dt.date(2026, 3, 16)
BOOK = RuleBook.default()

#: Letters an MBI may use: A-Z without S, L, O, I, B, Z.
MBI_LETTERS = "ACDEFGHJKMNPQRTUVWXY"
DIGITS = "0123456789"
COMMON_POS = ("02", "10", "11", "12", "19", "22", "31", "32", "49")
THERAPY_CODES = tuple(sorted(BOOK.tables.therapy_codes))


# -- identifiers --------------------------------------------------------------------------


def npi_from(first_nine: str) -> str:
    return first_nine + str(npi_check_digit(first_nine))


def npis() -> st.SearchStrategy[str]:
    """Valid NPIs: 10 digits, starting 1 or 2, with the Luhn check digit over 80840 + 9."""
    return st.tuples(st.sampled_from("12"), st.text(DIGITS, min_size=8, max_size=8)).map(
        lambda parts: npi_from(parts[0] + parts[1])
    )


def broken_npi(npi: str) -> str:
    """The same NPI with a wrong check digit."""
    return npi[:9] + str((int(npi[9]) + 1) % 10)


def mbis() -> st.SearchStrategy[str]:
    """Medicare Beneficiary Identifiers, position by position as CMS defines them."""
    alpha, alnum = MBI_LETTERS, MBI_LETTERS + DIGITS
    positions = [DIGITS[1:], alpha, alnum, DIGITS, alpha, alnum, DIGITS, alpha, alpha, DIGITS, DIGITS]
    return st.tuples(*(st.sampled_from(p) for p in positions)).map("".join)


def icd10_codes() -> st.SearchStrategy[str]:
    """ICD-10-CM shaped codes: a letter, a digit, a letter/digit, then an optional .xxxx."""
    alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ" + DIGITS
    head = st.tuples(
        st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), st.sampled_from(DIGITS), st.sampled_from(alnum)
    ).map("".join)
    tail = st.one_of(
        st.just(""),
        st.tuples(st.sampled_from(["", "."]), st.text(alnum, min_size=1, max_size=4)).map("".join),
    )
    return st.tuples(head, tail).map("".join)


def tax_ids() -> st.SearchStrategy[str]:
    return st.tuples(st.text(DIGITS, min_size=9, max_size=9), st.booleans()).map(
        lambda p: f"{p[0][:2]}-{p[0][2:]}" if p[1] else p[0]
    )


def amounts(low: str = "1.00", high: str = "2000.00") -> st.SearchStrategy[Decimal]:
    """Exact two-place amounts; the default ceiling stays under every KX threshold."""
    cents = st.integers(int(Decimal(low) * 100), int(Decimal(high) * 100))
    return cents.map(lambda c: Decimal(c).scaleb(-2))


# -- charges ------------------------------------------------------------------------------


def changed(charge: Charge, changes: Mapping[str, Any]) -> Charge:
    """A validated copy of `charge` with each dotted path (e.g. "patient.sex") replaced."""
    data = charge.model_dump()
    for path, value in changes.items():
        *parents, last = path.split(".")
        target: Any = data
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value
    return Charge.model_validate(data)


def base_charge(payer_type: str = "medicare", **changes: Any) -> Charge:
    """One charge that passes every rule of the default book on TODAY (empty history)."""
    member_id = "1EG4TE5MK73" if payer_type == "medicare" else "XYZ123456789"
    charge = Charge.model_validate(
        {
            "charge_id": "CH-1",
            "version": 1,
            "company_id": "CO-1",
            "practice_id": "PR-1",
            "location_id": "LOC-1",
            "patient": {
                "id": "PAT-1",
                "first_name": "Test",
                "last_name": "Patient",
                "birth_date": dt.date(1950, 6, 1),
                "sex": "F",
                "address": {
                    "line1": "1 Test St",
                    "city": "Springfield",
                    "state": "IL",
                    "postal_code": "62701",
                },
            },
            "payers": [
                {
                    "payer_id": "PAYER-1",
                    "name": "Primary Payer",
                    "payer_type": payer_type,
                    "member_id": member_id,
                    "electronic_id": "PAYER1",
                }
            ],
            "rendering_provider": {"npi": "1234567893", "name": "Rendering PT"},
            "billing_provider": {
                "npi": npi_from("198765432"),
                "name": "Billing Clinic",
                "tax_id": "12-3456789",
                "address": {
                    "line1": "10 Clinic Way",
                    "city": "Springfield",
                    "state": "IL",
                    "postal_code": "627011234",
                },
            },
            "service_date": TODAY - dt.timedelta(days=10),
            "procedure_code": "97110",
            "modifiers": ["GP"],
            "units": 2,
            "minutes": 30,
            "amount": Decimal("120.00"),
            "diagnoses": ["M54.50", "M25.561"],
            "diagnosis_pointers": [1, 2],
            "place_of_service": "11",
        }
    )
    return changed(charge, {k.replace("__", "."): v for k, v in changes.items()}) if changes else charge


def context(today: dt.date = TODAY, book: RuleBook = BOOK, history: History | None = None) -> RuleContext:
    return RuleContext(today=today, book=book, history=history or History())


@st.composite
def payer_lists(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A primary payer and maybe a secondary, each valid for its type."""
    out: list[dict[str, Any]] = []
    kinds = ["medicare", "medicaid", "commercial", "workers_comp", "auto", "patient"]
    for index in range(draw(st.integers(1, 2))):
        kind = draw(st.sampled_from(kinds))
        if kind == "medicare":
            member_id: str | None = draw(mbis())
        elif kind == "patient":
            member_id = None
        else:
            member_id = draw(st.text("ABCDEFGHJKLMNPQRSTUVWXYZ" + DIGITS, min_size=5, max_size=15))
        out.append(
            {
                "payer_id": f"PAYER-{index + 1}",
                "name": f"Payer {index + 1}",
                "payer_type": kind,
                "member_id": member_id,
                "electronic_id": None if kind == "patient" else f"EDI{index + 1}",
            }
        )
    return out


@st.composite
def therapy_lines(draw: st.DrawFn) -> dict[str, Any]:
    """Procedure code, modifiers, units and minutes that agree with each other and the MUE."""
    code = draw(st.sampled_from(THERAPY_CODES))
    therapy = BOOK.tables.therapy_codes[code]
    discipline = draw(st.sampled_from(["GP", "GO", "GN"]))
    modifiers = [discipline]
    assistant = {"GP": "CQ", "GO": "CO"}.get(discipline)
    if assistant and draw(st.booleans()):
        modifiers.append(assistant)
    modifiers += draw(st.lists(st.sampled_from(["59", "KX", "76"]), max_size=1))
    if code in EVALUATION_CODES:
        units = 1
    else:
        mue = BOOK.tables.mue.get(code)
        units = draw(st.integers(1, min(4, mue.limit if mue else 4)))
    minutes = None
    if therapy.timed and draw(st.booleans()):
        # Under the 8-minute rule u units cover 15u - 7 to 15u + 7 minutes.
        minutes = draw(st.integers(15 * units - 7, 15 * units + 7))
    return {
        "procedure_code": code,
        "modifiers": draw(st.permutations(modifiers)),
        "units": units,
        "minutes": minutes,
    }


@st.composite
def valid_charges(draw: st.DrawFn, today: dt.date = TODAY) -> Charge:
    """Charges that pass every rule of the default book on `today` with an empty history."""
    service = draw(st.dates(today - dt.timedelta(days=89), today))
    diagnoses = draw(st.lists(icd10_codes(), min_size=1, max_size=12, unique_by=lambda c: c.replace(".", "")))
    pointers = draw(
        st.lists(st.integers(1, len(diagnoses)), min_size=1, max_size=min(4, len(diagnoses)), unique=True)
    )
    authorization = None
    if draw(st.booleans()):
        start = draw(st.dates(service - dt.timedelta(days=120), service))
        visits = draw(st.integers(1, 60))
        authorization = {
            "number": draw(st.text("ABCDEFGHJKLMNPQRSTUVWXYZ" + DIGITS, min_size=4, max_size=12)),
            "start_date": start,
            "end_date": draw(st.dates(service, service + dt.timedelta(days=120))),
            "visits_authorized": visits,
            "visits_used": draw(st.integers(0, visits)),
        }
    charge_no = draw(st.integers(1, 10_000))
    data = {
        "charge_id": f"CH-{charge_no}",
        "version": draw(st.integers(1, 5)),
        "company_id": "CO-1",
        "practice_id": "PR-1",
        "location_id": draw(st.sampled_from(["LOC-1", "LOC-2"])),
        "patient": {
            "id": f"PAT-{draw(st.integers(1, 500))}",
            "first_name": draw(st.sampled_from(["Ann", "Bo", "Cy"])),
            "last_name": draw(st.sampled_from(["Lee", "Moss", "Ng"])),
            "birth_date": draw(st.dates(dt.date(1930, 1, 1), dt.date(2020, 12, 31))),
            "sex": draw(st.sampled_from(["F", "M", "U"])),
            "address": {"line1": "1 Test St", "city": "Springfield", "state": "IL", "postal_code": "62701"},
        },
        "payers": draw(payer_lists()),
        "rendering_provider": {"npi": draw(npis()), "name": "Rendering"},
        "billing_provider": {
            "npi": draw(npis()),
            "name": "Billing",
            "tax_id": draw(tax_ids()),
            "address": {
                "line1": "10 Clinic Way",
                "city": "Springfield",
                "state": "IL",
                "postal_code": "627011234",
            },
        },
        "service_date": service,
        "amount": draw(amounts()),
        "diagnoses": diagnoses,
        "diagnosis_pointers": pointers,
        "place_of_service": draw(st.sampled_from(COMMON_POS)),
        "prior_authorization": authorization,
        **draw(therapy_lines()),
    }
    return Charge.model_validate(data)
