"""One formatter run: every charge in it ends as a claim line, a failure, or a hold.

Pure: given the charges, what the database knew before the run (`History`, the failure
states) and the clock, decide every outcome. Nothing passed in is changed: what the run
adds to the history comes back in `RunResult.history` (workers/formatter/history.py). The
handler loads the inputs and saves the result in one transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from contracts import Charge, ChargeFailed, ChargeFailureResolved, Claim, RuleResult
from workers.formatter.claims import Passed, build_claims
from workers.formatter.history import (
    History,
    HistoryChanges,
    layered,
    record_passed,
    record_sent,
    replaces_bill,
)

Evaluate = Callable[[Charge, History, dt.date], list[RuleResult]]
IsHeld = Callable[[Charge, dt.date], bool]


@dataclass(frozen=True, slots=True)
class FailureState:
    oldest_failure_date: dt.date
    failure_count: int
    status: str


@dataclass(slots=True)
class Outcome:
    charge: Charge
    kind: Literal["claimed", "failed", "held"]
    claim_id: str | None = None
    failure: ChargeFailed | None = None
    resolved: ChargeFailureResolved | None = None


@dataclass
class RunResult:
    run_number: int
    claims: list[Claim] = field(default_factory=list)
    failed: list[ChargeFailed] = field(default_factory=list)
    resolved: list[ChargeFailureResolved] = field(default_factory=list)
    held: list[Charge] = field(default_factory=list)
    outcomes: dict[tuple[str, int], Outcome] = field(default_factory=dict)
    #: What the run adds to the history it was given.
    history: HistoryChanges = field(default_factory=HistoryChanges)


def run_charges(
    charges: Sequence[Charge],
    history: History,
    failures: dict[str, FailureState],
    *,
    run_number: int,
    now: dt.datetime,
    evaluate: Evaluate,
    is_held: IsHeld,
) -> RunResult:
    """Decide each charge in order; charges are distinct (charge_id, version) pairs."""
    today = now.date()
    result = RunResult(run_number)
    changes = result.history
    # The rules see the stored history with this run's passed charges on top.
    seen = layered(history, changes)
    passed: list[Passed] = []
    outcomes = result.outcomes
    for charge in charges:
        key = (charge.charge_id, charge.version)
        if is_held(charge, today):
            result.held.append(charge)
            outcomes[key] = Outcome(charge, "held")
            continue
        found = evaluate(charge, seen, today)
        warnings: tuple[RuleResult, ...] = ()
        if found:  # most charges pass with nothing to say
            errors = [r for r in found if r.severity == "error"]
            if errors:
                failure = _failed(charge, errors, failures.get(charge.charge_id), run_number, now)
                result.failed.append(failure)
                outcomes[key] = Outcome(charge, "failed", failure=failure)
                continue
            warnings = tuple([r for r in found if r.severity == "warning"])
        passed.append(Passed(charge, warnings, replaces_bill(history, charge)))
        record_passed(changes, seen, charge)

    result.claims = build_claims(passed, run_number, now)
    by_key = {(p.charge.charge_id, p.charge.version): p.charge for p in passed}
    for claim in result.claims:
        claim_id, bill_id = claim.claim_id, claim.bill_id
        for line in claim.lines:
            key = (line.charge_id, line.charge_version)
            record_sent(changes, line.charge_id, line.charge_version, bill_id)
            charge = by_key[key]
            outcome = Outcome(charge, "claimed", claim_id=claim_id)
            state = failures.get(charge.charge_id)
            if state is not None and state.status != "resolved":
                outcome.resolved = ChargeFailureResolved(
                    charge_id=charge.charge_id,
                    charge_version=charge.version,
                    company_id=charge.company_id,
                    run_number=run_number,
                    claim_id=claim.claim_id,
                    resolved_at=now,
                )
                result.resolved.append(outcome.resolved)
            outcomes[key] = outcome
    return result


def _failed(
    charge: Charge, errors: list[RuleResult], state: FailureState | None, run_number: int, now: dt.datetime
) -> ChargeFailed:
    today = now.date()
    # A failure keeps its oldest failure date across retries; a resolved charge that fails
    # again (a later correction gone wrong) starts a new history.
    carried = state is not None and state.status != "resolved"
    oldest = min(state.oldest_failure_date, today) if carried and state else today
    count = state.failure_count + 1 if carried and state else 1
    payer = charge.primary_payer
    return ChargeFailed(
        charge_id=charge.charge_id,
        charge_version=charge.version,
        company_id=charge.company_id,
        practice_id=charge.practice_id,
        location_id=charge.location_id,
        run_number=run_number,
        reasons=errors,
        oldest_failure_date=oldest,
        failure_count=count,
        failed_at=now,
        service_date=charge.service_date,
        procedure_code=charge.procedure_code,
        amount=charge.amount,
        payer_name=payer.name if payer else None,
    )
