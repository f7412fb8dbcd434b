"""Properties of a whole run with the real rules: every charge ends as exactly one outcome."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import Charge
from tests.unit.formatter.strategies import TODAY, changed, valid_charges
from workers.formatter.handler import FormatterHandler
from workers.formatter.history import History
from workers.formatter.rules import RuleBook, is_held
from workers.formatter.run import run_charges

NOW = dt.datetime.combine(TODAY, dt.time(12), tzinfo=dt.UTC)
HANDLER = FormatterHandler(RuleBook.default())

BREAKERS = [
    {"procedure_code": "9711"},
    {"amount": Decimal("0.00")},
    {"rendering_provider.npi": "1234567890"},
    {"diagnoses": []},
    {"service_date": TODAY + dt.timedelta(days=3)},
    {"place_of_service": "99"},
]


@st.composite
def batches(draw: st.DrawFn) -> list[Charge]:
    charges = draw(st.lists(valid_charges(), min_size=1, max_size=12))
    out = []
    for i, c in enumerate(charges):
        c = changed(c, {"charge_id": f"C{i}"})
        if draw(st.booleans()):
            c = changed(c, draw(st.sampled_from(BREAKERS)))
        out.append(c)
    return out


@settings(max_examples=60, deadline=None)
@given(batches())
def test_every_charge_is_one_claim_line_or_one_failure(charges: list[Charge]) -> None:
    result = run_charges(
        charges, History(), {}, run_number=3, now=NOW, evaluate=HANDLER.evaluate, is_held=is_held
    )
    lines = [(line.charge_id, c.claim_id) for c in result.claims for line in c.lines]
    failed = [f.charge_id for f in result.failed]
    claimed = [cid for cid, _ in lines]
    assert sorted(claimed + failed) == sorted(c.charge_id for c in charges)
    assert not set(claimed) & set(failed)
    assert {k[0] for k in result.outcomes} == {c.charge_id for c in charges}
    for failure in result.failed:
        assert failure.reasons and all(r.severity == "error" for r in failure.reasons)
        assert failure.run_number == 3
    for claim in result.claims:
        assert claim.run_number == 3 and len(claim.diagnoses) <= 12
        assert all(1 <= p <= len(claim.diagnoses) for line in claim.lines for p in line.diagnosis_pointers)
        assert claim.total_amount == sum(line.amount for line in claim.lines)
