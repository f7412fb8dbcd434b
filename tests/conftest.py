"""Fixtures for the real services: Kafka broker, PostgreSQL, SQLite.

Never a silent skip: when a broker or database cannot be had, a test FAILS under CI=true
and is skipped locally with the reason spelled out (shown by `-ra` in the summary).

    kafka_bootstrap   session  bootstrap string (KAFKA_BOOTSTRAP_SERVERS wins; else our broker
                               on port 29092, started for the session and stopped after)
    topic_prefix      function fresh prefix with all contracts/topics.py topics created
    kafka_settings    function Settings pointing at the test broker with that prefix
    postgres_url      session  URL of the session's PostgreSQL database (claimflow_test)
    sqlite_url        function URL of a fresh SQLite file
    db_url            function parametrized ["sqlite", "postgresql"]: a fresh, empty database
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from claimflow.settings import Settings, get_settings

#: Fixtures that need a real service; a test using one is marked `integration`.
SERVICE_FIXTURES = frozenset({"kafka_bootstrap", "topic_prefix", "kafka_settings", "postgres_url"})


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def unavailable(what: str, error: BaseException | str) -> NoReturn:
    reason = f"{what} is not available: {error}"
    if in_ci():
        pytest.fail(f"{reason} (CI=true: a missing service is a failure, not a skip)", pytrace=False)
    pytest.skip(reason=f"NOT RUN, {reason} (this would fail under CI=true)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Browser tests run last: Playwright's sync API keeps an event loop running in the main
    # thread for as long as its browser is open, and asyncio.run() refuses to start beside it.
    items.sort(key=lambda item: "browser" in item.path.parts)
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        callspec = getattr(item, "callspec", None)
        db_kind = callspec.params.get("db_url") if callspec is not None else None
        if names & SERVICE_FIXTURES or db_kind == "postgresql" or "integration" in item.path.parts:
            item.add_marker(pytest.mark.integration)


# --- Kafka -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _test_broker() -> Iterator[Any]:
    from devtools.testing.kafka import start_test_broker

    try:
        broker = start_test_broker()
    except Exception as exc:
        unavailable("Kafka broker", f"{type(exc).__name__}: {exc}")
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(_test_broker: Any) -> str:
    bootstrap: str = _test_broker.bootstrap
    return bootstrap


@pytest.fixture
def topic_prefix(_test_broker: Any, request: pytest.FixtureRequest) -> Iterator[str]:
    """A prefix only this test uses, with every topic of contracts/topics.py created."""
    from devtools.testing.kafka import create_prefixed_topics, delete_topics, unique_prefix

    prefix = unique_prefix(request.node.name[:20])
    try:
        topics = create_prefixed_topics(_test_broker.bootstrap, prefix, external=_test_broker.external)
    except Exception as exc:
        unavailable("Kafka topic creation", f"{type(exc).__name__}: {exc}")
    yield prefix
    delete_topics(_test_broker.bootstrap, topics, external=_test_broker.external)


@pytest.fixture
def kafka_settings(kafka_bootstrap: str, topic_prefix: str) -> Settings:
    """The project's settings, pointed at the test broker and this test's topics."""
    return get_settings().model_copy(
        update={"bootstrap_servers": kafka_bootstrap, "topic_prefix": topic_prefix}
    )


# --- Databases -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _postgres_server() -> Iterator[str]:
    import psycopg

    from devtools.testing.postgres import postgres_server

    try:
        ctx = postgres_server()
        url = ctx.__enter__()
    except Exception as exc:
        unavailable("PostgreSQL", f"{type(exc).__name__}: {exc}")
    try:
        # CLAIMFLOW_TEST_POSTGRES_URL may name a server that is down: say so here, once.
        psycopg.connect(_libpq_url(url), connect_timeout=10).close()
    except psycopg.Error as exc:
        ctx.__exit__(None, None, None)
        unavailable("PostgreSQL", f"cannot connect to {url}: {exc}")
    try:
        yield url
    finally:
        ctx.__exit__(None, None, None)


@pytest.fixture(scope="session")
def postgres_url(_postgres_server: str) -> str:
    return _postgres_server


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'claimflow.db'}"


def _libpq_url(url: str) -> str:
    """psycopg wants plain postgresql://, not SQLAlchemy's postgresql+psycopg://."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _fresh_postgres_database(server_url: str) -> Iterator[str]:
    """A new empty database on the session server; dropped afterwards. Falls back to the
    server URL's own database when we may not create databases (an external server)."""
    import psycopg
    from sqlalchemy.engine import make_url

    base = make_url(server_url)
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin_url = base.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error:
        yield server_url
        return
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of each kind; run migrations with claimflow.db.create_all."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'claimflow.db'}"
        return
    server_url: str = request.getfixturevalue("postgres_url")
    yield from _fresh_postgres_database(server_url)
