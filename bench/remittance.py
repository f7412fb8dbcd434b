"""The remittance worker's throughput: 835 claim payments per second, and the postings
they make, on a preloaded topic of 835 files, in its own process.

Bills are opened straight into the database beforehand (not timed). Each file is one ERA
of `PER_FILE` claim payments paid four ways (in full; partly with CO-45 and PR-2; all
deductible; denied), so a file makes about 1.5 postings per claim payment. Timed as every
worker: from the group's assignment to the last posting's CreateTime (bench/workers.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from typing import Any

from bench.common import BenchEnv
from bench.workers import _create_topics, _measure
from contracts.charge import ChargePayer, Patient, Provider
from contracts.claim import Claim, ClaimLine
from contracts.codec import encode
from contracts.remittance import RemittanceFile
from contracts.topics import DEAD_LETTER, POSTINGS, REMITTANCES
from devtools.sample.era835 import ClaimPayment, Remittance, build

PER_FILE = 100
CREATED = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)
PAYERS = [
    ChargePayer.model_validate({"payer_id": "AET", "name": "Aetna", "payer_type": "commercial"}),
    ChargePayer.model_validate({"payer_id": "PAT-1", "name": "Pat Doe", "payer_type": "patient"}),
]


def claim(i: int) -> Claim:
    total = Decimal(60 + (i * 7) % 140) + Decimal(i % 100) / 100
    return Claim(
        claim_id=f"RC-{i}",
        bill_id=f"RC-{i}",
        run_number=1,
        company_id="bench-co",
        patient=Patient(id=f"P-{i}", first_name="Pat", last_name="Doe"),
        payers=PAYERS,
        billing_provider=Provider(npi="1234567893", name="Clinic"),
        rendering_provider=Provider(npi="1234567893", name="Dr Who"),
        service_date=dt.date(2026, 10, 20),
        diagnoses=["M54.5"],
        lines=[
            ClaimLine(
                line_number=1,
                charge_id=f"CH-{i}",
                charge_version=1,
                procedure_code="97110",
                units=1,
                amount=total,
                diagnosis_pointers=[1],
                place_of_service="11",
            )
        ],
        total_amount=total,
        created_at=CREATED,
    )


def era_file(f: int) -> bytes:
    payments = []
    adj: tuple[tuple[str, str, str], ...]
    for i in range(f * PER_FILE, (f + 1) * PER_FILE):
        c = claim(i)
        total = c.total_amount
        kind = i % 4
        if kind == 0:
            payments.append(ClaimPayment(c.claim_id, "1", str(total), str(total)))
        elif kind == 1:
            paid = (total * Decimal("0.7")).quantize(Decimal("0.01"))
            co = (total * Decimal("0.2")).quantize(Decimal("0.01"))
            pr = total - paid - co
            adj = (("CO", "45", str(co)), ("PR", "2", str(pr)))
            payments.append(ClaimPayment(c.claim_id, "1", str(total), str(paid), str(pr), adjustments=adj))
        elif kind == 2:
            adj = (("PR", "1", str(total)),)
            payments.append(ClaimPayment(c.claim_id, "1", str(total), "0", str(total), adjustments=adj))
        else:
            adj = (("CO", "50", str(total)),)
            payments.append(ClaimPayment(c.claim_id, "4", str(total), "0", adjustments=adj))
    era = Remittance(trace=f"BENCH{f:06d}", claims=tuple(payments))
    text = build(era, control=f + 1)
    return encode(RemittanceFile(x12=text, file_name=f"bench-{f}.835", submitted_at=CREATED))


def seed(database_url: str, n: int) -> None:
    from claimflow.db import create_all, make_engine, unit_of_work
    from workers.posting import storage

    engine = make_engine(database_url)
    create_all(engine)
    try:
        for start in range(0, n, 500):
            with unit_of_work(engine) as conn:
                storage.open_bills_from_claims(conn, [claim(i) for i in range(start, min(start + 500, n))])
    finally:
        engine.dispose()


async def remittance(env: BenchEnv, claim_payments: int, database: str = "sqlite") -> dict[str, Any]:
    from bench.common import produce

    files = max(1, claim_payments // PER_FILE)
    n = files * PER_FILE
    prefix = env.prefix(f"era{database[:2]}")
    _create_topics(env, prefix)
    url = env.sqlite_url("remittance") if database == "sqlite" else env.postgres_url("remittance")
    await asyncio.to_thread(seed, url, n)
    await produce(
        env.bootstrap,
        prefix + REMITTANCES,
        ((f"AET:BENCH{f:06d}".encode(), era_file(f)) for f in range(files)),
    )
    result = await _measure(
        env,
        "remittance",
        prefix,
        url,
        REMITTANCES,
        [POSTINGS, DEAD_LETTER],
        files,
        f"remittance-{database}",
        3600,
    )
    seconds = result["seconds"]
    result.update(
        {
            "files": files,
            "messages": n,
            "msg_per_s": round(n / seconds, 1),
            "postings": result["outputs"],
            "postings_per_s": round(result["outputs"] / seconds, 1),
            "unit": "claim payments",
        }
    )
    return result
