"""The clearinghouse worker as it runs in production: its own process, the real broker, a
real database (SQLite and PostgreSQL). Claims become 837P files in the outbox that pyx12
accepts; each claim is in exactly one interchange however often it is delivered."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from claimflow.db import create_all, make_engine
from contracts.codec import encode
from contracts.topics import CLAIMS
from tests.pipeline import ROOT, WorkerProcess, produce, worker_env
from tests.unit.clearinghouse.claims import claim, dependent_replacement
from tests.unit.clearinghouse.validator import validate
from workers.clearinghouse import storage
from workers.clearinghouse.tables import x12_claims
from workers.clearinghouse.x12_ack_files import ElementError, ack_999
from workers.posting import storage as posting_storage
from workers.posting.bill import Bill

pytestmark = pytest.mark.integration


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    return tmp_path / "outbox"


@pytest.fixture
def worker(
    kafka_bootstrap: str, topic_prefix: str, db_url: str, outbox: Path, tmp_path: Path
) -> Iterator[WorkerProcess]:
    create_all(make_engine(db_url))
    env = worker_env(kafka_bootstrap, topic_prefix, db_url, CLAIMFLOW_X12_OUTBOX=str(outbox))
    w = WorkerProcess("clearinghouse", env, tmp_path / "clearinghouse.log").start()
    yield w
    assert w.stop(timeout=30) is not None
    shutil.rmtree(ROOT / f"{topic_prefix}claimflow-clearinghouse-data", ignore_errors=True)
    assert "Traceback" not in w.log_text(), w.log_text()[-3000:]


async def wait_for_rows(engine: Engine, count: int, timeout: float = 90.0) -> int:
    deadline = time.monotonic() + timeout
    while True:
        with engine.connect() as conn:
            found = conn.scalar(select(func.count()).select_from(x12_claims)) or 0
        if found >= count or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.3)


async def test_claims_become_valid_837p_files_once_each(
    kafka_bootstrap: str, topic_prefix: str, db_url: str, outbox: Path, worker: WorkerProcess
) -> None:
    claims = [claim(claim_id=f"CLM-9-{i}", bill_id=f"CLM-9-{i}") for i in range(1, 31)]
    claims.append(dependent_replacement())
    # Every claim twice (Kafka delivers at least once): each is in one interchange.
    await produce(
        kafka_bootstrap, topic_prefix + CLAIMS, [(c.claim_id.encode(), encode(c)) for c in claims * 2]
    )
    engine = make_engine(db_url)
    assert await wait_for_rows(engine, len(claims)) == len(claims)
    await asyncio.sleep(2)  # let any duplicate batch arrive

    files = sorted(p for p in outbox.iterdir() if not p.name.startswith("."))
    assert files
    claim_ids: list[str] = []
    for path in files:
        text = path.read_text()
        verdict = validate(text)
        assert verdict.errors == [] and set(verdict.ack_codes) == {"A"}, path.name
        claim_ids += [seg.split("*")[1] for seg in text.split("~\n") if seg.startswith("CLM*")]
    assert sorted(claim_ids) == sorted(c.claim_id for c in claims)
    with engine.connect() as conn:
        statuses = set(conn.scalars(select(x12_claims.c.status)))
    assert statuses == {"sent"}


async def test_a_rejecting_999_in_the_inbox_leaves_the_bill_rejected(
    kafka_bootstrap: str, topic_prefix: str, db_url: str, tmp_path: Path
) -> None:
    create_all(make_engine(db_url))
    outbox, inbox = tmp_path / "outbox", tmp_path / "inbox"
    env = worker_env(
        kafka_bootstrap,
        topic_prefix,
        db_url,
        CLAIMFLOW_X12_OUTBOX=str(outbox),
        CLAIMFLOW_X12_INBOX=str(inbox),
    )
    workers = [
        WorkerProcess(name, env, tmp_path / f"{name}.log").start() for name in ("clearinghouse", "posting")
    ]
    try:
        claims = [claim(claim_id=f"CLM-8-{i}", bill_id=f"CLM-8-{i}") for i in range(1, 4)]
        await produce(
            kafka_bootstrap, topic_prefix + CLAIMS, [(c.claim_id.encode(), encode(c)) for c in claims]
        )
        engine = make_engine(db_url)
        assert await wait_for_rows(engine, 3) == 3
        with engine.connect() as conn:
            st02 = conn.scalar(
                select(x12_claims.c.transaction_number).where(x12_claims.c.claim_id == "CLM-8-2")
            )
            assert st02 is not None
        [path] = [p for p in outbox.iterdir() if not p.name.startswith(".")]
        ack = ack_999(path.read_text(), 900, dt.datetime.now(dt.UTC), {st02: ElementError("NM1", 12, 9, "7")})
        inbox.mkdir(parents=True, exist_ok=True)
        storage.write_atomically(inbox, "999_000000900.x12", ack)

        deadline = time.monotonic() + 90
        bills: dict[str, Bill] = {}
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                bills = posting_storage.load_bills(conn, {c.bill_id for c in claims})
            if len(bills) == 3 and bills["CLM-8-2"].rejected:
                break
            await asyncio.sleep(0.5)
        assert bills["CLM-8-2"].rejected
        assert not bills["CLM-8-1"].rejected and not bills["CLM-8-3"].rejected
        with engine.connect() as conn:
            statuses = dict(conn.execute(select(x12_claims.c.claim_id, x12_claims.c.status)).all())
        assert statuses == {"CLM-8-1": "accepted", "CLM-8-2": "rejected", "CLM-8-3": "accepted"}
        assert (inbox / "done" / "999_000000900.x12").exists()
    finally:
        for w in workers:
            assert w.stop(timeout=30) is not None
            shutil.rmtree(ROOT / f"{topic_prefix}claimflow-{w.name}-data", ignore_errors=True)
            assert "Traceback" not in w.log_text(), w.log_text()[-3000:]
