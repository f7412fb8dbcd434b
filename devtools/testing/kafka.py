"""The Kafka broker the tests use: an existing cluster if KAFKA_BOOTSTRAP_SERVERS names
one, else the project's own broker on a dedicated port (29092) with its own data dir, so a
test run never touches the `make run` broker (19092) or its data."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from claimflow.broker import admin, external_bootstrap, run_sync
from claimflow.broker.security import client_kwargs
from claimflow.logs import get_logger
from claimflow.settings import Settings, get_settings
from contracts.topics import PARTITIONS
from devtools.kafka import (
    BrokerLayout,
    BrokerSecurity,
    broker_status,
    ensure_broker,
    layout_for,
    stop_broker,
)
from devtools.kafka.maven import file_lock
from devtools.testing.certs import CertFiles, make_ca, make_server_cert
from devtools.testing.ports import free_port_pair

log = get_logger(__name__)

TEST_PORT = 29092


@dataclass(frozen=True)
class TestBroker:
    bootstrap: str
    #: True when this process found no broker and started it.
    started_here: bool
    external: bool
    port: int = TEST_PORT

    __test__ = False  # not a pytest test class, despite the name

    def stop(self) -> None:
        """Leave the broker; the last test session using a broker that tests started
        stops it. A broker someone started by hand (`claimflow kafka start`) stays up."""
        if self.external:
            return
        layout = layout_for(self.port)
        with file_lock(layout.run_dir / ".lease.lock"):
            (_lease_dir(layout) / str(os.getpid())).unlink(missing_ok=True)
            if _live_leases(layout) or not _started_by_tests(layout).exists():
                return
            stop_broker(self.port)
            _started_by_tests(layout).unlink(missing_ok=True)


# Several test sessions (several engineers, or pytest beside a CI job) may share the test
# broker. Each holds a lease file named by its pid while it runs, so the session that
# started the broker does not pull it from under one that is still using it.
def _lease_dir(layout: BrokerLayout) -> Path:
    return layout.run_dir / "leases"


def _started_by_tests(layout: BrokerLayout) -> Path:
    return layout.run_dir / "started-by-tests"


def _live_leases(layout: BrokerLayout) -> list[int]:
    live = []
    for lease in _lease_dir(layout).glob("*"):
        pid = int(lease.name) if lease.name.isdigit() else -1
        if pid > 0 and _alive(pid):
            live.append(pid)
        else:
            lease.unlink(missing_ok=True)
    return live


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start_test_broker(port: int = TEST_PORT, *, fresh: bool = True) -> TestBroker:
    """Reuse a running test broker, or start one. `fresh` wipes the data of a broker that
    is not running and nobody uses, so topics of earlier runs do not pile up and slow
    every start."""
    external = external_bootstrap()
    if external:
        ensure_broker(prefix="", timeout=30.0)
        return TestBroker(bootstrap=external, started_here=False, external=True, port=port)
    layout = layout_for(port)
    layout.run_dir.mkdir(parents=True, exist_ok=True)
    with file_lock(layout.run_dir / ".lease.lock"):
        running = broker_status(port).running
        if not running:
            if fresh and not _live_leases(layout) and layout.data_dir.exists():
                shutil.rmtree(layout.data_dir)
            _started_by_tests(layout).touch()
        bootstrap = ensure_broker(port, prefix="")
        _lease_dir(layout).mkdir(exist_ok=True)
        (_lease_dir(layout) / str(os.getpid())).touch()
    return TestBroker(bootstrap, started_here=not running, external=False, port=port)


def unique_prefix(label: str = "t") -> str:
    """A topic prefix no other test uses, e.g. 't3f9a1c2e.'; Kafka allows [a-zA-Z0-9._-]."""
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in label)[:40]
    return f"{safe}-{uuid.uuid4().hex[:10]}."


def create_prefixed_topics(bootstrap: str, prefix: str, external: bool = False) -> list[str]:
    kwargs = client_kwargs(get_settings()) if external else {}
    run_sync(admin.create_topics(bootstrap, prefix, **kwargs))
    return [f"{prefix}{name}" for name in PARTITIONS]


def delete_topics(bootstrap: str, topics: list[str], external: bool = False) -> None:
    """Best-effort clean-up; a leftover topic costs disk, not correctness."""
    kwargs = client_kwargs(get_settings()) if external else {}
    with contextlib.suppress(Exception):
        run_sync(admin.delete_topics(bootstrap, topics, **kwargs))


@dataclass(frozen=True)
class SecureTestBroker:
    """A broker of its own with a SASL_SSL listener (SCRAM-SHA-512), its CA and two users:
    the broker's own login and `user`, the one the project's clients use."""

    bootstrap: str
    port: int
    run_dir: Path
    ca: CertFiles
    user: str
    password: str = field(repr=False)

    __test__ = False

    def settings(
        self, base: Settings | None = None, *, password: str | None = None, **update: Any
    ) -> Settings:
        """`base` (default: the environment's settings) pointed at this broker and logged in."""
        secret = SecretStr(self.password if password is None else password)
        return (base or get_settings()).model_copy(
            update={
                "bootstrap_servers": self.bootstrap,
                "security_protocol": "SASL_SSL",
                "sasl_mechanism": "SCRAM-SHA-512",
                "sasl_username": self.user,
                "sasl_password": secret,
                "ssl_cafile": self.ca.cert,
                **update,
            }
        )

    def env(self, *, password_file: Path | None = None) -> dict[str, str]:
        """The same login as CLAIMFLOW_ environment variables for a worker process; the
        password from `password_file` when given, as a container's secret would be."""
        env = {
            "CLAIMFLOW_BOOTSTRAP_SERVERS": self.bootstrap,
            "CLAIMFLOW_SECURITY_PROTOCOL": "SASL_SSL",
            "CLAIMFLOW_SASL_MECHANISM": "SCRAM-SHA-512",
            "CLAIMFLOW_SASL_USERNAME": self.user,
            "CLAIMFLOW_SSL_CAFILE": str(self.ca.cert),
        }
        if password_file is not None:
            env["CLAIMFLOW_SASL_PASSWORD_FILE"] = str(password_file)
        else:
            env["CLAIMFLOW_SASL_PASSWORD"] = self.password
        return env

    def stop(self) -> None:
        stop_broker(self.port, data_dir=self.run_dir)


def start_secure_broker(directory: Path, user: str = "claimflow") -> SecureTestBroker:
    """Make a CA and a server certificate for 127.0.0.1 under `directory`, and start a
    SASL_SSL broker on free ports with its data there. Stop it with `.stop()`."""
    ca = make_ca(directory / "ca")
    server = make_server_cert(ca, directory / "server")
    users = (("claimflow-broker", secrets.token_urlsafe(18)), (user, secrets.token_urlsafe(18)))
    port = free_port_pair()
    broker = SecureTestBroker(
        bootstrap=f"127.0.0.1:{port}",
        port=port,
        run_dir=directory / "kafka",
        ca=ca,
        user=users[1][0],
        password=users[1][1],
    )
    own = broker.settings(sasl_username=users[0][0], sasl_password=SecretStr(users[0][1]))
    security = BrokerSecurity(keystore=server.keystore(), truststore=ca.cert, users=users)
    try:
        ensure_broker(
            port, data_dir=broker.run_dir, prefix="", settings=own, security=security, use_env=False
        )
    except BaseException:
        broker.stop()  # one that came up but failed a later step must not outlive the caller
        raise
    return broker
