"""Selection: which failures a request replays, as what version, and why others are skipped."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from contracts import FailureFilters, ReprocessRequest
from tests.factories import charge
from workers.reprocess.selection import (
    ALREADY_REPROCESSING,
    Candidate,
    Replay,
    Skip,
    matches,
    select,
)

COMPANY = "acme-therapy"
DAY = dt.date(2026, 11, 1)


def failure(charge_id: str, **overrides: Any) -> Candidate:
    version = overrides.pop("latest_version", 1)
    data: dict[str, Any] = {
        "charge_id": charge_id,
        "company_id": COMPANY,
        "status": "open",
        "latest_version": version,
        "newest_version": version,
        "practice_id": "north",
        "location_id": "north-main",
        "run_number": 3,
        "oldest_failure_date": DAY,
        "codes": frozenset({"REQUIRED_FIELD"}),
        "charge": charge(
            charge_id=charge_id, version=version, company_id=overrides.get("company_id", COMPANY)
        ),
    }
    data.update(overrides)
    return Candidate(**data)


def request(**overrides: Any) -> ReprocessRequest:
    data: dict[str, Any] = {
        "request_id": "R-1",
        "requested_by": "biller-1",
        "company_id": COMPANY,
        "requested_at": dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC),
    }
    data.update(overrides)
    return ReprocessRequest.model_validate(data, strict=False)


def reasons(decisions: list[Any]) -> dict[str, str]:
    return {d.charge_id: d.reason for d in decisions if isinstance(d, Skip)}


def test_an_open_failure_is_replayed_as_its_next_version_with_corrections() -> None:
    decisions = select(
        [failure("CH-1", latest_version=2)],
        request(charge_ids=["CH-1"], corrections={"CH-1": {"patient.birth_date": "1950-02-01"}}),
    )
    assert len(decisions) == 1 and isinstance(decisions[0], Replay)
    replayed = decisions[0].charge
    assert replayed.version == 3 and replayed.patient.birth_date == dt.date(1950, 2, 1)


def test_the_replay_is_newer_than_every_stored_version() -> None:
    (decision,) = select([failure("CH-1", latest_version=2, newest_version=4)], request(charge_ids=["CH-1"]))
    assert isinstance(decision, Replay) and decision.charge.version == 5


def test_claim_delay_is_set_on_the_replay() -> None:
    later = dt.date(2026, 12, 1)
    (decision,) = select([failure("CH-1")], request(charge_ids=["CH-1"], claim_delay_until=later))
    assert isinstance(decision, Replay) and decision.charge.claim_delay_until == later


def test_skips_say_why() -> None:
    found = [
        failure("CH-claimed", claim_id="CL-9"),
        failure("CH-resolved", status="resolved"),
        failure("CH-busy", status="reprocessing"),
        failure("CH-lost", charge=None),
        failure("CH-bad"),
    ]
    ids = [c.charge_id for c in found] + ["CH-nowhere"]
    decisions = select(found, request(charge_ids=ids, corrections={"CH-bad": {"patient.shoe_size": 9}}))
    why = reasons(decisions)
    assert set(why) == set(ids)
    assert "already claimed on claim CL-9" in why["CH-claimed"]
    assert "already resolved" in why["CH-resolved"]
    assert why["CH-busy"] == ALREADY_REPROCESSING
    assert "missing" in why["CH-lost"]
    assert "patient.shoe_size" in why["CH-bad"] and "unknown field" in why["CH-bad"]
    assert why["CH-nowhere"] == f"not found in company {COMPANY}"


def test_another_companys_charge_reads_as_not_found() -> None:
    other = failure("CH-9", company_id="rival-rehab")
    decisions = select([other], request(charge_ids=["CH-9", "CH-404"]))
    assert reasons(decisions) == {
        "CH-9": f"not found in company {COMPANY}",
        "CH-404": f"not found in company {COMPANY}",
    }


def test_duplicate_ids_decide_once() -> None:
    decisions = select([failure("CH-1")], request(charge_ids=["CH-1", "CH-1"]))
    assert [d.charge_id for d in decisions] == ["CH-1"]


def test_filters_alone_select_what_matches() -> None:
    found = [failure("CH-1"), failure("CH-2", practice_id="south"), failure("CH-3", status="reprocessing")]
    decisions = select(found, request(filters={"practice_id": "north"}))
    assert [d.charge_id for d in decisions] == ["CH-1", "CH-3"]
    assert reasons(decisions) == {"CH-3": ALREADY_REPROCESSING}


def test_ids_with_filters_replay_only_ids_that_match() -> None:
    found = [failure("CH-1"), failure("CH-2", run_number=4), failure("CH-3")]
    decisions = select(found, request(charge_ids=["CH-1", "CH-2"], filters={"run_number": 3}))
    assert [d.charge_id for d in decisions if isinstance(d, Replay)] == ["CH-1"]
    assert "does not match" in reasons(decisions)["CH-2"]


def test_filter_fields() -> None:
    c = failure("CH-1")
    assert matches(c, FailureFilters())
    assert matches(c, FailureFilters(location_id="north-main", failure_code="REQUIRED_FIELD"))
    assert not matches(c, FailureFilters(location_id="south-main"))
    assert not matches(c, FailureFilters(failure_code="NPI_CHECK_DIGIT"))
    assert matches(c, FailureFilters(failed_from=DAY, failed_to=DAY))
    assert not matches(c, FailureFilters(failed_from=DAY + dt.timedelta(days=1)))
    assert not matches(c, FailureFilters(failed_to=DAY - dt.timedelta(days=1)))


statuses = st.sampled_from(["open", "reprocessing", "resolved"])
candidates = st.builds(
    lambda i, status, claimed, company, version, extra: failure(
        f"CH-{i}",
        status=status,
        claim_id="CL-1" if claimed else None,
        company_id=company,
        latest_version=version,
        newest_version=version + extra,
    ),
    st.integers(0, 9),
    statuses,
    st.booleans(),
    st.sampled_from([COMPANY, "rival-rehab"]),
    st.integers(1, 5),
    st.integers(0, 2),
)


@given(
    st.lists(candidates, max_size=8, unique_by=lambda c: c.charge_id),
    st.lists(st.integers(0, 12), max_size=10),
)
def test_every_selected_id_gets_one_decision_and_only_open_unclaimed_ones_replay(
    found: list[Candidate], picked: list[int]
) -> None:
    ids = [f"CH-{i}" for i in picked] or ["CH-0"]
    decisions = select(found, request(charge_ids=ids))
    assert [d.charge_id for d in decisions] == list(dict.fromkeys(ids))
    by_id = {c.charge_id: c for c in found}
    for d in decisions:
        if isinstance(d, Replay):
            c = by_id[d.charge_id]
            assert c.status == "open" and c.claim_id is None and c.company_id == COMPANY
            assert d.charge.version > c.newest_version
        else:
            assert d.reason


@given(st.lists(candidates, max_size=8, unique_by=lambda c: c.charge_id))
def test_nothing_open_is_replayed_twice_after_marking(found: list[Candidate]) -> None:
    # What the handler does between two requests: replayed failures become `reprocessing`.
    first = select(found, request(charge_ids=[c.charge_id for c in found] or ["CH-0"]))
    replayed = {d.charge_id for d in first if isinstance(d, Replay)}
    after = [dataclasses.replace(c, status="reprocessing") if c.charge_id in replayed else c for c in found]
    second = select(after, request(charge_ids=[c.charge_id for c in found] or ["CH-0"]))
    assert not any(isinstance(d, Replay) for d in second)
