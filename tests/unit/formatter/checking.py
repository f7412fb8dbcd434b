"""The assertion every per-rule test makes: the rule fires (or not), and says it right."""

from __future__ import annotations

from contracts.charge import Charge
from contracts.claim import RuleResult
from tests.unit.formatter.strategies import context
from workers.formatter.rules import RULES, RuleContext, evaluate


def results_for(charge: Charge, ctx: RuleContext | None = None) -> list[RuleResult]:
    results = evaluate(charge, ctx or context())
    for result in results:
        # The catalogue is what the report shows; a result must agree with it.
        assert result.code in RULES, result
        assert result.severity == RULES[result.code].severity, result
        assert result.message and result.field, result
    return results


def assert_rule(code: str, charge: Charge, ctx: RuleContext | None, fails: bool) -> list[RuleResult]:
    results = results_for(charge, ctx)
    found = [r for r in results if r.code == code]
    if fails:
        assert found, f"{code} expected, got {[(r.code, r.message) for r in results]}"
    else:
        assert not found, f"{code} not expected: {[r.message for r in found]}"
    return found
