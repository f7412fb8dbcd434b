"""What the workspace says about the charges a reprocess request replays
(workers/report/web/watch.py), from the failure rows the real formatter wrote."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import Engine

from claimflow.db import create_all, make_engine
from tests.unit.report.data import fill
from workers.report.web import watch


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'report.db'}")
    create_all(engine)
    fill(engine)
    yield engine
    engine.dispose()


def item(outcome: str, new_version: int | None = None, reason: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(outcome=outcome, new_version=new_version, reason=reason)


def test_a_watched_charge_reads_replaying_then_claimed_or_failed_again() -> None:
    open_row = {"status": "open", "latest_version": 2, "reasons": [{"message": "birth date is missing"}]}
    assert watch.state_of(open_row, None)["state"] == "replaying"  # the worker has not run it yet
    assert watch.state_of({**open_row, "status": "reprocessing"}, item("replayed", 3))["text"] == "Replaying…"
    assert watch.state_of(open_row, item("replayed", 3))["state"] == "replaying"  # v3 not answered yet
    failed = watch.state_of({**open_row, "latest_version": 3}, item("replayed", 3))
    assert failed == {"state": "failed", "text": "Failed again: birth date is missing"}
    claimed = watch.state_of({"status": "resolved", "resolved_claim_id": "CLM-2-1"}, item("replayed", 3))
    assert claimed["text"] == "Claimed CLM-2-1"
    skipped = watch.state_of(open_row, item("skipped", reason="not open (status resolved)"))
    assert skipped == {"state": "skipped", "text": "Not replayed: not open (status resolved)"}


def test_a_request_is_found_only_by_its_companys_billers(engine: Engine) -> None:
    watches = watch.Watches()
    watches.add(watch.Watched("rr-1", "acme-therapy", ("A1", "A2"), (("A9", "not found"),)))
    with engine.connect() as conn:
        assert watches.find(conn, "rr-1", ["other-co"]) is None
        assert watches.find(conn, "rr-unknown", ["acme-therapy"]) is None
        found = watches.find(conn, "rr-1", ["acme-therapy"])
        assert found is not None
        rows, states = watch.states(conn, found)
    assert [r["charge_id"] for r in rows] == ["A1", "A2"]
    assert states["A1"]["state"] == "replaying" and states["A9"]["state"] == "skipped"


def test_watches_are_bounded() -> None:
    watches = watch.Watches()
    for i in range(watch.REMEMBERED + 5):
        watches.add(watch.Watched(f"rr-{i}", "acme-therapy", ("A1",)))
    assert len(watches.known) == watch.REMEMBERED and "rr-0" not in watches.known
