"""The end-state checks of the posting and reprocess fault tests catch what they must.

No broker: a posting stream is handled in-process by `PostingHandler` on SQLite, its
topics are simulated as records, then one thing is broken at a time (an answer lost, two
different answers for one posting, a bill changed behind the rules' back, a ledger line
doubled; a request answered twice differently, one charge version replayed by two requests).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import insert, select, update

from claimflow.db import create_all, make_engine, unit_of_work
from contracts import Claim, ReplayedCharge, ReprocessRequest, ReprocessResult
from contracts.codec import encode
from contracts.topics import POSTING_RESULTS, POSTINGS, REPROCESS_RESULTS
from devtools.sample import SamplePosting, generate_posting_samples
from devtools.sample.examples import example_messages
from tests.faults.harness import bill_summaries, check_posting, check_reprocess
from tests.pipeline import Record
from workers.common.messages import Incoming, Received
from workers.posting import storage as ps
from workers.posting import tables as pt
from workers.posting.handler import PostingHandler

PREFIX = "t."


@dataclasses.dataclass
class World:
    db_url: str
    claims: dict[str, Claim]
    postings: list[SamplePosting]
    records: list[Record]


@pytest.fixture
def world(tmp_path: Path) -> World:
    url = f"sqlite:///{tmp_path / 'checks.db'}"
    engine = make_engine(url)
    create_all(engine)
    base = example_messages()["Claim"]
    assert isinstance(base, Claim)
    claims = {
        f"CL-{i}": base.model_copy(update={"claim_id": f"CL-{i}", "bill_id": f"B-{i}"}) for i in range(15)
    }
    with unit_of_work(engine) as conn:
        ps.open_bills_from_claims(conn, claims.values())
    postings = generate_posting_samples(bill_summaries(claims.values()), 7)
    handler = PostingHandler(prefix=PREFIX)
    records: list[Record] = []
    for n, s in enumerate(postings):
        value = encode(s.posting)
        key = s.posting.bill_id.encode()
        records.append(Record(PREFIX + POSTINGS, key, value, (), 0, n))
        with unit_of_work(engine) as conn:
            out = handler.handle(conn, [Incoming(s.posting, Received(PREFIX + POSTINGS, 0, n, key, value))])
        records.extend(Record(o.topic, o.key, o.value, (), 0, len(records)) for o in out)
    engine.dispose()
    return World(url, claims, postings, records)


def _answers(w: World) -> list[Record]:
    return [r for r in w.records if r.topic.endswith(POSTING_RESULTS)]


def test_a_clean_run_passes(world: World) -> None:
    verdict = check_posting(world.postings, world.claims, world.records, world.db_url)
    assert verdict.problems == []
    assert verdict.losses == verdict.duplicates == 0


def test_a_lost_answer_is_a_loss(world: World) -> None:
    lost = _answers(world)[3]
    verdict = check_posting(
        world.postings, world.claims, [r for r in world.records if r is not lost], world.db_url
    )
    assert verdict.losses >= 1, verdict.problems


def test_two_different_answers_are_a_duplicate(world: World) -> None:
    first = _answers(world)[0]
    assert first.value is not None
    other = first.value.replace(b'"20', b'"19', 1)
    assert other != first.value
    extra = dataclasses.replace(first, value=other, offset=10_000)
    verdict = check_posting(world.postings, world.claims, [*world.records, extra], world.db_url)
    assert verdict.duplicates >= 1, verdict.problems


def test_a_bill_changed_behind_the_rules_is_caught(world: World) -> None:
    engine = make_engine(world.db_url)
    with unit_of_work(engine) as conn:
        conn.execute(update(pt.bills).where(pt.bills.c.bill_id == "B-1").values(on_hold=True, killed=True))
    engine.dispose()
    verdict = check_posting(world.postings, world.claims, world.records, world.db_url)
    assert any("differ from replaying" in p for p in verdict.problems), verdict.problems


def test_a_doubled_ledger_line_is_a_duplicate(world: World) -> None:
    engine = make_engine(world.db_url)
    with unit_of_work(engine) as conn:
        row = conn.execute(select(pt.ledger).limit(1)).mappings().one()
        conn.execute(insert(pt.ledger), [{k: v for k, v in row.items() if k != "id"}])
    engine.dispose()
    verdict = check_posting(world.postings, world.claims, world.records, world.db_url)
    assert verdict.duplicates >= 1, verdict.problems


def _result(request_id: str, replayed: list[tuple[str, int]], at: int = 0) -> Record:
    result = ReprocessResult(
        request_id=request_id,
        company_id="acme",
        requested_by="biller-01",
        replayed=[ReplayedCharge(charge_id=c, new_version=v) for c, v in replayed],
        skipped=[],
        completed_at=dt.datetime(2026, 11, 1, 12, at, tzinfo=dt.UTC),
    )
    return Record(PREFIX + REPROCESS_RESULTS, request_id.encode(), encode(result), (), 0, at)


def _request(request_id: str) -> ReprocessRequest:
    return ReprocessRequest(
        request_id=request_id,
        requested_by="biller-01",
        company_id="acme",
        charge_ids=["CH-1"],
        requested_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
    )


def test_reprocess_doubles_and_losses_are_caught(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    engine = make_engine(url)
    create_all(engine)
    engine.dispose()
    requests = [_request("rq-1"), _request("rq-2"), _request("rq-3")]
    records = [
        _result("rq-1", [("CH-1", 2)]),
        _result("rq-1", [("CH-1", 2)], at=1),  # answered twice, differently
        _result("rq-2", [("CH-1", 2), ("CH-1", 3)], at=2),  # CH-1 v2 again; CH-1 twice in one
    ]
    verdict = check_reprocess([], requests, records, url)
    text = " | ".join(verdict.problems)
    assert "two different results" in text
    assert "replayed twice within one request" in text
    assert "replayed by two requests" in text
    assert "without a result" in text  # rq-3
    assert "never published" in text  # the replays are on no charges topic
    assert verdict.losses >= 1 and verdict.duplicates >= 3
