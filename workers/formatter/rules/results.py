"""Building rule results, and the one notion of "missing" every rule shares.

A rule whose input is missing yields nothing: REQUIRED_FIELD alone reports a missing
field, so a biller sees one reason per gap, not one per rule that needed it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

from contracts.charge import Charge
from contracts.claim import RuleResult

if TYPE_CHECKING:
    from workers.formatter.rules.context import RuleContext


#: What a check returns. A plain function returning a sequence, not a generator: most
#: checks find nothing, and a generator object per check and charge cost more than the
#: checks themselves.
Results = Sequence[RuleResult]
#: The shared answer of a check that found nothing.
PASS: Results = ()


def blank(value: object) -> bool:
    """None, or a string that is empty once stripped."""
    return value is None or (isinstance(value, str) and not value.strip())


def error(code: str, message: str, field: str | None = None) -> RuleResult:
    return RuleResult(code=code, message=message, field=field, severity="error")


def warning(code: str, message: str, field: str | None = None) -> RuleResult:
    return RuleResult(code=code, message=message, field=field, severity="warning")


class Check(Protocol):
    def __call__(self, charge: Charge, ctx: RuleContext, /) -> Iterable[RuleResult]: ...
