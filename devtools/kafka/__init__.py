"""A real Apache Kafka broker for development and tests, started on demand (not shipped:
production runs against a cluster someone operates; `claimflow.broker` talks to it).

    bootstrap = ensure_broker()          # resolve jars once, format, start, create topics
    broker_status().running              # is it up?
    stop_broker()                        # SIGTERM, then SIGKILL

A `BrokerSecurity` makes the broker's listener SASL_SSL (TLS with a PEM keystore, SCRAM
users created when the storage is formatted); the clients' side is `settings`' security
options, through `claimflow.broker.security.client_kwargs`.

If `KAFKA_BOOTSTRAP_SERVERS` is set (or `CLAIMFLOW_BOOTSTRAP_SERVERS` names a non-loopback
host), that existing cluster wins: nothing is started, only the topics are created.

The functions are synchronous (they wait on a JVM); from async code call them through
`asyncio.to_thread`. The admin coroutines live in `claimflow.broker.admin`.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claimflow.broker import admin, create_topics, external_bootstrap, run_sync
from claimflow.broker.security import client_kwargs
from claimflow.logs import get_logger
from claimflow.settings import Settings, get_settings
from devtools.kafka import kraft, maven
from devtools.kafka.kraft import BrokerError, BrokerLayout, BrokerSecurity

__all__ = [
    "BrokerError",
    "BrokerLayout",
    "BrokerSecurity",
    "BrokerStatus",
    "broker_status",
    "create_topics",
    "ensure_broker",
    "external_bootstrap",
    "layout_for",
    "run_sync",
    "stop_broker",
]

log = get_logger(__name__)


@dataclass
class BrokerStatus:
    running: bool
    bootstrap: str
    external: bool
    pid: int | None = None
    run_dir: Path | None = None
    kafka_version: str | None = None
    topics: list[str] = field(default_factory=list)


def _default_port(settings: Settings) -> int:
    first = settings.bootstrap_servers.split(",")[0]
    _, _, port = first.rpartition(":")
    return int(port) if port.isdigit() else 19092


def layout_for(
    port: int | None = None,
    *,
    controller_port: int | None = None,
    data_dir: Path | None = None,
    settings: Settings | None = None,
    security: BrokerSecurity | None = None,
) -> BrokerLayout:
    """Where the broker for `port` lives. The controller listens on port + 1 by default."""
    settings = settings or get_settings()
    port = port or _default_port(settings)
    return BrokerLayout(
        port=port,
        controller_port=controller_port or port + 1,
        run_dir=Path(data_dir) if data_dir else kraft.default_run_dir(settings.home, port),
        security=security,
    )


def _check_version(layout: BrokerLayout, version: str) -> None:
    # KRaft metadata written by a newer Kafka cannot be read by an older one; the data of
    # a dev broker is disposable, so start over rather than fail with a cryptic error.
    marker = layout.run_dir / "kafka.version"
    old = marker.read_text().strip() if marker.exists() else None
    if old and old != version and layout.data_dir.exists():
        log.warning("kafka.data.reset", run_dir=str(layout.run_dir), was=old, now=version)
        shutil.rmtree(layout.data_dir)
    layout.run_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text(version + "\n")


def _own_kwargs(layout: BrokerLayout, settings: Settings) -> dict[str, Any]:
    """How to reach a broker this project starts: its settings' security on a secured one."""
    return client_kwargs(settings) if layout.security is not None else {}


def _start(layout: BrokerLayout, settings: Settings, timeout: float) -> None:
    started = time.monotonic()
    libs = maven.resolve_kafka(settings.home, settings.kafka_version)
    _check_version(layout, settings.kafka_version)
    kraft.write_config(layout)
    kraft.format_storage(libs, layout)
    pid = kraft.spawn(libs, layout)
    deadline = time.monotonic() + timeout
    while True:
        if not kraft.pid_alive(pid):
            layout.pid_file.unlink(missing_ok=True)
            raise BrokerError(
                f"Kafka broker exited during start-up; see {layout.out_file} and {layout.server_log}\n"
                + kraft.tail(layout.out_file)
                + "\n"
                + kraft.tail(layout.server_log)
            )
        if run_sync(admin.ping(layout.bootstrap, timeout=2.0, **_own_kwargs(layout, settings))):
            break
        if time.monotonic() > deadline:
            kraft.stop(layout, timeout=10)
            raise BrokerError(f"Kafka broker did not answer within {timeout:.0f}s; see {layout.server_log}")
        time.sleep(0.5)
    run_sync(admin.warm_up_groups(layout.bootstrap, **_own_kwargs(layout, settings)))
    log.info(
        "kafka.broker.ready",
        bootstrap=layout.bootstrap,
        pid=pid,
        seconds=round(time.monotonic() - started, 1),
    )


def ensure_broker(
    port: int | None = None,
    *,
    controller_port: int | None = None,
    data_dir: Path | None = None,
    prefix: str | None = None,
    settings: Settings | None = None,
    timeout: float = 120.0,
    use_env: bool = True,
    security: BrokerSecurity | None = None,
) -> str:
    """Make sure a broker runs and has the topics; return its bootstrap servers string.

    Idempotent and safe to call from several processes at once (a lock file guards the
    start). `prefix` defaults to settings.topic_prefix. With `security` the broker listens
    SASL_SSL, and `settings` must carry a login of its users (security_protocol SASL_SSL,
    the CA as ssl_cafile) for the readiness checks and topic creation.
    """
    settings = settings or get_settings()
    prefix = settings.topic_prefix if prefix is None else prefix
    external = external_bootstrap() if use_env else None
    if external:
        kwargs = client_kwargs(settings)
        run_sync(admin.wait_until_ready(external, timeout=min(timeout, 60.0), **kwargs))
        create_topics(external, prefix, settings=settings, external=True)
        return external

    layout = layout_for(
        port, controller_port=controller_port, data_dir=data_dir, settings=settings, security=security
    )
    layout.run_dir.mkdir(parents=True, exist_ok=True)
    kwargs = _own_kwargs(layout, settings)
    with maven.file_lock(layout.lock_file):
        if kraft.read_pid(layout) is not None:
            run_sync(admin.wait_until_ready(layout.bootstrap, timeout=timeout, **kwargs))
        elif run_sync(admin.ping(layout.bootstrap, timeout=3.0, **kwargs)):
            # Some other broker already serves this port (started by hand, another
            # checkout): use it rather than fail on "address in use".
            log.warning("kafka.broker.foreign", bootstrap=layout.bootstrap)
        else:
            _start(layout, settings, timeout)
        run_sync(admin.create_topics(layout.bootstrap, prefix, **kwargs))
    return layout.bootstrap


def stop_broker(
    port: int | None = None,
    *,
    data_dir: Path | None = None,
    settings: Settings | None = None,
    timeout: float = 30.0,
) -> bool:
    """Stop the broker this project started for `port`; True if one was running."""
    layout = layout_for(port, data_dir=data_dir, settings=settings)
    return kraft.stop(layout, timeout=timeout)


def broker_status(
    port: int | None = None,
    *,
    data_dir: Path | None = None,
    settings: Settings | None = None,
) -> BrokerStatus:
    settings = settings or get_settings()
    external = external_bootstrap()
    if external:
        kwargs = client_kwargs(settings)
        up = run_sync(admin.ping(external, **kwargs))
        topics = run_sync(admin.list_topics(external, **kwargs)) if up else []
        return BrokerStatus(running=up, bootstrap=external, external=True, topics=topics)
    layout = layout_for(port, data_dir=data_dir, settings=settings)
    pid = kraft.read_pid(layout)
    # Whatever listens there is asked the way the settings say: a secured broker needs
    # their TLS and SASL options; a PLAINTEXT one gets none.
    kwargs = client_kwargs(settings)
    up = run_sync(admin.ping(layout.bootstrap, timeout=3.0, **kwargs))
    version_file = layout.run_dir / "kafka.version"
    return BrokerStatus(
        running=up,
        bootstrap=layout.bootstrap,
        external=up and pid is None,
        pid=pid,
        run_dir=layout.run_dir,
        kafka_version=version_file.read_text().strip() if version_file.exists() else None,
        topics=run_sync(admin.list_topics(layout.bootstrap, **kwargs)) if up else [],
    )
