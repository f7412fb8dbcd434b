"""Reprocessing as it runs in production: the formatter and reprocess workers in their own
processes, the real broker, a real database."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select

from claimflow.broker import create_topics
from claimflow.db import create_all, make_engine
from contracts import Charge, ChargeFailed, Claim, ReprocessRequest, ReprocessResult
from contracts.codec import encode
from contracts.topics import CHARGE_FAILURES, CHARGES, CLAIMS, REPROCESS_REQUESTS, REPROCESS_RESULTS
from tests.factories import visit
from tests.pipeline import Record, WorkerProcess, consume_until, produce, worker_env
from workers.formatter import tables

pytestmark = pytest.mark.integration

TODAY = dt.date.today()
COMPANY = "acme-therapy"


def ask(request_id: str, company_id: str = COMPANY, **fields: object) -> ReprocessRequest:
    return ReprocessRequest.model_validate(
        {
            "request_id": request_id,
            "requested_by": "biller-1",
            "company_id": company_id,
            "requested_at": dt.datetime.now(dt.UTC),
            **fields,
        },
        strict=False,
    )


@pytest.fixture
def prefix(kafka_bootstrap: str) -> str:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    create_topics(kafka_bootstrap, prefix)
    return prefix


@pytest.fixture
def workers(
    kafka_bootstrap: str, prefix: str, db_url: str, tmp_path: Path
) -> Iterator[Callable[[str], None]]:
    create_all(make_engine(db_url))
    env = worker_env(kafka_bootstrap, prefix, db_url, CLAIMFLOW_RUN_MAX_CHARGES="100")
    started: list[WorkerProcess] = []

    def start(name: str) -> None:
        started.append(WorkerProcess(name, env, tmp_path / f"{name}-{len(started)}.log").start())

    yield start
    for w in started:
        w.stop(timeout=30)


def claims_of(records: list[Record]) -> list[Claim]:
    return [Claim.model_validate_json(r.value or b"") for r in records if r.topic.endswith(CLAIMS)]


def failures_of(records: list[Record]) -> list[ChargeFailed]:
    return [
        ChargeFailed.model_validate_json(r.value or b"")
        for r in records
        if r.topic.endswith(CHARGE_FAILURES) and orjson.loads(r.value or b"{}")["type"] == "ChargeFailed"
    ]


def results_of(records: list[Record]) -> list[ReprocessResult]:
    return [
        ReprocessResult.model_validate_json(r.value or b"")
        for r in records
        if r.topic.endswith(REPROCESS_RESULTS)
    ]


async def test_corrected_failures_become_single_claims(kafka_bootstrap, prefix, workers, db_url) -> None:
    no_birth = {
        "id": "P-1",
        "first_name": "Testy",
        "last_name": "Patient",
        "sex": "F",
        "address": {"line1": "1 Test St", "city": "Springfield", "state": "IL", "postal_code": "62701"},
    }
    goods = [visit(i) for i in range(10, 20)]
    bads = [
        visit(1, patient=no_birth),  # REQUIRED_FIELD: fixed by a birth date
        visit(2, modifiers=[]),  # THERAPY_MODIFIER_MISSING: fixed by GP
        visit(3, procedure_code="9711"),  # PROCEDURE_CODE_FORMAT: corrected wrongly, fails again
        visit(4, company_id="rival-rehab", modifiers=[]),  # another company's failure
    ]
    await produce(kafka_bootstrap, prefix + CHARGES, [(c.account.encode(), encode(c)) for c in goods + bads])
    workers("formatter")
    workers("reprocess")
    topics = [prefix + CLAIMS, prefix + CHARGE_FAILURES, prefix + REPROCESS_RESULTS]
    bad_ids = {c.charge_id for c in bads}
    first = await consume_until(
        kafka_bootstrap, topics, lambda rs: {f.charge_id for f in failures_of(rs)} >= bad_ids, timeout=120
    )
    assert {f.charge_id for f in failures_of(first)} == bad_ids
    oldest = {f.charge_id: f.oldest_failure_date for f in failures_of(first)}

    fix = ask(
        "R-1",
        charge_ids=["CH-1", "CH-2", "CH-3", "CH-4", "CH-10"],
        corrections={
            "CH-1": {"patient.birth_date": "1950-02-01"},
            "CH-2": {"modifiers": ["GP"]},
            "CH-3": {"procedure_code": "9711X"},
        },
    )
    await produce(kafka_bootstrap, prefix + REPROCESS_REQUESTS, [(b"R-1", encode(fix))])

    def settled(rs: list[Record]) -> bool:
        claimed = {line.charge_id for c in claims_of(rs) for line in c.lines}
        again = [f for f in failures_of(rs) if f.charge_id == "CH-3" and f.charge_version == 2]
        return {"CH-1", "CH-2"} <= claimed and bool(again) and len(results_of(rs)) >= 1

    second = await consume_until(kafka_bootstrap, topics, settled, timeout=120)
    (result,) = results_of(second)
    assert sorted((r.charge_id, r.new_version) for r in result.replayed) == [
        ("CH-1", 2),
        ("CH-2", 2),
        ("CH-3", 2),
    ]
    assert {(s.charge_id, s.reason) for s in result.skipped} == {
        ("CH-4", f"not found in company {COMPANY}"),
        (
            "CH-10",
            "already claimed on claim "
            + next(c.claim_id for c in claims_of(second) for line in c.lines if line.charge_id == "CH-10")
            + "; a replay would duplicate it",
        ),
    }
    (again,) = [f for f in failures_of(second) if f.charge_id == "CH-3" and f.charge_version == 2]
    assert again.oldest_failure_date == oldest["CH-3"] and again.failure_count == 2

    # The same request again (a redelivery), and another company asking for our charge.
    await produce(
        kafka_bootstrap,
        prefix + REPROCESS_REQUESTS,
        [(b"R-1", encode(fix)), (b"R-9", encode(ask("R-9", "rival-rehab", charge_ids=["CH-1"])))],
    )
    final = await consume_until(
        kafka_bootstrap,
        [*topics, prefix + CHARGES],
        lambda rs: {r.request_id for r in results_of(rs)} >= {"R-9"} and len(results_of(rs)) >= 3,
        timeout=120,
        settle=5.0,
    )
    results = results_of(final)
    repeats = [r for r in results if r.request_id == "R-1"]
    assert len(repeats) == 2 and repeats[0] == repeats[1], "a redelivered request must answer the same"
    (rival,) = [r for r in results if r.request_id == "R-9"]
    assert not rival.replayed and [(s.charge_id, s.reason) for s in rival.skipped] == [
        ("CH-1", "not found in company rival-rehab")
    ]
    versions = Counter(
        (c.charge_id, c.version)
        for c in (Charge.model_validate_json(r.value or b"") for r in final if r.topic.endswith(CHARGES))
    )
    assert max(v for (_, v) in versions) == 2, "a redelivered request must not replay a new version"
    claim_of: dict[str, set[str]] = {}
    for c in claims_of(final):
        for line in c.lines:
            claim_of.setdefault(line.charge_id, set()).add(c.claim_id)
    assert all(len(ids) == 1 for ids in claim_of.values()), "a charge was claimed twice"
    assert {"CH-1", "CH-2"} <= set(claim_of) and "CH-3" not in claim_of

    with make_engine(db_url).connect() as conn:
        rows = {r.charge_id: r for r in conn.execute(select(tables.failures))}
        assert rows["CH-1"].status == "resolved" and rows["CH-2"].status == "resolved"
        assert rows["CH-3"].status == "open" and rows["CH-3"].failure_count == 2
        assert rows["CH-3"].oldest_failure_date == oldest["CH-3"]
        assert rows["CH-4"].status == "open"
