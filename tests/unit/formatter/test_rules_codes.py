"""Codes: procedure code and modifier formats, therapy modifiers, units, minutes, KX, amount."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from contracts.charge import Charge
from tests.unit.formatter.checking import assert_rule, results_for
from tests.unit.formatter.strategies import BOOK, base_charge, changed, context
from workers.formatter.rules import History, RuleContext, therapy_key, units_for_minutes


def line(payer_type: str = "medicare", **changes: Any) -> Charge:
    return changed(base_charge(payer_type), changes)


# -- PROCEDURE_CODE_FORMAT ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "fails"),
    [
        ("97110", False),
        ("0001F", False),
        ("0202T", False),
        ("G0283", False),
        ("99213", False),
        ("9711", True),
        ("971100", True),
        ("ABCDE", True),
        ("97-10", True),
        ("0001X", True),
        ("GG283", True),
    ],
)
def test_procedure_code_format(code: str, fails: bool) -> None:
    assert_rule("PROCEDURE_CODE_FORMAT", line("commercial", procedure_code=code, minutes=None), None, fails)


# -- MODIFIER_FORMAT ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("modifiers", "fails"),
    [
        (["GP"], False),
        (["GP", "59", "KX", "XE"], False),
        (["GP", "G"], True),
        (["GP", "GP!"], True),
        (["GP", ""], True),
        (["GP", "59", "76", "KX", "XE"], True),
        (["GP", "5 "], True),
    ],  # the contract strips it to "5": one character
)
def test_modifier_format(modifiers: list[str], fails: bool) -> None:
    assert_rule("MODIFIER_FORMAT", line(modifiers=modifiers), None, fails)


# -- THERAPY_MODIFIER_MISSING -------------------------------------------------------------

AUTO_ON = BOOK.with_payer("PAYER-1", rules={"THERAPY_MODIFIER_MISSING": True})


@pytest.mark.parametrize(
    ("charge", "ctx", "fails"),
    [
        pytest.param(line(modifiers=["GP"]), None, False, id="medicare-GP"),
        pytest.param(line(modifiers=["GN"]), None, False, id="medicare-GN"),
        pytest.param(line(modifiers=[]), None, True, id="medicare-none"),
        pytest.param(line(modifiers=["59"]), None, True, id="medicare-59-only"),
        pytest.param(
            line(procedure_code="99213", modifiers=[], minutes=None), None, False, id="medicare-not-therapy"
        ),
        pytest.param(line("commercial", modifiers=[]), None, False, id="commercial-off-by-default"),
        pytest.param(
            line("commercial", modifiers=[]), context(book=AUTO_ON), True, id="commercial-payer-adopts-it"
        ),
    ],
)
def test_therapy_modifier_missing(charge: Charge, ctx: RuleContext | None, fails: bool) -> None:
    assert_rule("THERAPY_MODIFIER_MISSING", charge, ctx, fails)


# -- THERAPY_MODIFIER_CONFLICT / ASSISTANT_MODIFIER_MISMATCH ------------------------------


@pytest.mark.parametrize(
    ("modifiers", "fails"),
    [
        (["GP"], False),
        (["GO", "59"], False),
        (["GP", "GO"], True),
        (["GN", "GP"], True),
        (["GP", "GO", "GN"], True),
    ],
)
def test_therapy_modifier_conflict(modifiers: list[str], fails: bool) -> None:
    assert_rule("THERAPY_MODIFIER_CONFLICT", line(modifiers=modifiers), None, fails)


@pytest.mark.parametrize(
    ("modifiers", "fails"),
    [
        (["GP", "CQ"], False),
        (["GO", "CO"], False),
        (["GP"], False),
        (["GO", "CQ"], True),
        (["GP", "CO"], True),
        (["GN", "CQ"], True),
        (["CQ"], True),
    ],
)
def test_assistant_modifier_mismatch(modifiers: list[str], fails: bool) -> None:
    assert_rule("ASSISTANT_MODIFIER_MISMATCH", line(modifiers=modifiers), None, fails)


# -- EVALUATION_UNITS / UNITS_INVALID -----------------------------------------------------


@pytest.mark.parametrize(
    ("code", "units", "fails"),
    [("97161", 1, False), ("97168", 1, False), ("97163", 2, True), ("97165", 4, True), ("97110", 4, False)],
)
def test_evaluation_units(code: str, units: int, fails: bool) -> None:
    charge = line(procedure_code=code, units=units, minutes=None)
    assert_rule("EVALUATION_UNITS", charge, None, fails)
    # One fault, one reason: the MUE limit of 1 is not reported again.
    assert_rule("UNITS_INVALID", charge, None, False)


def test_evaluation_units_falls_back_to_the_mue_when_switched_off() -> None:
    book = BOOK.with_payer_type("medicare", rules={"EVALUATION_UNITS": False})
    charge = line(procedure_code="97163", units=2, minutes=None)
    assert_rule("EVALUATION_UNITS", charge, context(book=book), False)
    assert_rule("UNITS_INVALID", charge, context(book=book), True)


@pytest.mark.parametrize(
    ("code", "units", "fails"),
    [
        ("97110", 1, False),
        ("97110", 6, False),
        ("97110", 7, True),
        ("97112", 5, True),
        ("97110", 0, True),
        ("97110", -2, True),
        ("97161", 0, True),
        ("99213", 20, False),
    ],
)
def test_units_invalid(code: str, units: int, fails: bool) -> None:
    found = assert_rule("UNITS_INVALID", line(procedure_code=code, units=units, minutes=None), None, fails)
    for result in found:
        assert result.field == "units"


# -- UNITS_MINUTES_MISMATCH (W) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("minutes", "units"),
    [(7, 0), (8, 1), (15, 1), (22, 1), (23, 2), (37, 2), (38, 3), (52, 3), (53, 4), (0, 0)],
)
def test_eight_minute_rule(minutes: int, units: int) -> None:
    assert units_for_minutes(minutes) == units


@pytest.mark.parametrize(
    ("payer_type", "code", "units", "minutes", "fails"),
    [
        ("medicare", "97110", 1, 8, False),
        ("medicare", "97110", 1, 22, False),
        ("medicare", "97110", 2, 23, False),
        ("medicare", "97110", 3, 38, False),
        ("medicare", "97110", 1, 7, True),
        ("medicare", "97110", 1, 23, True),
        ("medicare", "97110", 2, 22, True),
        ("commercial", "97140", 4, 30, True),
        ("commercial", "97140", 2, 30, False),
        ("medicare", "97150", 1, 45, False),  # group therapy is not timed
        ("medicare", "97110", 2, None, False),  # no minutes given: nothing to compare
    ],
)
def test_units_minutes_mismatch(
    payer_type: str, code: str, units: int, minutes: int | None, fails: bool
) -> None:
    charge = line(payer_type, procedure_code=code, units=units, minutes=minutes)
    found = assert_rule("UNITS_MINUTES_MISMATCH", charge, None, fails)
    assert all(r.severity == "warning" for r in found)
    if fails:
        assert [r.code for r in results_for(charge) if r.severity == "error"] == []


def test_timing_method_off_per_payer() -> None:
    book = BOOK.with_payer("PAYER-1", timing_method="off")
    assert_rule("UNITS_MINUTES_MISMATCH", line(units=1, minutes=40), context(book=book), False)


# -- KX_MODIFIER_REQUIRED -----------------------------------------------------------------


def kx_case(
    ytd: str,
    amount: str = "120.00",
    modifiers: tuple[str, ...] = ("GP",),
    payer_type: str = "medicare",
    service: dt.date | None = None,
    ytd_discipline: str | None = None,
) -> tuple[Charge, RuleContext]:
    charge = line(payer_type, modifiers=list(modifiers), amount=Decimal(amount))
    if service is not None:
        charge = changed(charge, {"service_date": service})
    key = therapy_key(changed(charge, {"modifiers": ["GP"]}))
    assert key is not None
    if ytd_discipline:
        key = (*key[:3], ytd_discipline)  # type: ignore[assignment]
    return charge, context(history=History(therapy_ytd={key: Decimal(ytd)}))


@pytest.mark.parametrize(
    ("case", "fails"),
    [
        pytest.param(kx_case("0.00"), False, id="first-visit"),
        pytest.param(kx_case("2360.00"), False, id="reaches-2480-exactly"),
        pytest.param(kx_case("2360.01"), True, id="crosses-2480"),
        pytest.param(kx_case("3000.00"), True, id="past-threshold"),
        pytest.param(kx_case("3000.00", modifiers=("GP", "KX")), False, id="carries-KX"),
        pytest.param(kx_case("3000.00", modifiers=("GN",)), True, id="speech-counts-with-PT"),
        pytest.param(kx_case("3000.00", modifiers=("GO",)), False, id="OT-has-its-own-total"),
        pytest.param(kx_case("3000.00", modifiers=("GO",), ytd_discipline="OT"), True, id="OT-past"),
        pytest.param(kx_case("3000.00", payer_type="commercial"), False, id="not-medicare"),
        pytest.param(kx_case("2300.00", service=dt.date(2025, 12, 20)), True, id="2025-threshold-2410"),
        pytest.param(kx_case("2200.00", service=dt.date(2025, 12, 20)), False, id="2025-under"),
    ],
)
def test_kx_modifier_required(case: tuple[Charge, RuleContext], fails: bool) -> None:
    charge, ctx = case
    found = assert_rule("KX_MODIFIER_REQUIRED", charge, ctx, fails)
    for result in found:
        assert "KX" in result.message and result.field == "modifiers"


# -- AMOUNT_NOT_POSITIVE ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "fails"),
    [("0.01", False), ("99999.99", False), ("0.00", True), ("-5.00", True), ("100000.00", True)],
)
def test_amount_not_positive(amount: str, fails: bool) -> None:
    assert_rule("AMOUNT_NOT_POSITIVE", line(amount=Decimal(amount)), None, fails)
