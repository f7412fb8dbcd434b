"""One faust app per worker, configured from the one settings object.

Billing state lives in SQL, never in faust tables, so the app needs no table store and no
changelog topics. Delivery is at-least-once; every effect is idempotent by a business key
(see workers/common/batch.py), which is why `processing_guarantee` stays at its default.
"""

from __future__ import annotations

import ssl
from typing import Any

import faust

from claimflow.settings import Settings


def credentials(settings: Settings) -> Any:
    """Broker credentials for SASL/TLS deployments; None on a local PLAINTEXT broker."""
    protocol = settings.security_protocol
    context = None
    if protocol in ("SSL", "SASL_SSL"):
        context = ssl.create_default_context(cafile=str(settings.ssl_cafile) if settings.ssl_cafile else None)
        if settings.ssl_certfile:
            context.load_cert_chain(
                str(settings.ssl_certfile), str(settings.ssl_keyfile) if settings.ssl_keyfile else None
            )
    if protocol.startswith("SASL"):
        password = settings.sasl_password.get_secret_value() if settings.sasl_password else ""
        return faust.SASLCredentials(
            username=settings.sasl_username or "",
            password=password,
            mechanism=settings.sasl_mechanism or "PLAIN",
            ssl_context=context,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


def make_app(worker: str, settings: Settings, **overrides: Any) -> faust.App:
    # faust makes its datadir with mkdir(exist_ok=True) and no parents: on a fresh clone
    # var/faust does not exist and every worker would die at start-up.
    (settings.home / "faust").mkdir(parents=True, exist_ok=True)
    servers = ";".join(f"kafka://{s.strip()}" for s in settings.bootstrap_servers.split(","))
    options: dict[str, Any] = {
        "broker": servers,
        "broker_credentials": credentials(settings),
        "store": "memory://",
        # faust keeps a small data directory per app; keep it under var/, not the cwd.
        "datadir": str(settings.home / "faust" / f"{settings.topic_prefix}claimflow-{worker}"),
        "autodiscover": False,
        "web_enabled": False,
        # Topics are created by the project's tooling (claimflow kafka start), not by workers.
        "topic_allow_declare": False,
        "topic_disable_leader": True,
        "consumer_auto_offset_reset": "earliest",
        "stream_buffer_maxsize": 4096,
        "broker_max_poll_records": 1000,
        "broker_commit_interval": 1.0,
        "producer_linger": 0.005,
        "producer_max_batch_size": 256 * 1024,
        "producer_acks": -1,
        "stream_wait_empty": True,
        "table_cleanup_interval": 3600.0,
    }
    options.update(overrides)
    return faust.App(f"{settings.topic_prefix}claimflow-{worker}", **options)


def raw_topic(app: faust.App, name: str) -> faust.TopicT:
    """A topic read as bytes: decoding is ours (contracts.codec), so garbage can be dead-lettered."""
    return app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
