"""Property tests: valid charges pass; a valid charge broken in several ways fails every way.

A breaker changes a valid charge (and, where the rule needs it, the rule book or the
history) so that exactly its rule must fail. Breakers that touch the same part of a charge
could undo each other, so a drawn set keeps only breakers whose parts are disjoint; the
rest may combine freely. Breakers that read the final charge (duplicate key, KX total,
authorization code) run last.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.charge import Charge
from tests.unit.formatter.checking import results_for
from tests.unit.formatter.strategies import (
    TODAY,
    broken_npi,
    changed,
    context,
    valid_charges,
)
from workers.formatter.rules import RULES, BillState, RuleContext, claim_key, errors, therapy_key

Apply = Callable[[Charge, RuleContext], tuple[Charge, RuleContext]]
DISCIPLINES = ("GP", "GO", "GN", "CQ", "CO")


@dataclass(frozen=True)
class Breaker:
    code: str
    touches: frozenset[str]
    apply: Apply
    late: bool = False


def _set(**changes: Any) -> Apply:
    return lambda c, x: (changed(c, {k.replace("__", "."): v for k, v in changes.items()}), x)


def _with(c: Charge, **changes: Any) -> Charge:
    return changed(c, changes)


def _book(x: RuleContext, c: Charge, **settings_: Any) -> RuleContext:
    payer = c.payers[0].payer_id
    return dataclasses.replace(x, book=x.book.with_payer(payer, **settings_))


def _history(x: RuleContext, **mappings: Any) -> RuleContext:
    merged = {k: {**getattr(x.history, k), **v} for k, v in mappings.items()}
    return dataclasses.replace(x, history=dataclasses.replace(x.history, **merged))


def _add_payer(payer_type: str, member_id: str | None) -> Apply:
    def apply(c: Charge, x: RuleContext) -> tuple[Charge, RuleContext]:
        extra = {
            "payer_id": f"X-{payer_type}",
            "name": "Extra",
            "payer_type": payer_type,
            "member_id": member_id,
        }
        return _with(c, payers=[p.model_dump() for p in c.payers] + [extra]), x

    return apply


def _no_therapy_modifier(c: Charge, x: RuleContext) -> tuple[Charge, RuleContext]:
    c = _with(c, modifiers=[m for m in c.modifiers if m not in DISCIPLINES])
    return c, _book(x, c, rules={"THERAPY_MODIFIER_MISSING": True})


def _conflict(c: Charge, x: RuleContext) -> tuple[Charge, RuleContext]:
    return _with(c, modifiers=[*c.modifiers, "GP" if "GO" in c.modifiers else "GO"]), x


def _assistant(c: Charge, x: RuleContext) -> tuple[Charge, RuleContext]:
    wrong = "CQ" if "GO" in c.modifiers or "GN" in c.modifiers else "CO"
    return _with(c, modifiers=[m for m in c.modifiers if m not in ("CQ", "CO")] + [wrong]), x


def _kx(c: Charge, x: RuleContext) -> tuple[Charge, RuleContext]:
    c = _with(c, modifiers=[m for m in c.modifiers if m != "KX"])
    key = therapy_key(c)
    assert key is not None
    x = _book(x, c, rules={"KX_MODIFIER_REQUIRED": True})
    return c, _history(x, therapy_ytd={key: Decimal("50000.00")})


def _needs_auth(c: Charge, x: RuleContext) -> tuple[Charge, RuleContext]:
    x = _book(x, c, rules={"AUTHORIZATION_REQUIRED": True}, authorization_required_codes=[c.procedure_code])
    return _with(c, prior_authorization=None), x


def _auth_used_up(c: Charge, x: RuleContext) -> tuple[Charge, RuleContext]:
    auth = {"number": "A1", "start_date": None, "end_date": None, "visits_authorized": 5, "visits_used": 9}
    return _with(c, prior_authorization=auth), _book(x, c, rules={"AUTHORIZATION_RANGE": True})


def _late_filing(c: Charge, x: RuleContext) -> tuple[Charge, RuleContext]:
    c = _with(c, service_date=x.today - dt.timedelta(days=400))
    return c, _book(x, c, rules={"TIMELY_FILING_EXCEEDED": True})


def _duplicate(c: Charge, x: RuleContext) -> tuple[Charge, RuleContext]:
    key = claim_key(c)
    assert key is not None
    return c, _history(x, claimed_keys={key: "CH-OTHER"})


def _rejected_bill(c: Charge, x: RuleContext) -> tuple[Charge, RuleContext]:
    return _with(c, bill_id="B-REJ"), _history(x, bills={"B-REJ": BillState(rejected=True)})


def _already_billed(c: Charge, x: RuleContext) -> tuple[Charge, RuleContext]:
    bill = BillState(rejected=False, sent_versions={c.charge_id: c.version})
    return _with(c, bill_id="B-OUT"), _history(x, bills={"B-OUT": bill})


THIRTEEN = [f"B0{n // 10}.{n % 10}" for n in range(13)]


def _b(code: str, touches: str, apply: Apply, late: bool = False) -> Breaker:
    return Breaker(code, frozenset(touches.split()), apply, late)


BREAKERS: tuple[Breaker, ...] = (
    _b("REQUIRED_FIELD", "location", _set(location_id=None)),
    _b(
        "NPI_CHECK_DIGIT",
        "npi",
        lambda c, x: (_with(c, **{"rendering_provider.npi": broken_npi(c.rendering_provider.npi)}), x),
    ),
    _b("TAX_ID_FORMAT", "tax_id", _set(billing_provider__tax_id="12-34567")),
    _b("BIRTH_DATE_INVALID", "birth", _set(patient__birth_date=dt.date(1800, 1, 1))),
    _b("MEMBER_ID_MISSING", "member", _add_payer("commercial", None)),
    _b("MEDICARE_MBI_FORMAT", "mbi", _add_payer("medicare", "NOT-AN-MBI")),
    _b("PROCEDURE_CODE_FORMAT", "procedure therapy_code", _set(procedure_code="9711")),
    _b("MODIFIER_FORMAT", "modifiers", lambda c, x: (_with(c, modifiers=[*c.modifiers, "X"]), x)),
    _b("THERAPY_MODIFIER_MISSING", "modifiers therapy_code", _no_therapy_modifier),
    _b("THERAPY_MODIFIER_CONFLICT", "modifiers", _conflict),
    _b("ASSISTANT_MODIFIER_MISMATCH", "modifiers", _assistant),
    _b("EVALUATION_UNITS", "procedure units", _set(procedure_code="97162", units=3, minutes=None)),
    _b("UNITS_INVALID", "units", _set(units=0)),
    _b("UNITS_MINUTES_MISMATCH", "procedure units", _set(procedure_code="97110", units=2, minutes=50)),
    _b("KX_MODIFIER_REQUIRED", "modifiers therapy_code", _kx, late=True),
    _b("AMOUNT_NOT_POSITIVE", "amount", _set(amount=Decimal("0.00"))),
    _b("ICD10_FORMAT", "diagnoses", lambda c, x: (_with(c, diagnoses=["1234", *c.diagnoses[1:]]), x)),
    _b("DIAGNOSIS_COUNT", "diagnoses", _set(diagnoses=THIRTEEN, diagnosis_pointers=[1])),
    _b(
        "DIAGNOSIS_DUPLICATE",
        "diagnoses",
        lambda c, x: (_with(c, diagnoses=[*c.diagnoses, c.diagnoses[0]]), x),
    ),
    _b(
        "DIAGNOSIS_POINTER_INVALID",
        "diagnoses",
        lambda c, x: (_with(c, diagnosis_pointers=[len(c.diagnoses) + 1]), x),
    ),
    _b(
        "SERVICE_DATE_IN_FUTURE",
        "service_date",
        lambda c, x: (_with(c, service_date=x.today + dt.timedelta(days=3)), x),
    ),
    _b("TIMELY_FILING_EXCEEDED", "service_date", _late_filing),
    _b("PLACE_OF_SERVICE_INVALID", "pos", _set(place_of_service="XX")),
    _b("AUTHORIZATION_REQUIRED", "authorization", _needs_auth, late=True),
    _b("AUTHORIZATION_RANGE", "authorization", _auth_used_up),
    _b("DUPLICATE_CHARGE", "duplicate", _duplicate, late=True),
    _b("BILL_REJECTED", "bill", _rejected_bill),
    _b("ALREADY_BILLED", "bill", _already_billed),
)


def test_there_is_a_breaker_for_every_rule() -> None:
    assert {b.code for b in BREAKERS} == set(RULES)


@st.composite
def breaker_sets(draw: st.DrawFn) -> list[Breaker]:
    drawn = draw(
        st.lists(st.sampled_from(BREAKERS), min_size=1, max_size=len(BREAKERS), unique_by=lambda b: b.code)
    )
    kept: list[Breaker] = []
    touched: set[str] = set()
    for breaker in drawn:
        if touched.isdisjoint(breaker.touches):
            kept.append(breaker)
            touched |= breaker.touches
    return sorted(kept, key=lambda b: b.late)


@settings(max_examples=300, deadline=None)
@given(valid_charges())
def test_valid_charges_pass_every_rule(charge: Charge) -> None:
    assert results_for(charge, context()) == []


@settings(max_examples=300, deadline=None)
@given(valid_charges(), breaker_sets())
def test_every_broken_rule_is_reported(charge: Charge, breakers: list[Breaker]) -> None:
    ctx = context()
    # DUPLICATE_CHARGE keys on the final modifiers, which other late breakers (KX) change:
    # record the claimed key last.
    for breaker in sorted(breakers, key=lambda b: b.code == "DUPLICATE_CHARGE"):
        charge, ctx = breaker.apply(charge, ctx)
    results = results_for(charge, ctx)
    found = {r.code for r in results}
    broken = {b.code for b in breakers}
    assert broken <= found, f"missing {broken - found}"
    # Only warnings broken: the charge still becomes a claim.
    broken_errors = {b.code for b in breakers if RULES[b.code].severity == "error"}
    assert bool(errors(results)) == bool(broken_errors)


@settings(max_examples=100, deadline=None)
@given(valid_charges(today=TODAY + dt.timedelta(days=400)))
def test_valid_charges_pass_on_any_day(charge: Charge) -> None:
    assert results_for(charge, context(today=TODAY + dt.timedelta(days=400))) == []
