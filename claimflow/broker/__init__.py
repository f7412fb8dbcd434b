"""What every process needs to use a Kafka cluster that already runs: the clients' security
options (`security`), readiness and topics (`admin`), and a synchronous way to call them.

    create_topics(bootstrap, prefix)     # the topics of contracts/topics.py that are missing
    cluster_status(settings).running     # does the configured cluster answer?

Starting a broker of our own (development and tests) is not here: that is
`devtools.kafka`, which the image does not ship.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from claimflow.broker import admin
from claimflow.broker.security import client_kwargs
from claimflow.settings import Settings, get_settings

__all__ = [
    "LOOPBACK",
    "ClusterStatus",
    "cluster_status",
    "create_topics",
    "ensure_topics",
    "external_bootstrap",
    "run_sync",
]

T = TypeVar("T")

LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


@dataclass
class ClusterStatus:
    running: bool
    bootstrap: str
    external: bool


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, also when the caller already sits inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name="claimflow-broker-admin")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    result: T = box["value"]
    return result


def external_bootstrap() -> str | None:
    """The bootstrap of a cluster someone else runs, if the environment names one."""
    explicit = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if explicit:
        return explicit
    configured = os.environ.get("CLAIMFLOW_BOOTSTRAP_SERVERS", "").strip()
    if configured:
        host = configured.split(",")[0].rsplit(":", 1)[0]
        if host not in LOOPBACK:
            return configured
    return None


def create_topics(
    bootstrap: str, prefix: str = "", *, settings: Settings | None = None, external: bool = False
) -> list[str]:
    """Create the topics of contracts/topics.py (with `prefix`) that are missing."""
    kwargs = client_kwargs(settings or get_settings()) if external else {}
    return run_sync(admin.create_topics(bootstrap, prefix, **kwargs))


def ensure_topics(settings: Settings, timeout: float = 60.0) -> str:
    """Wait until the configured cluster answers, then create the missing topics (with
    settings.topic_prefix); the bootstrap it used. What a deployment runs once before its
    workers (`claimflow topics`)."""
    bootstrap = external_bootstrap() or settings.bootstrap_servers
    kwargs = client_kwargs(settings)
    run_sync(admin.wait_until_ready(bootstrap, timeout=timeout, **kwargs))
    create_topics(bootstrap, settings.topic_prefix, settings=settings, external=True)
    return bootstrap


def cluster_status(settings: Settings) -> ClusterStatus:
    """Whether the configured cluster answers, asked with the settings' security options."""
    external = external_bootstrap()
    bootstrap = external or settings.bootstrap_servers.split(",")[0].strip()
    up = run_sync(admin.ping(bootstrap, timeout=3.0, **client_kwargs(settings)))
    return ClusterStatus(running=up, bootstrap=bootstrap, external=external is not None)
