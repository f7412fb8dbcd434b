"""835 remittances end to end, as in production: the formatter, posting, clearinghouse and
remittance workers as processes on the real broker and a real database (SQLite and
PostgreSQL).

Charges become claims, claims open bills and go out as 837P files that pyx12 accepts, an
835 built for those claims is imported with
the CLI's own function (twice), and the postings it becomes are applied. Every bill ends
where a hand calculation from the 835 puts it, and equals a replay of its ledger's
postings through the pure rules.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine

from claimflow.db import create_all, make_engine
from claimflow.settings import Settings
from contracts.charge import Charge
from contracts.claim import Claim
from contracts.codec import decode, encode
from contracts.posting import Posting
from contracts.topics import CHARGES, CLAIMS, POSTING_RESULTS, POSTINGS
from devtools.sample.era835 import build
from tests.factories import charge
from tests.pipeline import ROOT, Record, WorkerProcess, consume_until, produce, worker_env
from tests.unit.clearinghouse.validator import validate
from tests.x12.samples import paying_four_ways
from workers.clearinghouse import storage as x12_storage
from workers.posting import storage as posting_storage
from workers.posting.bill import Bill, open_bill
from workers.posting.rules import Applied, apply_posting
from workers.remittance import views
from workers.remittance.cli import publish_files

pytestmark = pytest.mark.integration

TODAY = dt.date.today()


def visit(i: int) -> Charge:
    """Charge i: patients 0..29, so the first 30 are one claim each and the rest join them."""
    return charge(
        charge_id=f"CH-{i}",
        patient={
            "id": f"P-{i % 30}",
            "first_name": "Testy",
            "last_name": "Patient",
            "birth_date": dt.date(1950, 3, 4),
            "sex": "F",
            "address": {"line1": "1 Test St", "city": "Springfield", "state": "IL", "postal_code": "62701"},
        },
        procedure_code=["97110", "97140", "97530"][i % 3],
        service_date=TODAY - dt.timedelta(days=2),
        units=1,
        amount=Decimal("45.00") + i,
    )


@pytest.fixture
def env(kafka_bootstrap: str, topic_prefix: str, db_url: str, tmp_path: Path) -> dict[str, str]:
    create_all(make_engine(db_url))
    return worker_env(kafka_bootstrap, topic_prefix, db_url, CLAIMFLOW_X12_OUTBOX=str(tmp_path / "outbox"))


@pytest.fixture
def workers(env: dict[str, str], topic_prefix: str, tmp_path: Path) -> Iterator[dict[str, WorkerProcess]]:
    started = {
        name: WorkerProcess(name, env, tmp_path / f"{name}.log").start()
        for name in ("formatter", "posting", "clearinghouse", "remittance")
    }
    yield started
    for w in started.values():
        w.stop(timeout=30)
    for name in started:
        shutil.rmtree(ROOT / f"{topic_prefix}claimflow-{name}-data", ignore_errors=True)
    for w in started.values():
        assert "Traceback" not in w.log_text(), w.log_text()[-3000:]


async def wait_for(engine: Engine, check: object, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if check(conn):  # type: ignore[operator]
                return
        await asyncio.sleep(0.5)
    raise AssertionError("timed out")


def received_twice(conn: Connection) -> bool:
    totals = views.era_totals(conn)
    return bool(totals) and totals[0].times_received == 2


def replayed(claim: Claim, postings: dict[str, Posting], engine: Engine) -> Bill:
    bill = open_bill(claim)
    with engine.connect() as conn:
        for line in posting_storage.load_ledger(conn, [claim.bill_id]):
            outcome = apply_posting(bill, postings[line.posting_id])
            assert isinstance(outcome, Applied)
            bill = outcome.bill
    return bill


async def test_charges_to_claims_to_835_to_bill_balances(
    kafka_bootstrap: str, topic_prefix: str, db_url: str, workers: dict[str, WorkerProcess], tmp_path: Path
) -> None:
    charges = [visit(i) for i in range(45)]
    await produce(kafka_bootstrap, topic_prefix + CHARGES, [(c.account.encode(), encode(c)) for c in charges])
    records = await consume_until(
        kafka_bootstrap, [topic_prefix + CLAIMS], lambda rs: len({r.key for r in rs}) >= 30, timeout=120
    )
    claims = list({c.claim_id: c for c in (decode(r.value, Claim) for r in records)}.values())
    assert len(claims) == 30
    engine = make_engine(db_url)
    ids = {c.bill_id for c in claims}
    await wait_for(engine, lambda conn: set(posting_storage.load_bills(conn, ids)) == ids)
    sent = {c.claim_id for c in claims}
    await wait_for(engine, lambda conn: set(x12_storage.sent_claims(conn, claim_ids=sent)) == sent)
    for interchange in sorted((tmp_path / "outbox").glob("*.x12")):
        verdict = validate(interchange.read_text())
        assert verdict.errors == [] and set(verdict.ack_codes) == {"A"}, interchange.name

    era, expected, posting_count = paying_four_ways(
        sorted(claims, key=lambda c: c.claim_id), "E2E0001", "medicare", "MEDICARE"
    )
    path = tmp_path / "medicare.835"
    path.write_text(build(era))
    settings = Settings().model_copy(
        update={"bootstrap_servers": kafka_bootstrap, "topic_prefix": topic_prefix, "database_url": db_url}
    )
    await publish_files([path], settings)
    await publish_files([path], settings)  # the same file twice: changes nothing the second time

    def answered(rs: list[Record]) -> bool:
        return len({decode_id(r) for r in rs if r.topic.endswith(POSTING_RESULTS)}) >= posting_count

    results = await consume_until(
        kafka_bootstrap,
        [topic_prefix + POSTINGS, topic_prefix + POSTING_RESULTS],
        answered,
        timeout=120,
        settle=2,
    )
    await wait_for(engine, received_twice)
    postings = {
        p.posting_id: p for p in (decode(r.value, Posting) for r in results if r.topic.endswith(POSTINGS))
    }
    assert len(postings) == posting_count

    with engine.connect() as conn:
        bills = posting_storage.load_bills(conn, ids)
        (totals,) = views.era_totals(conn)
        assert views.parked_claims(conn) == []
    for c in claims:
        bill = bills[c.bill_id]
        assert (bill.balance, bill.current_payer, bill.rejected) == expected[c.bill_id], c.bill_id
        assert bill == replayed(c, postings, engine)
    assert totals.times_received == 2
    assert totals.deposit == totals.posted == era.total
    assert totals.postings == {"applied": posting_count}


def decode_id(record: Record) -> str:
    assert record.value is not None
    import orjson

    return str(orjson.loads(record.value)["posting_id"])
