"""Money on the line: the amount itself, and the Medicare therapy threshold (KX)."""

from __future__ import annotations

from decimal import Decimal

from contracts.base import format_money
from contracts.charge import Charge
from workers.formatter.rules.codes import is_therapy_code
from workers.formatter.rules.context import RuleContext, therapy_key
from workers.formatter.rules.results import PASS, Results, error

ZERO = Decimal("0.00")
#: The largest line amount a claim form field holds; more is a keying error.
MAX_AMOUNT = Decimal("99999.99")

_DISCIPLINE_NAMES = {"PT_SLP": "physical therapy and speech-language pathology", "OT": "occupational therapy"}


def check_amount(charge: Charge, ctx: RuleContext) -> Results:
    amount = charge.amount
    if amount is None:
        return PASS
    if amount <= ZERO:
        return [
            error(
                "AMOUNT_NOT_POSITIVE",
                f"amount {format_money(amount)} is not above 0.00; enter the fee for the service",
                "amount",
            )
        ]
    if amount > MAX_AMOUNT:
        return [
            error(
                "AMOUNT_NOT_POSITIVE",
                f"amount {format_money(amount)} is over {format_money(MAX_AMOUNT)}; check the fee "
                "(a line amount cannot be that large)",
                "amount",
            )
        ]
    return PASS


def check_kx_modifier(charge: Charge, ctx: RuleContext) -> Results:
    if "KX" in charge.modifiers or not is_therapy_code(charge, ctx):
        return PASS
    key = therapy_key(charge)
    if key is None:
        return PASS  # no date, or no single discipline: other rules say why
    year, discipline = key[2], key[3]
    threshold = ctx.book.tables.kx_threshold(year, discipline)
    if threshold is None:
        return PASS
    billed = ctx.history.therapy_ytd.get(key, ZERO)
    # The line that crosses the threshold needs KX as well as every line after it.
    if charge.amount is not None and charge.amount > ZERO:
        billed += charge.amount
    if billed <= threshold:
        return PASS
    return [
        error(
            "KX_MODIFIER_REQUIRED",
            f"{_DISCIPLINE_NAMES[discipline]} billed for the patient in {year} comes to "
            f"{format_money(billed)} with this line, over the KX threshold "
            f"{format_money(threshold)}; add modifier KX once medical necessity is documented",
            "modifiers",
        )
    ]
