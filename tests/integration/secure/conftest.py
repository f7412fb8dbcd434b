"""A secured broker and a secured PostgreSQL for the tests of this directory only.

    secure_broker   session   a broker of its own (SASL_SSL, SCRAM-SHA-512) with a CA the
                              session made; stopped when the session ends
    secure_prefix   function  a fresh topic prefix on it, every topic created
    tls_postgres    session   PostgreSQL with ssl=on (TLS-only TCP, a password), its CA

Like every service fixture: a failure under CI=true, a spelled-out skip otherwise.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from claimflow.broker import run_sync
from devtools.testing.certs import CertFiles, make_ca, make_server_cert
from devtools.testing.kafka import SecureTestBroker, start_secure_broker, unique_prefix
from tests.conftest import unavailable


@pytest.fixture(scope="session")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureTestBroker]:
    directory = tmp_path_factory.mktemp("secure-kafka")
    try:
        broker = start_secure_broker(directory)
    except Exception as exc:
        unavailable("secured Kafka broker", f"{type(exc).__name__}: {exc}")
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def secure_prefix(secure_broker: SecureTestBroker, request: pytest.FixtureRequest) -> str:
    from claimflow.broker import admin
    from claimflow.broker.security import client_kwargs

    prefix = unique_prefix(request.node.name[:20])
    run_sync(admin.create_topics(secure_broker.bootstrap, prefix, **client_kwargs(secure_broker.settings())))
    return prefix


@dataclass(frozen=True)
class TlsPostgres:
    port: int
    ca: CertFiles
    password: str = field(repr=False)

    def url(
        self, *, database: str = "claimflow_test", ca: Path | None = None, sslmode: str = "verify-full"
    ) -> str:
        """A URL with the password, checking the server's name against the CA (`ca`: another)."""
        root = ca or self.ca.cert
        return (
            f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/{database}"
            f"?sslmode={sslmode}&sslrootcert={root}"
        )


@pytest.fixture(scope="session")
def tls_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsPostgres]:
    from devtools.testing.postgres import find_bin_dir, start_postgres

    if find_bin_dir() is None:
        unavailable("PostgreSQL", "no server binaries in /usr/lib/postgresql/*/bin")
    directory = tmp_path_factory.mktemp("tls-postgres")
    password = secrets.token_urlsafe(18)
    try:
        ca = make_ca(directory / "ca")
        server = start_postgres(tls=make_server_cert(ca, directory / "server"), password=password)
    except Exception as exc:
        unavailable("PostgreSQL with TLS", f"{type(exc).__name__}: {exc}")
    try:
        yield TlsPostgres(server.port, ca, password)
    finally:
        server.stop()
