"""How every Kafka client of the project reaches a secured cluster (TLS, SASL/SCRAM).

`client_kwargs(settings)` is the one translation of Settings into client options: the
workers' consumers, the faust app's producer (`faust_credentials`), the report service's
publisher, the CLI and the admin client all take theirs from it.

aiokafka logs a refused handshake and then raises only "Unable to bootstrap", which reads
like a broker that is down. `access_problem` opens one connection itself to say what went
wrong in words: the password, the certificate, or nothing it can tell.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from claimflow.settings import Settings


class BrokerAccessError(RuntimeError):
    """The broker answered but would not let us in (authentication or TLS)."""


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """A verifying TLS context (CA from ssl_cafile, else the system's), with a client
    certificate when ssl_certfile is set; None for a PLAINTEXT or SASL_PLAINTEXT cluster."""
    if settings.security_protocol not in ("SSL", "SASL_SSL"):
        return None
    context = ssl.create_default_context(cafile=str(settings.ssl_cafile) if settings.ssl_cafile else None)
    if settings.ssl_certfile:
        context.load_cert_chain(
            str(settings.ssl_certfile), str(settings.ssl_keyfile) if settings.ssl_keyfile else None
        )
    return context


def client_kwargs(settings: Settings | None) -> dict[str, Any]:
    """Security options for aiokafka's producer, consumer and admin client; {} for PLAINTEXT."""
    if settings is None or settings.security_protocol == "PLAINTEXT":
        return {}
    kwargs: dict[str, Any] = {"security_protocol": settings.security_protocol}
    context = ssl_context(settings)
    if context is not None:
        kwargs["ssl_context"] = context
    if settings.security_protocol.startswith("SASL"):
        kwargs["sasl_mechanism"] = settings.sasl_mechanism or "PLAIN"
        kwargs["sasl_plain_username"] = settings.sasl_username or ""
        kwargs["sasl_plain_password"] = (
            settings.sasl_password.get_secret_value() if settings.sasl_password else ""
        )
    return kwargs


def faust_credentials(settings: Settings) -> Any:
    """The same options as faust's broker_credentials; None on a PLAINTEXT cluster."""
    import faust

    kwargs = client_kwargs(settings)
    if not kwargs:
        return None
    if "sasl_mechanism" in kwargs:
        return faust.SASLCredentials(
            username=kwargs["sasl_plain_username"],
            password=kwargs["sasl_plain_password"],
            mechanism=kwargs["sasl_mechanism"],
            ssl_context=kwargs.get("ssl_context"),
        )
    return faust.SSLCredentials(kwargs["ssl_context"])


def explain(exc: BaseException, settings: Settings) -> str | None:
    """Words for an error met while connecting, if it is an access problem; else None."""
    from aiokafka import errors

    user = settings.sasl_username or "(no user)"
    mechanism = settings.sasl_mechanism or "PLAIN"
    if isinstance(exc, errors.SaslAuthenticationFailed | errors.AuthenticationFailedError):
        return (
            f"authentication failed: the broker refused user {user!r} with {mechanism} "
            "(check CLAIMFLOW_SASL_USERNAME and CLAIMFLOW_SASL_PASSWORD or CLAIMFLOW_SASL_PASSWORD_FILE)"
        )
    if isinstance(exc, errors.UnsupportedSaslMechanismError | errors.AuthenticationMethodNotSupported):
        return f"authentication failed: the broker does not offer {mechanism} (CLAIMFLOW_SASL_MECHANISM)"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"TLS failed: the broker's certificate was not trusted ({exc.verify_message}); "
            "check CLAIMFLOW_SSL_CAFILE"
        )
    if isinstance(exc, ssl.SSLError):
        return (
            f"TLS failed: {exc.reason or exc}; "
            "check CLAIMFLOW_SECURITY_PROTOCOL and the CLAIMFLOW_SSL_* files"
        )
    return None


async def access_problem(settings: Settings, timeout: float = 10.0) -> str | None:
    """Connect once to the first bootstrap server and authenticate. Words for what refused
    us; None when it let us in or could not be reached (down is not an access problem)."""
    from aiokafka.conn import create_conn

    host, _, port = settings.bootstrap_servers.split(",")[0].strip().rpartition(":")
    try:
        async with asyncio.timeout(timeout):
            conn = await create_conn(
                host.strip("[]"), int(port), request_timeout_ms=int(timeout * 1000), **client_kwargs(settings)
            )
            conn.close()
    except Exception as exc:
        return explain(exc, settings)
    return None


def check_access(settings: Settings, timeout: float = 10.0) -> None:
    """Raise BrokerAccessError when the broker refuses our credentials or certificate."""
    if settings.security_protocol == "PLAINTEXT":
        return
    from claimflow.broker import run_sync

    problem = run_sync(access_problem(settings, timeout))
    if problem is not None:
        raise BrokerAccessError(f"cannot use the Kafka broker at {settings.bootstrap_servers}: {problem}")
