"""PostgreSQL over TLS with the server's name checked (`sslmode=verify-full`): the project
connects, migrates and reads; a server certificate from another CA fails in words."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from claimflow.db import connect_problem, create_all, make_engine
from devtools.testing.certs import make_ca
from tests.integration.secure.conftest import TlsPostgres
from tests.pipeline import ROOT

pytestmark = pytest.mark.integration


def test_the_project_connects_with_verify_full(tls_postgres: TlsPostgres) -> None:
    engine = make_engine(tls_postgres.url())
    try:
        create_all(engine)
        with engine.connect() as conn:
            encrypted = conn.execute(
                text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            ).scalar()
            tables = conn.execute(text("SELECT COUNT(*) FROM claims")).scalar()
    finally:
        engine.dispose()
    assert encrypted is True
    assert tables == 0


def test_without_tls_the_server_refuses(tls_postgres: TlsPostgres) -> None:
    engine = make_engine(tls_postgres.url(sslmode="disable"))
    with pytest.raises(OperationalError, match="no encryption"):
        engine.connect()


def test_a_server_certificate_from_another_ca_fails_clearly(
    tls_postgres: TlsPostgres, tmp_path: Path
) -> None:
    other = make_ca(tmp_path / "other-ca", name="some other CA")
    url = tls_postgres.url(ca=other.cert)
    with pytest.raises(OperationalError) as raised:
        make_engine(url).connect()
    problem = connect_problem(raised.value, url)
    assert "certificate verify failed" in problem
    assert tls_postgres.password not in problem


def test_the_cli_reads_the_url_from_a_file_and_names_a_bad_ca(
    tls_postgres: TlsPostgres, tmp_path: Path
) -> None:
    other = make_ca(tmp_path / "other-ca", name="some other CA")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMFLOW_DATABASE_URL")}
    for url, code in ((tls_postgres.url(), 0), (tls_postgres.url(ca=other.cert), 2)):
        secret = tmp_path / "db-url"
        secret.write_text(url + "\n")
        proc = subprocess.run(
            [sys.executable, "-m", "claimflow", "db", "upgrade"],
            cwd=ROOT,
            env={**env, "CLAIMFLOW_DATABASE_URL_FILE": str(secret)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        output = proc.stdout + proc.stderr
        assert proc.returncode == code, output
        assert tls_postgres.password not in output
        if code:
            assert "certificate verify failed" in output and "Traceback" not in output
