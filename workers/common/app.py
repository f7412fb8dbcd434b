"""One faust app per worker, configured from the one settings object.

Billing state lives in SQL, never in faust tables, so the app needs no table store and no
changelog topics. Input is read by workers.common.consumer (an aiokafka batch loop run as a
service of the app), not by faust's own consumer, which is therefore never started; faust
runs the producer, the timers, signals and the service lifecycle. Delivery is
at-least-once; every effect is idempotent by a business key (see workers/common/batch.py and commit.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import faust
from faust.app.base import BootStrategy

from claimflow.broker.security import faust_credentials
from claimflow.settings import Settings
from workers.common import metrics, tracing
from workers.common.batch import BatchRunner
from workers.common.consumer import BatchConsumer
from workers.common.health import HealthServer


def make_app(worker: str, settings: Settings, **overrides: Any) -> faust.App:
    # faust makes its datadir with mkdir(exist_ok=True) and no parents: on a fresh clone
    # var/faust does not exist and every worker would die at start-up.
    (settings.home / "faust").mkdir(parents=True, exist_ok=True)
    servers = ";".join(f"kafka://{s.strip()}" for s in settings.bootstrap_servers.split(","))
    options: dict[str, Any] = {
        "broker": servers,
        "broker_credentials": faust_credentials(settings),
        "store": "memory://",
        # faust keeps a small data directory per app; keep it under var/, not the cwd.
        "datadir": str(settings.home / "faust" / f"{settings.topic_prefix}claimflow-{worker}"),
        "autodiscover": False,
        "web_enabled": False,
        # Topics are created by `claimflow topics` (`claimflow kafka start` in development), not here.
        "topic_allow_declare": False,
        "topic_disable_leader": True,
        # No linger: a batch's answers are all queued before the sender runs, so they share
        # produce requests anyway; acks=all because an answer is the only record of work.
        "producer_linger": 0.0,
        "producer_max_batch_size": 256 * 1024,
        "producer_acks": -1,
        # A SIGKILLed worker's partitions move to another member after this long (faust's
        # default is 60 s). Heartbeats come from the event loop, which a batch never blocks
        # (the handler runs in a thread), so a short session is safe. BROKER_SESSION_TIMEOUT
        # in the environment still overrides it.
        "broker_session_timeout": 10.0,
        "table_cleanup_interval": 3600.0,
    }
    options.update(overrides)
    app = faust.App(group_id(worker, settings), **options)
    app.boot_strategy = BootStrategy(app, enable_kafka_consumer=False)
    return app


def group_id(worker: str, settings: Settings) -> str:
    """The worker's app id, which is also its consumer group (claimflow status reads it)."""
    return f"{settings.topic_prefix}claimflow-{worker}"


def serve_batches(
    app: faust.App,
    settings: Settings,
    routes: Mapping[str, BatchRunner[Any]],
    *,
    max_batch: int,
) -> BatchConsumer:
    """Run the batch loop over `routes` (topic -> runner) for as long as the app runs."""
    conf = app.conf
    # faust's settings (and their BROKER_* environment variables) stay the one place the
    # group's timeouts are set, as they were when faust's own consumer read the topics.
    timeouts = {
        "session_timeout_ms": int(conf.broker_session_timeout * 1000),
        "heartbeat_interval_ms": int(conf.broker_heartbeat_interval * 1000),
        "rebalance_timeout_ms": int(conf.broker_rebalance_timeout * 1000),
        "max_poll_interval_ms": int(conf.broker_max_poll_interval * 1000),
        "request_timeout_ms": int(conf.broker_request_timeout * 1000),
    }
    service = BatchConsumer(settings, conf.id, routes, max_batch=max_batch, timeouts=timeouts)
    worker = conf.id.removeprefix(f"{settings.topic_prefix}claimflow-")  # group_id's inverse
    tracing.configure(settings, worker)
    health: HealthServer | None = None
    if settings.metrics_port:
        metrics.instrument(worker, routes, service)
        health = HealthServer(settings, worker, service, next(iter(routes.values())).engine)

    @app.task
    async def start_batches() -> None:
        # A runtime dependency is stopped before the app's producer, so the batch in hand
        # can still publish while the worker shuts down.
        if health is not None:
            await app.add_runtime_dependency(health)
        await app.add_runtime_dependency(service)

    return service
