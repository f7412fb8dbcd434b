"""Fixtures of the fault-injection suite: the seed, a cluster of worker processes, databases."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from claimflow.db import create_all, make_engine
from tests.faults.harness import SEED_ENV, Cluster, fault_seed, scale

#: One seed for the whole session, so the figures file and the printed header agree.
SEED = fault_seed()


def pytest_report_header(config: pytest.Config) -> str:
    return (
        f"claimflow faults: scale={scale().name} seed={SEED} "
        f"(replay with {SEED_ENV}={SEED} CLAIMFLOW_FAULT_SCALE={scale().name})"
    )


@pytest.fixture
def seed(request: pytest.FixtureRequest) -> int:
    # Also in the test's own report, so a failure in a long log still names its seed.
    request.node.user_properties.append(("fault_seed", SEED))
    print(f"fault seed {SEED} scale {scale().name}")
    return SEED


def _admin(url: str) -> tuple[str, str]:
    from sqlalchemy.engine import make_url

    base = make_url(url)
    return (
        base.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False),
        base.render_as_string(hide_password=False),
    )


@pytest.fixture
def pg_database(postgres_url: str) -> Iterator[str]:
    """A fresh database on the session's PostgreSQL server, migrated."""
    import psycopg
    from sqlalchemy.engine import make_url

    admin, _ = _admin(postgres_url)
    name = f"f_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(postgres_url).set(drivername="postgresql+psycopg", database=name)
    rendered = url.render_as_string(hide_password=False)
    engine = make_engine(rendered)
    create_all(engine)
    engine.dispose()
    try:
        yield rendered
    finally:
        with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'claimflow.db'}"
    engine = make_engine(url)
    create_all(engine)
    engine.dispose()
    return url


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Callable[..., Cluster]]:
    """Make a Cluster; every worker process it started is killed at the end, pass or fail."""
    made: list[Cluster] = []

    def make(bootstrap: str, prefix: str, db_url: str, **env: str) -> Cluster:
        c = Cluster(bootstrap, prefix, db_url, tmp_path, extra_env=env)
        made.append(c)
        return c

    yield make
    for c in made:
        for p in c.processes:
            p.kill()
