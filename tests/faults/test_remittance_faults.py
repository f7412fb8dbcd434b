"""The remittance worker under SIGKILL and a crash between commit and publish, and a
malformed 835 on the real broker.

Bills are opened by a posting worker from claims; 835 files paying them stream in while
the remittance worker is killed at seeded moments and restarted, and once crashes right
after a database commit, before its postings are published. Afterwards: every ERA is
recorded once and received once (a replay is not a second import), every claim payment
posted once, every posting published (copies byte-identical) and applied once, and every
bill ends where the 835s put it by hand. The same check as the other workers'.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import Callable

import orjson
import pytest
from sqlalchemy import func, select

from claimflow.db import create_all, make_engine
from contracts.codec import encode
from contracts.remittance import RemittanceFile
from contracts.topics import CLAIMS, DEAD_LETTER, POSTING_RESULTS, POSTINGS, REMITTANCES
from devtools.sample.era835 import build
from tests.faults.harness import Cluster, db_count, grows, read_topics, scale, timeout, wait_for
from tests.pipeline import Record, produce
from tests.unit.posting.builders import make_claim
from tests.x12.samples import DENIAL, paying_four_ways
from workers.posting import storage as posting_storage
from workers.posting import tables as pt
from workers.remittance import tables as rt

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.timeout(timeout())]

PAYERS = (("AET", "Aetna", "commercial"), ("PAT-1", "Pat Doe", "patient"))
NOW = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)


def posting_ids(records: list[Record], topic: str) -> list[str]:
    return [str(orjson.loads(r.value)["posting_id"]) for r in records if r.topic == topic and r.value]


async def test_remittance_sigkill_and_crash_after_commit_lose_and_double_nothing(
    kafka_bootstrap: str, topic_prefix: str, db_url: str, cluster: Callable[..., Cluster], seed: int
) -> None:
    rng = random.Random(seed + 40)
    files, per_file = (8, 30) if scale().name == "short" else (40, 60)
    create_all(make_engine(db_url))
    c = cluster(kafka_bootstrap, topic_prefix, db_url)
    claims = [
        make_claim(f"RB-{i}", claim_id=f"RB-{i}", payers=PAYERS, total=f"{60 + (i * 7) % 140}.{i % 100:02d}")
        for i in range(files * per_file)
    ]
    await produce(kafka_bootstrap, c.topic(CLAIMS), [(x.bill_id.encode(), encode(x)) for x in claims])
    c.start("posting")
    await wait_for(lambda: db_count(db_url, pt.opened_claims) >= len(claims), 120, "the bills to open")

    expected: dict[str, tuple[object, int, bool]] = {}
    posting_count = 0
    messages = []
    for f in range(files):
        chunk = claims[f * per_file : (f + 1) * per_file]
        era, planned, count = paying_four_ways(chunk, f"KILL{f:04d}", "AET", "AETNA")
        expected.update(planned)
        posting_count += count
        message = RemittanceFile(x12=build(era, control=f + 1), file_name=f"k{f}.835", submitted_at=NOW)
        messages.append((f"AET:KILL{f:04d}".encode(), encode(message)))
    # The files arrive in rounds. First a crash pinned between the first batch's commit and
    # its publish, then SIGKILLs at seeded moments after the worker has committed something.
    rounds = scale().kills + 2
    parts = [messages[k::rounds] for k in range(rounds)]
    await produce(kafka_bootstrap, c.topic(REMITTANCES), parts[0])
    crashing = c.start("remittance", CLAIMFLOW_FAULT_CRASH_AFTER_COMMIT="1")
    await wait_for(crashing.exited, 120, "the remittance worker to crash after its first commit")
    for part in parts[1:-1]:
        seen = db_count(db_url, rt.era_claim_payments)
        await produce(kafka_bootstrap, c.topic(REMITTANCES), part)
        worker = c.start("remittance")
        await grows(db_url, rt.era_claim_payments, seen, timeout=90)
        await asyncio.sleep(rng.uniform(0.0, 0.5))
        c.kill(worker)
    await produce(kafka_bootstrap, c.topic(REMITTANCES), parts[-1])
    c.start("remittance")

    await wait_for(
        lambda: db_count(db_url, pt.posting_answers) >= posting_count, 240, "every ERA posting to be answered"
    )
    records = await read_topics(
        kafka_bootstrap,
        [c.topic(POSTINGS), c.topic(POSTING_RESULTS)],
        lambda rs: len(set(posting_ids(rs, c.topic(POSTING_RESULTS)))) >= posting_count,
        timeout=120,
        settle=2,
    )
    published = posting_ids(records, c.topic(POSTINGS))
    assert len(set(published)) == posting_count
    by_id: dict[str, bytes] = {}
    for r in records:
        if r.topic == c.topic(POSTINGS) and r.value:
            pid = str(orjson.loads(r.value)["posting_id"])
            assert by_id.setdefault(pid, r.value) == r.value, f"{pid} published twice, differently"

    engine = make_engine(db_url)
    with engine.connect() as conn:
        eras = conn.execute(select(rt.eras.c.era_key, rt.eras.c.times_received)).all()
        assert len(eras) == files and all(times == 1 for _key, times in eras)
        outcomes: dict[str, int] = dict(
            conn.execute(
                select(rt.era_claim_payments.c.outcome, func.count()).group_by(
                    rt.era_claim_payments.c.outcome
                )
            ).all()
        )
        assert outcomes == {"posted": files * per_file}
        ledger_ids = [line.posting_id for line in posting_storage.load_ledger(conn)]
        assert len(ledger_ids) == len(set(ledger_ids)) == posting_count
        bills = posting_storage.load_bills(conn, expected)
    for bill_id, (balance, payer, rejected) in expected.items():
        bill = bills[bill_id]
        assert (bill.balance, bill.current_payer, bill.rejected) == (balance, payer, rejected), bill_id
    assert "Traceback" not in c.logs()


async def test_malformed_835_is_dead_lettered_with_its_reason_and_the_worker_goes_on(
    kafka_bootstrap: str, topic_prefix: str, db_url: str, cluster: Callable[..., Cluster]
) -> None:
    create_all(make_engine(db_url))
    c = cluster(kafka_bootstrap, topic_prefix, db_url)
    claim = make_claim("RB-OK", claim_id="RB-OK", payers=PAYERS)
    await produce(kafka_bootstrap, c.topic(CLAIMS), [(b"RB-OK", encode(claim))])
    c.start("posting")
    c.start("remittance")
    bad_code = build(DENIAL).replace("CLP*CLM-D*4", "CLP*CLM-D*99")
    good = build(DENIAL).replace("CLM-D", "RB-OK").replace("EFT0002", "EFT0099")
    files = [("bad-code.835", bad_code), ("not-x12.835", "hello, not an 835"), ("good.835", good)]
    await produce(
        kafka_bootstrap,
        c.topic(REMITTANCES),
        [
            (name.encode(), encode(RemittanceFile(x12=text, file_name=name, submitted_at=NOW)))
            for name, text in files
        ]
        + [(b"junk", b"{not json")],
    )
    records = await read_topics(
        kafka_bootstrap,
        [c.topic(DEAD_LETTER), c.topic(POSTING_RESULTS)],
        lambda rs: (
            sum(r.topic == c.topic(DEAD_LETTER) for r in rs) >= 3
            and any(r.topic == c.topic(POSTING_RESULTS) for r in rs)
        ),
        timeout=120,
    )
    dead = {r.key: dict(r.headers) for r in records if r.topic == c.topic(DEAD_LETTER)}
    assert b"Claim Status Code (CLP02)" in dead[b"bad-code.835"]["x-error"]
    assert dead[b"bad-code.835"]["x-error_kind"] == b"invalid"
    assert b"does not begin with an ISA segment" in dead[b"not-x12.835"]["x-error"]
    assert dead[b"junk"]["x-error_kind"] == b"not_json"
    await wait_for(lambda: db_count(db_url, pt.posting_answers) >= 1, 60, "the good file's posting")
    with make_engine(db_url).connect() as conn:
        assert posting_storage.load_bills(conn, ["RB-OK"])["RB-OK"].rejected
