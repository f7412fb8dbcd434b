"""Which failed charges a reprocess request replays, as what, and why the others are skipped.

Pure: storage loads the candidates (failures by id, and by the report's filters for the
request's company), this decides. The rules that keep claims single:
- only a failure still `open` is replayed; one whose replay the formatter has not answered
  yet (`reprocessing`, or replayed and not yet announced) waits for that answer;
- a charge that has produced a claim (a claim line, or its failure resolved) is never replayed;
- a charge of another company reads as "not found", worded as for an id that does not exist,
  so a request cannot probe which charge ids exist elsewhere.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from contracts import Charge, FailureFilters, ReprocessRequest
from workers.reprocess.corrections import CorrectionError, apply_corrections, replay_changes
from workers.reprocess.ownership import Owned, changed_references, foreign

ALREADY_REPROCESSING = "already being reprocessed"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A failed charge as stored: its failure row, the charge it failed as, and its claim."""

    charge_id: str
    company_id: str
    status: str  # open | reprocessing | resolved (a failure), or claimed (a claim, no failure)
    latest_version: int
    #: The highest version of the charge the formatter has stored (a held one included):
    #: the replay must be newer than every version, or the formatter calls it stale.
    newest_version: int
    practice_id: str | None = None
    location_id: str | None = None
    run_number: int | None = None
    oldest_failure_date: dt.date | None = None
    codes: frozenset[str] = frozenset()
    charge: Charge | None = None
    claim_id: str | None = None
    #: Reprocess replayed a version of this charge that the formatter has not answered yet
    #: (reprocess's own record against the formatter's answered versions): it is being
    #: reprocessed even before the formatter has read the announcement.
    awaiting_replay: bool = False


@dataclass(frozen=True, slots=True)
class Replay:
    charge: Charge

    @property
    def charge_id(self) -> str:
        return self.charge.charge_id


@dataclass(frozen=True, slots=True)
class Skip:
    charge_id: str
    reason: str


Decision = Replay | Skip


def not_found(company_id: str) -> str:
    return f"not found in company {company_id}"


def matches(candidate: Candidate, filters: FailureFilters) -> bool:
    """The report's search: every given filter must hold (the date range is on the oldest failure date)."""
    f = filters
    day = candidate.oldest_failure_date
    return (
        (f.practice_id is None or candidate.practice_id == f.practice_id)
        and (f.location_id is None or candidate.location_id == f.location_id)
        and (f.run_number is None or candidate.run_number == f.run_number)
        and (f.failure_code is None or f.failure_code in candidate.codes)
        and (f.failed_from is None or (day is not None and day >= f.failed_from))
        and (f.failed_to is None or (day is not None and day <= f.failed_to))
    )


def selected_ids(request: ReprocessRequest, found: Iterable[Candidate]) -> list[str]:
    """The charge ids a request asks for, in order, once each.

    Ids alone select those ids; filters alone select every failure they match; both select
    the ids that match the filters (the rows a biller ticked in a search), never more.
    """
    if request.charge_ids:
        return list(dict.fromkeys(request.charge_ids))
    return list(dict.fromkeys(c.charge_id for c in found))


def select(failures: Sequence[Candidate], request: ReprocessRequest) -> list[Decision]:
    """One decision per selected charge id: replay it as its next version, or skip it and say why."""
    by_id = {c.charge_id: c for c in failures if c.company_id == request.company_id}
    decisions: list[Decision] = []
    for charge_id in selected_ids(request, by_id.values()):
        candidate = by_id.get(charge_id)
        if candidate is None:
            decisions.append(Skip(charge_id, not_found(request.company_id)))
            continue
        if request.filters is not None and not matches(candidate, request.filters):
            if request.charge_ids:
                decisions.append(Skip(charge_id, "does not match the search filters of the request"))
            continue
        decisions.append(decide(candidate, request))
    return decisions


def decide(candidate: Candidate, request: ReprocessRequest) -> Decision:
    skip = check_replayable(candidate)
    if skip is not None:
        return Skip(candidate.charge_id, skip)
    assert candidate.charge is not None  # check_replayable says so
    changes = replay_changes(request.corrections.get(candidate.charge_id, {}), request.claim_delay_until)
    try:
        corrected = apply_corrections(candidate.charge, changes)
    except CorrectionError as exc:
        return Skip(candidate.charge_id, str(exc))
    version = max(candidate.latest_version, candidate.newest_version) + 1
    return Replay(corrected.model_copy(update={"version": version}))


def moved_references(
    decisions: Sequence[Decision], originals: Mapping[str, Charge]
) -> dict[str, dict[str, str]]:
    """Per replay, the practice/location/patient/bill ids its corrections changed."""
    out: dict[str, dict[str, str]] = {}
    for d in decisions:
        if isinstance(d, Replay) and d.charge_id in originals:
            changed = changed_references(originals[d.charge_id], d.charge)
            if changed:
                out[d.charge_id] = changed
    return out


def refuse_foreign(
    decisions: Sequence[Decision], moved: Mapping[str, Mapping[str, str]], owned: Owned
) -> list[Decision]:
    """The decisions with every replay that points at another company's entity turned into a
    skip that says which reference (ownership.py says what belongs to a company)."""
    out: list[Decision] = []
    for d in decisions:
        problems = foreign(moved.get(d.charge_id, {}), owned) if isinstance(d, Replay) else []
        out.append(Skip(d.charge_id, "; ".join(str(p) for p in problems)) if problems else d)
    return out


def check_replayable(candidate: Candidate) -> str | None:
    """Why this failure must not be replayed now, or None when it may."""
    if candidate.claim_id is not None:
        return f"already claimed on claim {candidate.claim_id}; a replay would duplicate it"
    if candidate.status == "resolved":
        return "already resolved by a claim; a replay would duplicate it"
    if candidate.status == "reprocessing" or candidate.awaiting_replay:
        return ALREADY_REPROCESSING
    if candidate.status != "open":
        return f"failure status is {candidate.status}, not open"
    if candidate.charge is None:
        return (
            f"the stored charge version {candidate.latest_version} is missing or no longer passes the "
            "contract; it cannot be replayed"
        )
    return None
