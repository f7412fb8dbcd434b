"""Units: evaluation codes, MUE limits, and units against treatment minutes."""

from __future__ import annotations

from contracts.charge import Charge
from workers.formatter.rules.context import RuleContext
from workers.formatter.rules.results import PASS, Results, error, warning

#: PT and OT evaluations and re-evaluations: one per encounter, whatever the time spent.
EVALUATION_CODES = frozenset(f"9716{n}" for n in range(1, 9))


def check_evaluation_units(charge: Charge, ctx: RuleContext) -> Results:
    # Fewer than 1 unit is UNITS_INVALID's to report, for every code alike.
    if charge.procedure_code in EVALUATION_CODES and charge.units is not None and charge.units > 1:
        return [
            error(
                "EVALUATION_UNITS",
                f"units {charge.units} on evaluation code {charge.procedure_code}; an evaluation or "
                "re-evaluation bills exactly 1 unit: set units to 1",
                "units",
            )
        ]
    return PASS


def check_units(charge: Charge, ctx: RuleContext) -> Results:
    units, code = charge.units, charge.procedure_code
    if units is None:
        return PASS
    if units < 1:
        return [error("UNITS_INVALID", f"units {units} is less than 1; bill at least 1 unit", "units")]
    if not code:
        return PASS
    if code in EVALUATION_CODES and ctx.rules(charge).applies("EVALUATION_UNITS"):
        return PASS  # EVALUATION_UNITS gives the sharper reason for the same fault
    mue = ctx.book.tables.mue.get(code)
    if mue is None or units <= mue.limit:
        return PASS
    return [
        error(
            "UNITS_INVALID",
            f"units {units} exceed the medically unlikely edit for {code} ({mue.limit} per "
            f"{'line' if mue.adjudication_indicator == 1 else 'day'}); check the units or split "
            "the service with the right modifier",
            "units",
        )
    ]


MINIMUM_MINUTES = 8
UNIT_MINUTES = 15


def units_for_minutes(minutes: int) -> int:
    """The 8-minute rule: 8-22 minutes = 1 unit, 23-37 = 2, 38-52 = 3, ..."""
    if minutes < MINIMUM_MINUTES:
        return 0
    return (minutes + MINIMUM_MINUTES - 1) // UNIT_MINUTES


_METHOD_NAMES = {
    "eight_minute": "Medicare's 8-minute rule",
    "per_code": "the per-code timing method (a unit per 15 minutes, the last from 8 minutes)",
}


def check_units_against_minutes(charge: Charge, ctx: RuleContext) -> Results:
    code, minutes, units = charge.procedure_code, charge.minutes, charge.units
    if minutes is None or units is None or units < 1 or not code:
        return PASS
    therapy = ctx.book.tables.therapy_codes.get(code)
    if therapy is None or not therapy.timed:
        return PASS
    # A charge is one line, so its own minutes are the total the rule counts; both methods
    # then give the same number and differ only in how the reason is worded.
    expected = units_for_minutes(minutes)
    if units == expected:
        return PASS
    method = ctx.rules(charge).timing_method
    if method == "off":
        return PASS
    if expected == 0:
        reason = f"{minutes} minutes is less than the {MINIMUM_MINUTES} needed for one unit"
    else:
        reason = f"{minutes} minutes bill {expected} unit{'s' if expected > 1 else ''}"
    return [
        warning(
            "UNITS_MINUTES_MISMATCH",
            f"units {units} for timed code {code} do not agree with the minutes under "
            f"{_METHOD_NAMES[method]}: {reason}; check the minutes or the units",
            "units",
        )
    ]
