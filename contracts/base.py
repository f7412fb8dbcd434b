"""Shared building blocks for every contract: money, identifiers, the model base class.

Money travels as a decimal string with two places ("125.00"). A float is refused on the
wire because 0.1 + 0.2 is not a billing amount; so are NaN, infinities and more than two
places, because each of those is a bug upstream, not an amount to round.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)

CENT = Decimal("0.01")
#: No single amount in therapy billing comes near this; larger means a broken sender.
MONEY_LIMIT = Decimal("1000000000.00")


def parse_money(value: Any) -> Decimal:
    """Turn a wire value into an exact two-place Decimal, or say why it is not money."""
    if isinstance(value, bool | int | float):
        # A JSON number is refused, integers included: the contract says string, and a
        # sender that sends 125 today sends 125.1 (a float) tomorrow.
        raise ValueError("money must be a decimal string such as '125.00', not a number")
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise ValueError("money must not be blank")
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"{text[:20]!r} is not a decimal amount") from None
    if not isinstance(value, Decimal):
        raise ValueError("money must be a decimal string such as '125.00'")
    if not value.is_finite():
        raise ValueError("money must be a finite amount")
    if -MONEY_LIMIT < value < MONEY_LIMIT:
        # The common case, without the digit tuple below (this runs for every amount decoded
        # or built): in range, quantising is exact unless there are more than two places.
        cents = value.quantize(CENT)
        if cents != value:
            raise ValueError("money has at most two decimal places")
        return cents
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2 and value != value.quantize(CENT):
        raise ValueError("money has at most two decimal places")
    if abs(value) >= MONEY_LIMIT:
        raise ValueError("amount is out of range")
    return value.quantize(CENT)


def format_money(value: Decimal) -> str:
    # Formatting to two places rounds as quantize(CENT) does (the context's rounding), at
    # half the cost of quantising first; it runs for every amount of every answer.
    return f"{value:.2f}"


Money = Annotated[
    Decimal,
    BeforeValidator(parse_money),
    PlainSerializer(format_money, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^-?[0-9]{1,9}(\.[0-9]{1,2})?$",
            "description": 'Exact decimal amount with at most two places, e.g. "125.00".',
            "examples": ["125.00"],
        }
    ),
]

#: Identifiers arrive from many systems; keep them printable, short and free of separators
#: we use in keys (":").
Identifier = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._\-]+$"),
]

#: Free text that may be blank on the wire; the formatter's REQUIRED_FIELD rule, not the
#: decoder, decides whether a blank is acceptable, so a biller can fix it.
Text = Annotated[str, StringConstraints(max_length=200)]


class Contract(BaseModel):
    """Base for every value on a topic: immutable, no unknown fields, strict types."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        strict=True,
        str_max_length=2000,
        ser_json_timedelta="iso8601",
    )
