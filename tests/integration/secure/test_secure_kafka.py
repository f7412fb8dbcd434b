"""The project's Kafka clients over TLS with SASL/SCRAM-SHA-512, against a real broker
configured that way: a worker process, the report service's publisher, `claimflow status`,
and a wrong password or CA that fails at once, in words."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from claimflow.broker import run_sync
from claimflow.broker.security import access_problem, client_kwargs
from contracts import Claim
from contracts.codec import encode
from contracts.reprocess import ReprocessRequest
from contracts.topics import CHARGES, CLAIMS, REPROCESS_REQUESTS
from devtools.testing.certs import make_ca
from devtools.testing.kafka import SecureTestBroker
from tests.factories import charge
from tests.pipeline import ROOT, WorkerProcess, consume_until, produce
from workers.report.publish import KafkaPublisher, PublishError

pytestmark = pytest.mark.integration


def _env(broker: SecureTestBroker, prefix: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    password_file = tmp_path / "sasl-password"
    password_file.write_text(broker.password + "\n")
    return {
        **broker.env(password_file=password_file),
        "CLAIMFLOW_TOPIC_PREFIX": prefix,
        "CLAIMFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'claimflow.db'}",
        "CLAIMFLOW_LOG_LEVEL": "INFO",
        **extra,
    }


def _cli(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CLAIMFLOW_SASL", "KAFKA_BOOTSTRAP"))}
    return subprocess.run(
        [sys.executable, "-m", "claimflow", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


async def test_a_worker_turns_a_charge_into_a_claim_over_sasl_ssl(
    secure_broker: SecureTestBroker, secure_prefix: str, tmp_path: Path
) -> None:
    security = client_kwargs(secure_broker.settings())
    worker = WorkerProcess("formatter", _env(secure_broker, secure_prefix, tmp_path), tmp_path / "f.log")
    worker.start()
    try:
        c = charge(charge_id="SEC-1", service_date=dt.date.today() - dt.timedelta(days=2))
        await produce(
            secure_broker.bootstrap, secure_prefix + CHARGES, [(c.account.encode(), encode(c))], **security
        )
        records = await consume_until(
            secure_broker.bootstrap,
            [secure_prefix + CLAIMS],
            lambda rs: len(rs) >= 1,
            timeout=90,
            **security,
        )
    finally:
        worker.stop(timeout=30)
    claims = [Claim.model_validate_json(r.value or b"") for r in records]
    assert [line.charge_id for claim in claims for line in claim.lines] == ["SEC-1"], worker.log_text()
    assert secure_broker.password not in worker.log_text()


async def test_the_report_publisher_publishes_over_sasl_ssl(
    secure_broker: SecureTestBroker, secure_prefix: str
) -> None:
    settings = secure_broker.settings(topic_prefix=secure_prefix)
    request = ReprocessRequest(
        request_id="req-sec-1",
        requested_by="biller-1",
        company_id="acme-therapy",
        charge_ids=["CH-1"],
        requested_at=dt.datetime.now(dt.UTC),
    )
    await KafkaPublisher(settings)(request)
    records = await consume_until(
        secure_broker.bootstrap,
        [secure_prefix + REPROCESS_REQUESTS],
        lambda rs: len(rs) >= 1,
        timeout=30,
        **client_kwargs(settings),
    )
    assert [orjson.loads(r.value or b"")["request_id"] for r in records] == ["req-sec-1"]


def test_claimflow_status_reads_lag_over_sasl_ssl(
    secure_broker: SecureTestBroker, secure_prefix: str, tmp_path: Path
) -> None:
    proc = _cli("status", "--json", env=_env(secure_broker, secure_prefix, tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = orjson.loads(proc.stdout)
    assert found["broker"]["running"] is True
    assert {row["worker"] for row in found["lag"]} == {
        "formatter",
        "posting",
        "reprocess",
        "clearinghouse",
        "remittance",
    }
    assert secure_broker.password not in proc.stdout + proc.stderr


def test_a_wrong_password_fails_fast_naming_authentication(
    secure_broker: SecureTestBroker, secure_prefix: str, tmp_path: Path
) -> None:
    env = _env(secure_broker, secure_prefix, tmp_path)
    (tmp_path / "sasl-password").write_text("not-the-password\n")
    for args in (("status",), ("worker", "formatter")):
        started = time.monotonic()
        proc = _cli(*args, env=env, timeout=60)
        output = proc.stdout + proc.stderr
        assert proc.returncode == 2, output
        assert "authentication failed" in output
        assert f"user {secure_broker.user!r}" in output
        assert "Traceback" not in output
        assert "not-the-password" not in output
        assert time.monotonic() - started < 45


async def test_the_publisher_names_authentication_when_the_password_is_wrong(
    secure_broker: SecureTestBroker, secure_prefix: str
) -> None:
    settings = secure_broker.settings(password="not-the-password", topic_prefix=secure_prefix)
    request = ReprocessRequest(
        request_id="req-sec-2",
        requested_by="biller-1",
        company_id="acme-therapy",
        charge_ids=["CH-1"],
        requested_at=dt.datetime.now(dt.UTC),
    )
    with pytest.raises(PublishError, match="authentication failed"):
        await KafkaPublisher(settings, timeout_ms=5000)(request)


def test_a_broker_certificate_from_another_ca_is_refused_in_words(
    secure_broker: SecureTestBroker, tmp_path: Path
) -> None:
    other = make_ca(tmp_path / "other-ca", name="some other CA")
    problem = run_sync(access_problem(secure_broker.settings(ssl_cafile=other.cert)))
    assert problem is not None and problem.startswith("TLS failed: the broker's certificate was not trusted")
    assert run_sync(access_problem(secure_broker.settings())) is None
