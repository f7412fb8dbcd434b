"""The world around the workers fails: the broker restarts, the database goes away, a second
instance joins and one dies mid-rebalance, an operator sends SIGTERM. Same end-state checks."""

from __future__ import annotations

import asyncio
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from claimflow.db import create_all, make_engine
from contracts.topics import CHARGES
from devtools.kafka import ensure_broker, stop_broker
from devtools.testing.ports import free_port_pair
from devtools.testing.postgres import PostgresServer, start_postgres
from tests.faults.harness import (
    Cluster,
    charge_messages,
    conclude,
    describe,
    read_answered,
    read_outcome,
    samples,
    scale,
    stored_ids,
    timeout,
    wait_for,
)
from tests.faults.test_kill_restart import handled, progress_after
from tests.pipeline import produce
from workers.formatter import tables

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.timeout(timeout())]


@pytest.fixture
def own_broker() -> Iterator[tuple[int, Path]]:
    """A broker of this test alone (own port, own data dir), so stopping it hurts no one."""
    port = free_port_pair()
    data_dir = Path(tempfile.mkdtemp(prefix="claimflow-faults-kafka-"))
    try:
        yield port, data_dir
    finally:
        stop_broker(port, data_dir=data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test alone, so it can be stopped and started again."""
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


async def test_broker_restart_mid_stream(
    own_broker: tuple[int, Path], cluster: Callable[..., Cluster], sqlite_database: str, seed: int
) -> None:
    sc = scale()
    port, data_dir = own_broker
    prefix = "faults."
    bootstrap = await asyncio.to_thread(ensure_broker, port, data_dir=data_dir, prefix=prefix, use_env=False)
    items = samples(sc.charges, seed + 3)
    half = len(items) // 2
    c = cluster(bootstrap, prefix, sqlite_database)
    started = time.monotonic()
    await produce(bootstrap, c.topic(CHARGES), charge_messages(items[:half]))
    c.start("formatter")
    assert await progress_after(sqlite_database, 0, timeout=90), describe(c.processes)
    await asyncio.to_thread(stop_broker, port, data_dir=data_dir)
    await asyncio.sleep(sc.broker_outage_seconds)
    await asyncio.to_thread(ensure_broker, port, data_dir=data_dir, prefix=prefix, use_env=False)
    await produce(bootstrap, c.topic(CHARGES), charge_messages(items[half:]))
    outcome = await read_answered(bootstrap, prefix, items, timeout=240)
    alive = bool(c.live())
    verdict = conclude(
        c,
        "broker_restart",
        seed,
        items,
        outcome,
        sqlite_database,
        started,
        {
            "broker_restarts": 1,
            "outage_seconds": sc.broker_outage_seconds,
        },
    )
    assert alive, "the worker died with the broker instead of reconnecting\n" + describe(c.processes)
    assert not verdict.problems, f"seed {seed}: {verdict.problems}\n{describe(c.processes)}"


async def test_database_outage_pauses_and_catches_up(
    kafka_bootstrap: str,
    topic_prefix: str,
    own_postgres: PostgresServer,
    cluster: Callable[..., Cluster],
    seed: int,
) -> None:
    sc = scale()
    url = own_postgres.url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = make_engine(url)
    create_all(engine)
    engine.dispose()
    items = samples(sc.charges, seed + 4)
    half = len(items) // 2
    c = cluster(kafka_bootstrap, topic_prefix, url)
    started = time.monotonic()
    await produce(kafka_bootstrap, c.topic(CHARGES), charge_messages(items[:half]))
    c.start("formatter")
    assert await progress_after(url, 0, timeout=90), describe(c.processes)
    await asyncio.to_thread(own_postgres.pause)
    await produce(kafka_bootstrap, c.topic(CHARGES), charge_messages(items[half:]))
    await asyncio.sleep(sc.db_outage_seconds)
    during = await read_outcome(kafka_bootstrap, topic_prefix, lambda o: True, timeout=30, settle=3)
    alive_during = bool(c.live())
    await asyncio.to_thread(own_postgres.resume)
    outcome = await read_answered(kafka_bootstrap, topic_prefix, items, timeout=240)
    alive_after = bool(c.live())
    verdict = conclude(
        c,
        "database_outage",
        seed,
        items,
        outcome,
        url,
        started,
        {
            "outage_seconds": sc.db_outage_seconds,
            "dead_lettered": len(outcome.dead),
        },
    )
    logs = c.logs()
    assert "database_unavailable" in logs, "the outage was never noticed\n" + describe(c.processes)
    assert not during.dead, f"dead-lettered for a database outage: {[d.error for _, d in during.dead][:3]}"
    assert alive_during and alive_after, "the worker died in the outage\n" + describe(c.processes)
    assert not outcome.dead
    assert not verdict.problems, f"seed {seed}: {verdict.problems}\n{describe(c.processes)}"


async def test_two_instances_one_killed_during_rebalance(
    kafka_bootstrap: str, topic_prefix: str, pg_database: str, cluster: Callable[..., Cluster], seed: int
) -> None:
    sc = scale()
    rng = random.Random(seed)
    items = samples(sc.charges, seed + 5)
    c = cluster(kafka_bootstrap, topic_prefix, pg_database)
    started = time.monotonic()
    await produce(kafka_bootstrap, c.topic(CHARGES), charge_messages(items))
    rounds = max(1, sc.kills // 3)
    first = c.start("formatter")
    assert await progress_after(pg_database, 0, timeout=90), describe(c.processes)
    for _ in range(rounds):
        second = c.start("formatter")
        # The group rebalances when the newcomer joins; kill one of the two in the middle.
        await asyncio.sleep(rng.uniform(1.0, 5.0))
        victim = rng.choice([first, second])
        c.kill(victim)
        first = second if victim is first else first
        if handled(pg_database) >= len(items):
            break
    outcome = await read_answered(kafka_bootstrap, topic_prefix, items, timeout=240)
    verdict = conclude(
        c,
        "rebalance_kill",
        seed,
        items,
        outcome,
        pg_database,
        started,
        {
            "kills": c.kills,
        },
    )
    assert not verdict.problems, f"seed {seed}: {verdict.problems}\n{describe(c.processes)}"


async def test_sigterm_finishes_the_batch_and_exits_cleanly(
    kafka_bootstrap: str, topic_prefix: str, sqlite_database: str, cluster: Callable[..., Cluster], seed: int
) -> None:
    sc = scale()
    items = samples(sc.charges, seed + 6)
    c = cluster(kafka_bootstrap, topic_prefix, sqlite_database)
    started = time.monotonic()
    await produce(kafka_bootstrap, c.topic(CHARGES), charge_messages(items))
    worker = c.start("formatter")
    assert await progress_after(sqlite_database, 0, timeout=90), describe(c.processes)
    code = await asyncio.to_thread(worker.stop, 60)
    assert code == 0, f"SIGTERM exit code {code}\n{describe([worker])}"
    log = worker.log_text()
    assert "Traceback" not in log, describe([worker])
    # What it committed before stopping was published: the checks on a partial stream.
    stopped_at = handled(sqlite_database)
    partial = await read_outcome(kafka_bootstrap, topic_prefix, lambda o: True, timeout=30, settle=3)
    done_ids = {s.charge.charge_id for s in items} & stored_ids(sqlite_database, tables.charges.c.charge_id)
    assert done_ids <= partial.answered(), "committed before SIGTERM but never published"
    c.start("formatter")
    outcome = await read_answered(kafka_bootstrap, topic_prefix, items, timeout=180)
    verdict = conclude(
        c,
        "sigterm",
        seed,
        items,
        outcome,
        sqlite_database,
        started,
        {
            "handled_before_sigterm": stopped_at,
        },
    )
    # A clean stop commits its offsets: the restart re-publishes nothing it had answered.
    assert verdict.republished == 0, f"{verdict.republished} answers published twice after a clean stop"
    assert not verdict.problems, f"seed {seed}: {verdict.problems}\n{describe(c.processes)}"
    await wait_for(lambda: not c.live(), 30, "the workers to stop")
