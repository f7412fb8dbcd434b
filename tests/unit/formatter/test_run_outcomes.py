"""The run's bookkeeping, with a stand-in rule so only run semantics are under test."""

import datetime as dt

from contracts import Charge, RuleResult
from tests.factories import charge
from workers.formatter.history import History, SentLine, applied, history_of
from workers.formatter.run import FailureState, run_charges

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def fails_when_code_is_bad(c: Charge, history: History, today: dt.date) -> list[RuleResult]:
    found = []
    if c.procedure_code == "BAD":
        found.append(RuleResult(code="PROCEDURE_CODE_FORMAT", message="bad", field="procedure_code"))
    if c.units == 9:
        found.append(RuleResult(code="UNITS_INVALID", message="too many", field="units"))
    return found


def never_held(c: Charge, today: dt.date) -> bool:
    return c.claim_delay_until is not None and c.claim_delay_until > today


def run(charges, history=None, failures=None, run_number=5):
    return run_charges(
        charges,
        history or History(),
        failures or {},
        run_number=run_number,
        now=NOW,
        evaluate=fails_when_code_is_bad,
        is_held=never_held,
    )


def test_each_charge_has_exactly_one_outcome() -> None:
    charges = [
        charge(charge_id="A"),
        charge(charge_id="B", procedure_code="BAD", units=9),
        charge(charge_id="C", claim_delay_until=NOW.date() + dt.timedelta(days=3)),
    ]
    result = run(charges)
    assert {k[0]: o.kind for k, o in result.outcomes.items()} == {"A": "claimed", "B": "failed", "C": "held"}
    [failure] = result.failed
    assert [r.code for r in failure.reasons] == ["PROCEDURE_CODE_FORMAT", "UNITS_INVALID"]
    assert failure.run_number == 5 and failure.failure_count == 1
    assert failure.oldest_failure_date == NOW.date()


def test_failure_keeps_its_oldest_date_and_counts_up() -> None:
    old = dt.date(2026, 10, 1)
    result = run(
        [charge(version=2, procedure_code="BAD")], failures={"CH-1": FailureState(old, 3, "reprocessing")}
    )
    [failure] = result.failed
    assert failure.oldest_failure_date == old
    assert failure.failure_count == 4


def test_a_charge_that_passes_after_failing_is_resolved() -> None:
    result = run(
        [charge(version=2)], failures={"CH-1": FailureState(dt.date(2026, 10, 1), 1, "reprocessing")}
    )
    [resolved] = result.resolved
    assert resolved.charge_id == "CH-1" and resolved.claim_id == result.claims[0].claim_id


def test_correction_of_a_rejected_bill_goes_out_as_replacement() -> None:
    history = history_of({}, {}, {"CH-1": SentLine("CLM-1-1", 1)}, {"CLM-1-1": True})
    result = run([charge(version=2)], history=history)
    [claim] = result.claims
    assert claim.bill_id == "CLM-1-1" and claim.frequency == "replacement"
    assert history.bills["CLM-1-1"].rejected is True  # the run changes nothing it was given
    assert applied(history, result.history).bills["CLM-1-1"].rejected is False
