"""The posting worker as it runs in production: its own process, the real broker, a real
database (SQLite and PostgreSQL). Claims open bills; postings are applied in order per bill
and each is answered on posting-results; the final bills equal a replay through the pure
rules."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import orjson
import pytest
from sqlalchemy import Engine

from claimflow.db import create_all, make_engine
from contracts import DeadLetter
from contracts.claim import Claim
from contracts.codec import decode, encode
from contracts.posting import Posting, PostingApplied, PostingRejected
from contracts.topics import CLAIMS, DEAD_LETTER, POSTING_RESULTS, POSTINGS
from devtools.sample import BillSummary, generate_posting_samples
from tests.pipeline import ROOT, Record, WorkerProcess, consume_until, produce, worker_env
from tests.unit.posting.builders import make_claim
from workers.posting import storage
from workers.posting.bill import Bill, open_bill
from workers.posting.rules import Applied, Rejected, apply_posting

pytestmark = pytest.mark.integration

Answer = PostingApplied | PostingRejected
POSTED_AT = dt.datetime(2024, 3, 4, 9, 0, tzinfo=dt.UTC)
PAYER_SETS = (
    (("MCR", "Medicare", "medicare"),),
    (("MCR", "Medicare", "medicare"), ("PAT-1", "Pat Doe", "patient")),
    (("AET", "Aetna", "commercial"), ("BCB", "Blue Cross", "commercial"), ("PAT-1", "Pat Doe", "patient")),
)


@pytest.fixture
def env(kafka_bootstrap: str, topic_prefix: str, db_url: str) -> dict[str, str]:
    create_all(make_engine(db_url))
    return worker_env(kafka_bootstrap, topic_prefix, db_url)


@pytest.fixture
def worker(env: dict[str, str], topic_prefix: str, tmp_path: Path) -> Iterator[WorkerProcess]:
    w = WorkerProcess("posting", env, tmp_path / "posting.log").start()
    yield w
    assert w.stop(timeout=30) is not None
    # faust makes an (empty) data directory named after the app in the worker's cwd.
    shutil.rmtree(ROOT / f"{topic_prefix}claimflow-posting-data", ignore_errors=True)
    assert "Traceback" not in w.log_text(), w.log_text()[-3000:]


def claim(i: int, **overrides: Any) -> Claim:
    total = f"{40 + (i * 37) % 260}.{i % 100:02d}"
    return make_claim(f"BILL-{i}", payers=PAYER_SETS[i % 3], total=total, **overrides)


async def wait_for_bills(engine: Engine, ids: set[str], timeout: float = 60.0) -> dict[str, Bill]:
    deadline = time.monotonic() + timeout
    while True:
        with engine.connect() as conn:
            found = storage.load_bills(conn, ids)
        if set(found) == ids or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.3)


def answer_of(record: Record) -> Answer:
    assert record.value is not None
    return cast(Answer, decode(record.value, PostingApplied, PostingRejected))


def posting_results(records: list[Record]) -> list[Record]:
    return [r for r in records if r.topic.endswith(POSTING_RESULTS)]


def answered_ids(records: list[Record]) -> set[str]:
    return {answer_of(r).posting_id for r in posting_results(records)}


def first_seen(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def replay(
    claims: list[Claim], postings: list[Posting]
) -> tuple[dict[str, Bill], dict[str, Applied | Rejected]]:
    """The oracle: every bill's postings through the pure rules, a posting_id once."""
    bills = {c.bill_id: open_bill(c) for c in claims}
    outcomes: dict[str, Applied | Rejected] = {}
    for p in postings:
        if p.posting_id in outcomes:
            continue
        outcome = apply_posting(bills[p.bill_id], p)
        outcomes[p.posting_id] = outcome
        if isinstance(outcome, Applied):
            bills[p.bill_id] = outcome.bill
    return bills, outcomes


def extra_postings(bill_id: str) -> list[Posting]:
    """A tail every bill can take whatever came before (unless killed): fee, hold, payment."""
    steps = [("AR", Decimal("2.50")), ("HA", None), ("P", Decimal("1.00")), ("TH", None)]
    return [
        Posting(posting_id=f"X-{bill_id}-{k}", bill_id=bill_id, code=code, amount=amount, posted_at=POSTED_AT)
        for k, (code, amount) in enumerate(steps)
    ]


def interleave(rng: random.Random, streams: list[list[Posting]]) -> list[Posting]:
    """Merge the bills' streams at random, each bill's own order kept (as on its partition)."""
    queues = [list(reversed(s)) for s in streams if s]
    out: list[Posting] = []
    while queues:
        i = rng.randrange(len(queues))
        out.append(queues[i].pop())
        if not queues[i]:
            queues.pop(i)
    return out


async def test_claims_open_bills_and_postings_land_in_order(
    kafka_bootstrap: str, topic_prefix: str, db_url: str, worker: WorkerProcess
) -> None:
    claims = [claim(i) for i in range(50)]
    # Every claim twice (Kafka delivers at least once): each bill opens once.
    await produce(
        kafka_bootstrap, topic_prefix + CLAIMS, [(c.claim_id.encode(), encode(c)) for c in claims * 2]
    )
    engine = make_engine(db_url)
    opened = await wait_for_bills(engine, {c.bill_id for c in claims})
    assert opened == {c.bill_id: open_bill(c) for c in claims}

    summaries = [
        BillSummary(c.bill_id, c.total_amount, len(c.payers), [p.name for p in c.payers]) for c in claims
    ]
    samples = generate_posting_samples(summaries, seed=11, unposted_share=0.0, redelivery_share=0.1)
    per_bill: dict[str, list[Posting]] = {c.bill_id: [] for c in claims}
    for s in samples:
        per_bill[s.posting.bill_id].append(s.posting)
    rng = random.Random(5)
    for bill_id, stream in per_bill.items():
        stream.extend(extra_postings(bill_id))
    postings = interleave(rng, list(per_bill.values()))
    assert len(postings) >= 300
    await produce(
        kafka_bootstrap, topic_prefix + POSTINGS, [(p.bill_id.encode(), encode(p)) for p in postings]
    )

    expected_ids = {p.posting_id for p in postings}
    records = await consume_until(
        kafka_bootstrap,
        [topic_prefix + POSTING_RESULTS],
        lambda rs: answered_ids(rs) >= expected_ids,
        timeout=90,
        settle=1.0,
    )
    assert answered_ids(records) == expected_ids
    bills, outcomes = replay(claims, postings)
    with engine.connect() as conn:
        assert storage.load_bills(conn, bills) == bills
        ledger = storage.load_ledger(conn)
    applied = [pid for pid, o in outcomes.items() if isinstance(o, Applied)]
    assert sorted(line.posting_id for line in ledger) == sorted(applied), (
        "one ledger line per applied posting"
    )

    answers_by_bill: dict[str, list[str]] = {}
    for r in posting_results(records):
        a = answer_of(r)
        assert r.key == a.bill_id.encode()
        answers_by_bill.setdefault(a.bill_id, []).append(a.posting_id)
        outcome = outcomes[a.posting_id]
        if isinstance(outcome, Applied):
            assert isinstance(a, PostingApplied), a
        else:
            assert isinstance(a, PostingRejected) and a.reason_code == outcome.reason_code, a
    for bill_id, stream in per_bill.items():
        assert first_seen(answers_by_bill[bill_id]) == first_seen([p.posting_id for p in stream])
        lines = [line.posting_id for line in ledger if line.bill_id == bill_id]
        assert lines == [pid for pid in first_seen([p.posting_id for p in stream]) if pid in applied]
    # The samples say what the spec makes of their own postings; the worker agrees.
    for s in samples:
        assert isinstance(outcomes[s.posting.posting_id], Applied) == (s.expected == "applied"), s.scenario
    assert any(isinstance(o, Rejected) for o in outcomes.values())


async def test_duplicates_rejections_garbage_and_missing_bills(
    kafka_bootstrap: str, topic_prefix: str, db_url: str, env: dict[str, str], worker: WorkerProcess
) -> None:
    await produce(kafka_bootstrap, topic_prefix + CLAIMS, [(b"CL-BILL-1", encode(claim(1)))])
    engine = make_engine(db_url)
    assert set(await wait_for_bills(engine, {"BILL-1"})) == {"BILL-1"}
    billed = claim(1).total_amount

    def p(posting_id: str, code: str, amount: str | None, bill_id: str = "BILL-1") -> Posting:
        value = None if amount is None else Decimal(amount)
        return Posting(posting_id=posting_id, bill_id=bill_id, code=code, amount=value, posted_at=POSTED_AT)

    pay = p("PO-PAY", "PK", "40.00")
    postings = [pay, pay, p("PO-REFUND", "F", "500.00"), pay, p("PO-LOST", "PK", "10.00", "BILL-404")]
    garbage = [b"not json", b'{"type":"Posting","schema_version":1}', b'{"type":"Nope"}']
    await produce(
        kafka_bootstrap,
        topic_prefix + POSTINGS,
        [(x.bill_id.encode(), encode(x)) for x in postings] + [(b"BILL-1", g) for g in garbage],
    )
    await produce(kafka_bootstrap, topic_prefix + CLAIMS, [(b"CL-X", b'{"type":"Claim","schema_version":1}')])

    def done(rs: list[Record]) -> bool:
        return len(posting_results(rs)) >= 5 and sum(r.topic.endswith(DEAD_LETTER) for r in rs) >= 4

    records = await consume_until(
        kafka_bootstrap, [topic_prefix + POSTING_RESULTS, topic_prefix + DEAD_LETTER], done, settle=2.0
    )
    results = posting_results(records)
    by_id: dict[str, list[bytes]] = {}
    for r in results:
        by_id.setdefault(answer_of(r).posting_id, []).append(cast(bytes, r.value))
    assert len(by_id["PO-PAY"]) == 3 and len(set(by_id["PO-PAY"])) == 1, "duplicates answer the same bytes"
    applied = decode(by_id["PO-PAY"][0], PostingApplied)
    assert isinstance(applied, PostingApplied) and applied.bill.balance == billed - Decimal("40.00")
    refund = decode(by_id["PO-REFUND"][0], PostingRejected)
    assert refund.reason_code == "REFUND_EXCEEDS_CASH" and "40.00" in refund.reason
    lost = decode(by_id["PO-LOST"][0], PostingRejected)
    assert lost.reason_code == "BILL_NOT_FOUND" and "BILL-404" in lost.reason
    dead = [DeadLetter.from_headers(r.headers) for r in records if r.topic.endswith(DEAD_LETTER)]
    assert sorted(d.error_kind for d in dead) == ["invalid", "invalid", "not_json", "unknown_type"]
    assert {d.source_topic for d in dead} == {topic_prefix + POSTINGS, topic_prefix + CLAIMS}
    with engine.connect() as conn:
        assert [line.posting_id for line in storage.load_ledger(conn)] == ["PO-PAY"]
        assert storage.load_bills(conn, ["BILL-1"])["BILL-1"].balance == billed - Decimal("40.00")

    # The README's "post a payment and read the bill back", through the real CLI.
    posted = cli(env, "post", "BILL-1", "PC", "10.00", "--wait", "--json")
    answer = decode(posted.stdout.encode(), PostingApplied)
    assert answer.code == "PC" and answer.bill.balance == billed - Decimal("50.00")
    shown = orjson.loads(cli(env, "show", "BILL-1", "--json").stdout)
    assert shown["bill"]["balance"] == f"{billed - Decimal('50.00'):.2f}"
    assert [line["code"] for line in shown["ledger"]] == ["PK", "PC"]
    rejected = cli(env, "post", "BILL-1", "AR", "-5.00", "--wait", check=False)
    assert rejected.returncode == 1 and "LATE_FEE_NEGATIVE" in rejected.stdout


def cli(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "claimflow", "bills", *args],
        cwd=ROOT,
        env={**os.environ, **env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done
