"""Corrections that would point a charge at another company's entities are refused."""

from __future__ import annotations

import datetime as dt

from tests.factories import charge
from tests.unit.reprocess.test_selection import failure, request
from workers.reprocess.corrections import apply_corrections, replay_changes
from workers.reprocess.ownership import changed_references, foreign, wanted
from workers.reprocess.selection import Replay, Skip, moved_references, refuse_foreign, select


def test_only_changed_references_count_whichever_path_changed_them() -> None:
    original = charge(bill_id="B-1")
    assert changed_references(original, original) == {}
    whole_patient = apply_corrections(original, {"patient": {**original.patient.model_dump(), "id": "P-9"}})
    assert changed_references(original, whole_patient) == {"patient.id": "P-9"}
    moved = apply_corrections(original, {"practice_id": "south", "location_id": None, "bill_id": "B-2"})
    assert changed_references(original, moved) == {"practice_id": "south", "bill_id": "B-2"}


def test_foreign_names_the_field_never_the_id() -> None:
    changed = {"practice_id": "rival-north", "patient.id": "P-2", "bill_id": "B-7"}
    owned = {"patient.id": {"P-2"}, "practice_id": {"north"}}
    problems = foreign(changed, owned)
    assert [p.field for p in problems] == ["bill_id", "practice_id"]
    assert "not one of this company's" in str(problems[0]) and "B-7" not in str(problems[0])
    assert wanted([changed, {"practice_id": "x"}]) == {
        "practice_id": {"rival-north", "x"},
        "patient.id": {"P-2"},
        "bill_id": {"B-7"},
    }


def test_a_replay_moved_to_another_companys_practice_becomes_a_skip() -> None:
    found = [failure("CH-1"), failure("CH-2"), failure("CH-3")]
    req = request(
        charge_ids=["CH-1", "CH-2", "CH-3"],
        corrections={"CH-1": {"practice_id": "rival-north"}, "CH-2": {"practice_id": "south"}},
    )
    decisions = select(found, req)
    moved = moved_references(decisions, {c.charge_id: c.charge for c in found if c.charge})
    assert moved == {"CH-1": {"practice_id": "rival-north"}, "CH-2": {"practice_id": "south"}}
    final = refuse_foreign(decisions, moved, {"practice_id": {"south"}})
    assert isinstance(final[0], Skip) and "practice_id" in final[0].reason
    assert isinstance(final[1], Replay) and final[1].charge.practice_id == "south"
    assert isinstance(final[2], Replay)


def test_a_claim_delay_past_the_service_date_bound_is_a_skip() -> None:
    found = [failure("CH-1")]
    assert found[0].charge is not None and found[0].charge.service_date is not None
    far = found[0].charge.service_date + dt.timedelta(days=2000)
    assert replay_changes({"units": 1}, far) == {"units": 1, "claim_delay_until": far.isoformat()}
    req = request(
        charge_ids=["CH-1"], requested_at=dt.datetime(2031, 1, 1, tzinfo=dt.UTC), claim_delay_until=far
    )
    (decision,) = select(found, req)
    assert isinstance(decision, Skip) and "claim_delay_until" in decision.reason
