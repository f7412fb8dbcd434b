"""The Kafka broker the tests use: an existing cluster if KAFKA_BOOTSTRAP_SERVERS names
one, else the project's own broker on a dedicated port (29092) with its own data dir, so a
test run never touches the `make run` broker (19092) or its data."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from claimflow.broker import (
    BrokerLayout,
    admin,
    broker_status,
    ensure_broker,
    external_bootstrap,
    layout_for,
    run_sync,
    stop_broker,
)
from claimflow.broker.maven import file_lock
from claimflow.logs import get_logger
from claimflow.settings import get_settings
from contracts.topics import PARTITIONS

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
    kwargs = admin.client_kwargs(get_settings()) if external else {}
    run_sync(admin.create_topics(bootstrap, prefix, **kwargs))
    return [f"{prefix}{name}" for name in PARTITIONS]


def delete_topics(bootstrap: str, topics: list[str], external: bool = False) -> None:
    """Best-effort clean-up; a leftover topic costs disk, not correctness."""
    kwargs = admin.client_kwargs(get_settings()) if external else {}
    with contextlib.suppress(Exception):
        run_sync(admin.delete_topics(bootstrap, topics, **kwargs))
