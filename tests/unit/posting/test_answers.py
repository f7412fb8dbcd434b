"""The hot path's shortcuts give exactly what the plain path gives.

`answer_json` writes a posting's answer without building the model, and `evolve` copies a
frozen value without `dataclasses.replace`; both must be indistinguishable from the path
they replace, for any bill the rules can reach.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.codec import decode, encode
from contracts.posting import Posting, PostingApplied, PostingRejected
from tests.unit.posting.builders import PAYERS, make_claim
from workers.posting.answers import answer_json, timestamp
from workers.posting.bill import Bill, BillPayer, evolve, open_bill
from workers.posting.codes import REGISTRY
from workers.posting.rules import Applied, LedgerLine, Rejected, answer, apply_posting, bill_not_found

CODES = [*sorted(REGISTRY), "P", "C", "F", "J", "ZZ"]
money = st.decimals(min_value=Decimal("0.01"), max_value=400, places=2)
# Names and reasons reach the JSON as text: include what JSON must escape and non-ASCII.
text = st.text(st.characters(codec="utf-8"), max_size=30)
times = st.datetimes(
    min_value=dt.datetime(2000, 1, 1),
    timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=-5))]),
)


@st.composite
def bills(draw: st.DrawFn) -> Bill:
    """A bill after a few postings of any code, so its flags, payers and refunds vary."""
    payers = draw(st.integers(0, 3))
    bill = open_bill(make_claim(payers=PAYERS[:payers], total=str(draw(money))))
    named = tuple(evolve(p, name=draw(text)) for p in bill.payers)
    bill = evolve(bill, payers=named)
    for i in range(draw(st.integers(0, 6))):
        outcome = apply_posting(bill, _posting(f"S{i}", draw(st.sampled_from(CODES)), draw(money), None))
        if isinstance(outcome, Applied):
            bill = outcome.bill
    return bill


def _posting(posting_id: str, code: str, amount: Decimal | None, next_payer: int | None) -> Posting:
    return Posting(
        posting_id=posting_id,
        bill_id="B1",
        code=code,
        amount=amount,
        next_payer=next_payer,
        posted_at=dt.datetime(2024, 3, 2, tzinfo=dt.UTC),
    )


@settings(max_examples=300, deadline=None)
@given(
    bill=bills(),
    code=st.sampled_from(CODES),
    amount=st.one_of(st.none(), money, money.map(lambda a: -a)),
    next_payer=st.one_of(st.none(), st.integers(1, 4)),
    at=times,
)
def test_answer_json_is_the_models_json(
    bill: Bill, code: str, amount: Decimal | None, next_payer: int | None, at: dt.datetime
) -> None:
    posting = _posting("PO-1", code, amount, next_payer)
    outcome = apply_posting(bill, posting)
    fast = answer_json(posting, outcome, timestamp(at))
    assert fast == encode(answer(posting, outcome, at))
    model = PostingApplied if isinstance(outcome, Applied) else PostingRejected
    assert decode(fast, model) == answer(posting, outcome, at)


@given(reason=text, at=times)
def test_a_rejection_with_any_reason_is_the_models_json(reason: str, at: dt.datetime) -> None:
    posting = _posting("PO-2", "P", Decimal("1.00"), None)
    for outcome in (Rejected("SOME_CODE", reason), bill_not_found("B1")):
        assert answer_json(posting, outcome, timestamp(at)) == encode(answer(posting, outcome, at))


@settings(max_examples=200, deadline=None)
@given(bill=bills(), other=bills(), data=st.data())
def test_evolve_is_dataclasses_replace(bill: Bill, other: Bill, data: st.DataObject) -> None:
    line = LedgerLine("B1", "P", "P", Decimal("1.00"), 1, Decimal("2.00"))
    pairs: list[tuple[object, object]] = [(bill, other), (line, evolve(line, code="C", posting_id="PO-9"))]
    pairs += zip(bill.payers, other.payers, strict=False)
    for value, source in pairs:
        names = [f.name for f in dataclasses.fields(value)]  # type: ignore[arg-type]
        chosen = data.draw(st.lists(st.sampled_from(names), unique=True, max_size=4))
        changes = {name: getattr(source, name) for name in chosen}
        assert evolve(value, **changes) == dataclasses.replace(value, **changes)  # type: ignore[type-var]


def test_evolve_refuses_an_unknown_field_and_a_class_with_post_init() -> None:
    payer = BillPayer(1, "P1", "Payer", "commercial")
    with pytest.raises(TypeError, match="no field colour"):
        evolve(payer, colour="blue")

    @dataclasses.dataclass(frozen=True)
    class Checked:
        x: int

        def __post_init__(self) -> None:
            assert self.x >= 0

    with pytest.raises(TypeError, match="plain dataclasses"):
        evolve(Checked(1), x=-1)
