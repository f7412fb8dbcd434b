"""The formatter as it runs in production: its own process, the real broker, a real database."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from sqlalchemy import func, select

from claimflow.broker import create_topics
from claimflow.db import create_all, make_engine
from contracts import Charge, ChargeFailed, Claim, DeadLetter
from contracts.codec import encode
from contracts.topics import CHARGE_FAILURES, CHARGES, CLAIMS, DEAD_LETTER
from tests.factories import charge
from tests.pipeline import WorkerProcess, consume_until, produce, worker_env
from workers.formatter import tables

pytestmark = pytest.mark.integration

TODAY = dt.date.today()


def good(i: int, **overrides: object) -> Charge:
    """Charge i: patients 0..39, three codes per visit, so visits group into claims."""
    patient = {
        "id": f"P-{i % 40}",
        "first_name": "Testy",
        "last_name": "Patient",
        "birth_date": dt.date(1950, 3, 4),
        "sex": "F",
        "address": {"line1": "1 Test St", "city": "Springfield", "state": "IL", "postal_code": "62701"},
    }
    code = ["97110", "97140", "97530"][i % 3]
    data = {
        "charge_id": f"CH-{i}",
        "patient": patient,
        "procedure_code": code,
        "service_date": TODAY - dt.timedelta(days=1 + (i // 120)),
        "units": 1,
        "amount": Decimal("45.00"),
        "modifiers": ["GP"],
    }
    data.update(overrides)
    return charge(**data)


@pytest.fixture
def prefix(kafka_bootstrap: str) -> str:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    create_topics(kafka_bootstrap, prefix)
    return prefix


@pytest.fixture
def formatter(kafka_bootstrap: str, prefix: str, db_url: str, tmp_path: Path):
    create_all(make_engine(db_url))
    env = worker_env(kafka_bootstrap, prefix, db_url, CLAIMFLOW_RUN_MAX_CHARGES="100")
    workers: list[WorkerProcess] = []

    def start() -> WorkerProcess:
        w = WorkerProcess("formatter", env, tmp_path / f"formatter-{len(workers)}.log").start()
        workers.append(w)
        return w

    yield start
    for w in workers:
        w.stop(timeout=30)


def outcomes(records) -> tuple[list[Claim], list[ChargeFailed], list[DeadLetter]]:
    claims, failures, dead = [], [], []
    for r in records:
        if r.topic.endswith(CLAIMS):
            claims.append(Claim.model_validate_json(r.value))
        elif r.topic.endswith(CHARGE_FAILURES):
            kind = orjson.loads(r.value)["type"]
            if kind == "ChargeFailed":
                failures.append(ChargeFailed.model_validate_json(r.value))
        elif r.topic.endswith(DEAD_LETTER):
            dead.append(DeadLetter.from_headers(r.headers))
    return claims, failures, dead


def answered(records) -> set[str]:
    claims, failures, _ = outcomes(records)
    return {line.charge_id for c in claims for line in c.lines} | {f.charge_id for f in failures}


async def test_mixed_batch_gives_one_outcome_each(kafka_bootstrap, prefix, formatter, db_url) -> None:
    goods = [good(i) for i in range(60)]
    bads = [
        good(100, procedure_code="9711"),  # PROCEDURE_CODE_FORMAT
        good(101, amount=Decimal("0.00"), units=9),  # AMOUNT_NOT_POSITIVE + units
        good(102, rendering_provider={"npi": "1234567890"}),  # NPI_CHECK_DIGIT
    ]
    garbage = [b"not json", b'{"type":"Charge","schema_version":1}', b'{"type":"Nope"}']
    await produce(
        kafka_bootstrap,
        prefix + CHARGES,
        [(c.account.encode(), encode(c)) for c in goods + bads] + [(b"x", g) for g in garbage],
    )
    formatter()
    expected = {c.charge_id for c in goods + bads}
    records = await consume_until(
        kafka_bootstrap,
        [prefix + CLAIMS, prefix + CHARGE_FAILURES, prefix + DEAD_LETTER],
        lambda rs: answered(rs) >= expected and len(outcomes(rs)[2]) >= 3,
        settle=2.0,
    )
    claims, failures, dead = outcomes(records)
    lines = Counter(line.charge_id for c in claims for line in c.lines)
    assert set(lines) == {c.charge_id for c in goods}
    assert max(lines.values()) == 1, "a charge appeared on two claims"
    assert {f.charge_id for f in failures} == {c.charge_id for c in bads}
    by_id = {f.charge_id: f for f in failures}
    assert {r.code for r in by_id["CH-101"].reasons} >= {"AMOUNT_NOT_POSITIVE", "UNITS_INVALID"}
    assert "NPI_CHECK_DIGIT" in {r.code for r in by_id["CH-102"].reasons}
    # Same patient, provider, payer and date: one claim with several lines.
    assert any(len(c.lines) > 1 for c in claims)
    assert all(c.run_number >= 1 for c in claims) and all(f.run_number >= 1 for f in failures)
    assert sorted(d.error_kind for d in dead) == ["invalid", "not_json", "unknown_type"]
    assert all(d.source_topic == prefix + CHARGES for d in dead)

    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(tables.failures)).scalar() == 3
        runs = conn.execute(select(tables.runs.c.run_number)).scalars().all()
        assert runs == sorted(runs) and len(runs) >= 1


async def test_redelivered_charge_version_gives_no_second_claim(kafka_bootstrap, prefix, formatter) -> None:
    c = good(1)
    await produce(kafka_bootstrap, prefix + CHARGES, [(c.account.encode(), encode(c))] * 3)
    formatter()
    records = await consume_until(kafka_bootstrap, [prefix + CLAIMS], lambda rs: len(rs) >= 1, settle=5.0)
    claim_ids = {Claim.model_validate_json(r.value or b"").claim_id for r in records}
    assert len(claim_ids) == 1


async def test_killing_the_formatter_mid_stream_loses_and_doubles_nothing(
    kafka_bootstrap, prefix, formatter
) -> None:
    charges = [good(i) for i in range(1500)] + [good(5000 + i, procedure_code="BAD1") for i in range(100)]
    await produce(kafka_bootstrap, prefix + CHARGES, [(c.account.encode(), encode(c)) for c in charges])
    first = formatter()
    await consume_until(kafka_bootstrap, [prefix + CLAIMS], lambda rs: len(rs) >= 20, timeout=120)
    first.kill()
    formatter()
    expected = {c.charge_id for c in charges}
    records = await consume_until(
        kafka_bootstrap,
        [prefix + CLAIMS, prefix + CHARGE_FAILURES],
        lambda rs: answered(rs) >= expected,
        timeout=180,
        settle=3.0,
    )
    claims, failures, _ = outcomes(records)
    assert answered(records) == expected
    # Re-published answers carry the same ids: one claim id per charge, ever.
    claim_of: dict[str, set[str]] = {}
    for c in claims:
        for line in c.lines:
            claim_of.setdefault(line.charge_id, set()).add(c.claim_id)
    assert all(len(ids) == 1 for ids in claim_of.values()), "a charge was claimed twice"
    assert not set(claim_of) & {f.charge_id for f in failures}


def test_worker_json_logs_are_one_object_per_line_at_their_own_level(
    kafka_bootstrap: str, prefix: str, sqlite_url: str, tmp_path: Path
) -> None:
    # faust's worker used to re-log our stdout as WARNING lines with its own prefix,
    # which broke JSON logs for whatever ships them.
    create_all(make_engine(sqlite_url))
    env = worker_env(kafka_bootstrap, prefix, sqlite_url, CLAIMFLOW_LOG_FORMAT="json")
    worker = WorkerProcess("formatter", env, tmp_path / "formatter-json.log").start()
    try:
        deadline = time.monotonic() + 90
        while "partitions_assigned" not in worker.log_text():
            assert time.monotonic() < deadline, worker.log_text()[-2000:]
            assert not worker.exited(), worker.log_text()[-2000:]
            time.sleep(0.2)
    finally:
        worker.stop(timeout=30)
    line = next(x for x in worker.log_text().splitlines() if "partitions_assigned" in x)
    event = orjson.loads(line)
    assert (event["event"], event["level"]) == ("partitions_assigned", "info")
