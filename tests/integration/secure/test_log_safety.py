"""No patient data, token or password in any log line.

The sample pipeline runs as in production, over the secured broker and PostgreSQL with TLS
and a password: the formatter, posting and reprocess workers and the report service, each
in its own process, secrets given as *_FILE settings. A biller's token is used the right
way, sent in a query string (refused) and a password is sent as Basic auth (refused); a
reprocess request carries a corrected birth date. Every line every process wrote is then
searched for every patient name, birth date, member id and address, the token and the
passwords.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import orjson
import psycopg
import pytest
from sqlalchemy import text

from claimflow.broker.security import client_kwargs
from claimflow.db import create_all, make_engine, unit_of_work
from contracts import Charge
from contracts.codec import encode
from contracts.topics import CHARGE_FAILURES, CHARGES, CLAIMS, POSTING_RESULTS, POSTINGS, REPROCESS_RESULTS
from devtools.sample import BillSummary, generate_charges, generate_postings
from devtools.testing.kafka import SecureTestBroker
from devtools.testing.ports import free_port
from tests.integration.secure.conftest import TlsPostgres
from tests.pipeline import ROOT, Record, WorkerProcess, consume_until, produce
from workers.report import accounts

pytestmark = pytest.mark.integration

N = 60
SEED = 4242
SIGN_IN_PASSWORD = "log-safety-sign-in-password"
BASIC_PASSWORD = "Hunter2-basic-auth-password"
CORRECTED_BIRTH_DATE = "1951-07-19"


@pytest.fixture
def database(tls_postgres: TlsPostgres) -> Iterator[str]:
    name = f"logs_{uuid.uuid4().hex[:12]}"
    admin = tls_postgres.url(database="postgres").replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield tls_postgres.url(database=name)
    with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def forbidden(charges: list[Charge], secrets: list[str]) -> list[re.Pattern[str]]:
    """What must never be in a log: each patient's name, birth date (as ISO and as a US
    date), address line and member ids, and the secrets. Last names are matched as whole
    words: they are made-up words no log message uses."""
    words: set[str] = set(secrets)
    names: set[str] = set()
    for c in charges:
        p = c.patient
        words.add(f"{p.first_name} {p.last_name}")
        names.add(p.last_name)
        if p.birth_date is not None:
            words |= {p.birth_date.isoformat(), p.birth_date.strftime("%m/%d/%Y")}
        if p.address is not None and p.address.line1:
            words.add(p.address.line1)
        words |= {payer.member_id for payer in c.payers if payer.member_id and len(payer.member_id) >= 5}
    words.discard("")
    return [re.compile(re.escape(w)) for w in sorted(words)] + [
        re.compile(rf"\b{re.escape(n)}\b") for n in sorted(names) if n
    ]


def answered(records: list[Record]) -> set[str]:
    out: set[str] = set()
    for r in records:
        body = orjson.loads(r.value or b"{}")
        if r.topic.endswith(CLAIMS):
            out |= {line["charge_id"] for line in body.get("lines", [])}
        elif body.get("type") == "ChargeFailed":
            out.add(body["charge_id"])
    return out


def failed_ids(records: list[Record]) -> list[str]:
    return sorted(
        {
            body["charge_id"]
            for r in records
            if r.topic.endswith(CHARGE_FAILURES)
            for body in [orjson.loads(r.value or b"{}")]
            if body.get("type") == "ChargeFailed"
        }
    )


def bills(url: str) -> list[BillSummary]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT b.bill_id, b.billed_amount, COUNT(DISTINCT p.sequence) FROM bills b "
                    "JOIN bill_payers p ON p.bill_id = b.bill_id GROUP BY b.bill_id, b.billed_amount"
                )
            ).all()
    finally:
        engine.dispose()
    return [BillSummary(r[0], Decimal(str(r[1])).quantize(Decimal("0.01")), int(r[2]), []) for r in rows]


def wait_for(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer within {timeout:.0f}s")
        time.sleep(0.3)


async def test_no_patient_data_token_or_password_in_any_log_line(
    secure_broker: SecureTestBroker,
    secure_prefix: str,
    tls_postgres: TlsPostgres,
    database: str,
    tmp_path: Path,
) -> None:
    engine = make_engine(database)
    create_all(engine)
    with unit_of_work(engine) as conn:
        token = accounts.create_user(
            conn, "biller-1", ["acme-therapy", "bayside-rehab", "pinecrest-physio"], dt.datetime.now(dt.UTC)
        )
        accounts.set_password(conn, "biller-1", SIGN_IN_PASSWORD)
    engine.dispose()

    (tmp_path / "sasl").write_text(secure_broker.password + "\n")
    (tmp_path / "db").write_text(database + "\n")
    env = {
        **secure_broker.env(password_file=tmp_path / "sasl"),
        "CLAIMFLOW_TOPIC_PREFIX": secure_prefix,
        "CLAIMFLOW_DATABASE_URL_FILE": str(tmp_path / "db"),
        "CLAIMFLOW_LOG_LEVEL": "INFO",
        "CLAIMFLOW_RUN_MAX_CHARGES": "50",
    }
    os_env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAIMFLOW_", "KAFKA_BOOTSTRAP"))}
    os_env["CLAIMFLOW_HOME"] = os.environ.get("CLAIMFLOW_HOME", str(ROOT / "var"))
    security = client_kwargs(secure_broker.settings())
    port = free_port()
    logs = {name: tmp_path / f"{name}.log" for name in ("formatter", "posting", "reprocess", "report")}
    workers = [
        WorkerProcess(name, {**os_env, **env}, logs[name]) for name in ("formatter", "posting", "reprocess")
    ]
    for w in workers:
        w.start()
    with logs["report"].open("ab") as out:
        report = subprocess.Popen(
            [sys.executable, "-m", "claimflow", "report", "serve", "--port", str(port)],
            cwd=ROOT,
            env={**os_env, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        charges = generate_charges(N, SEED, dt.date.today())
        await produce(
            secure_broker.bootstrap,
            secure_prefix + CHARGES,
            [(c.account.encode(), encode(c)) for c in charges],
            **security,
        )
        expected = {c.charge_id for c in charges}
        outcomes = await consume_until(
            secure_broker.bootstrap,
            [secure_prefix + CLAIMS, secure_prefix + CHARGE_FAILURES],
            lambda rs: answered(rs) >= expected,
            timeout=180,
            **security,
        )
        failed = failed_ids(outcomes)
        assert failed, "the sample should break some charges"

        postings = generate_postings(bills(database), SEED)
        await produce(
            secure_broker.bootstrap,
            secure_prefix + POSTINGS,
            [(p.bill_id.encode(), encode(p)) for p in postings],
            **security,
        )
        await consume_until(
            secure_broker.bootstrap,
            [secure_prefix + POSTING_RESULTS],
            lambda rs: len(rs) >= len(postings),
            timeout=120,
            **security,
        )

        base = f"http://127.0.0.1:{port}"
        wait_for(base + "/healthz")
        bearer = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, timeout=30) as api:
            assert api.get("/me", headers=bearer).status_code == 200
            page = api.get("/failures", params={"limit": 5, "company": "acme-therapy"}, headers=bearer)
            assert page.status_code == 200, page.text
            assert api.get(f"/failures/{failed[0]}", headers=bearer).status_code in (200, 404)
            for name in ("token", "access_token"):
                refused = api.get("/failures", params={name: token})
                assert refused.status_code == 400 and "Authorization header" in refused.text
            assert api.get("/failures", auth=("biller-1", BASIC_PASSWORD)).status_code == 401
            assert api.get("/failures", params={"password": BASIC_PASSWORD}).status_code == 400
            # The workspace's sign-in, with the password in the form as a browser sends it.
            form = api.get("/login")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
            assert csrf is not None
            signed_in = api.post(
                "/login",
                data={"user": "biller-1", "password": SIGN_IN_PASSWORD, "csrf_token": csrf.group(1)},
            )
            assert signed_in.status_code == 303 and "claimflow_session" in signed_in.headers["set-cookie"]
            assert api.get("/failed-charges").status_code == 200
            item = next(i for i in page.json()["items"]) if page.json()["items"] else None
            target = item["charge_id"] if item else failed[0]
            company = item["company_id"] if item and "company_id" in item else "acme-therapy"
            asked = api.post(
                "/reprocess",
                headers=bearer,
                json={
                    "company": company,
                    "charge_ids": [target],
                    "corrections": {target: {"patient.birth_date": CORRECTED_BIRTH_DATE}},
                },
            )
            assert asked.status_code == 202, asked.text
        request_id = asked.json()["request_id"]
        await consume_until(
            secure_broker.bootstrap,
            [secure_prefix + REPROCESS_RESULTS],
            lambda rs: any(request_id.encode() in (r.value or b"") for r in rs),
            timeout=90,
            **security,
        )
    finally:
        for w in workers:
            w.stop(timeout=30)
        report.terminate()
        try:
            report.wait(30)
        except subprocess.TimeoutExpired:
            report.kill()
            report.wait(10)

    secrets = [
        token,
        secure_broker.password,
        tls_postgres.password,
        BASIC_PASSWORD,
        SIGN_IN_PASSWORD,
        CORRECTED_BIRTH_DATE,
    ]
    patterns = forbidden(charges, secrets)
    leaks: list[str] = []
    for name, path in logs.items():
        lines = path.read_text(errors="replace").splitlines()
        assert lines, f"the {name} process logged nothing: is its output captured?"
        for number, line in enumerate(lines, 1):
            hits = [p.pattern for p in patterns if p.search(line)]
            if hits:
                leaks.append(f"{name}.log:{number}: {hits} in {line[:300]}")
    assert not leaks, "\n".join(leaks[:40])
    report_log = logs["report"].read_text()
    assert "GET /failures 400" in report_log, "a refused request is still logged, without its query"
