"""SIGKILL at random moments, and a crash pinned between the database commit and the publish.

Afterwards: every charge has exactly one current outcome, no charge sits under two claim
ids, everything the database committed was published, re-published answers are identical.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from claimflow.db import make_engine
from contracts.topics import CHARGES
from tests.faults.harness import (
    Cluster,
    Outcome,
    charge_messages,
    conclude,
    describe,
    read_answered,
    read_outcome,
    samples,
    scale,
    stored_ids,
    stream,
    timeout,
    wait_for,
)
from tests.pipeline import produce
from workers.formatter import tables

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.timeout(timeout())]


def handled(db_url: str) -> int:
    """Charge versions with a committed outcome: how far the formatter has got."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(tables.charges)).scalar_one())
    finally:
        engine.dispose()


async def progress_after(db_url: str, seen: int, timeout: float) -> bool:
    """Wait until the formatter commits more than `seen`; False if it had nothing left to do."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(handled, db_url) > seen:
            return True
        await asyncio.sleep(0.3)
    return False


async def test_sigkill_at_random_moments(
    kafka_bootstrap: str, topic_prefix: str, pg_database: str, cluster: Callable[..., Cluster], seed: int
) -> None:
    sc = scale()
    rng = random.Random(seed)
    items = samples(sc.charges, seed)
    c = cluster(kafka_bootstrap, topic_prefix, pg_database)
    started = time.monotonic()
    feeding = asyncio.create_task(
        stream(kafka_bootstrap, c.topic(CHARGES), charge_messages(items), sc.stream_seconds)
    )
    workers = {stage.worker: c.start(stage.worker) for stage in c.stages()}
    kill_points = []
    for _ in range(sc.kills):
        # Kill a worker that is doing something: after it commits, a random moment later.
        seen = await asyncio.to_thread(handled, pg_database)
        if not await progress_after(pg_database, seen, timeout=60):
            break
        await asyncio.sleep(rng.uniform(0.0, 1.5))
        victim = rng.choice(sorted(workers))
        kill_points.append(await asyncio.to_thread(handled, pg_database))
        c.kill(workers[victim])
        await asyncio.sleep(rng.uniform(0.0, 1.0))
        workers[victim] = c.start(victim)
    await feeding
    expected = {s.charge.charge_id for s in items}
    outcome = await read_outcome(
        kafka_bootstrap, topic_prefix, lambda o: o.answered() >= expected, timeout=120 + sc.charges / 20
    )
    verdict = conclude(
        c,
        "sigkill_at_random_moments",
        seed,
        items,
        outcome,
        pg_database,
        started,
        {
            "kills": c.kills,
            "kill_points": kill_points,
        },
    )
    assert c.kills >= min(sc.kills, 1), "no kill landed while the formatter was working"
    assert not verdict.problems, f"seed {seed}: {verdict.problems}\n{describe(c.processes)}"


async def test_crash_between_commit_and_publish(
    kafka_bootstrap: str, topic_prefix: str, sqlite_database: str, cluster: Callable[..., Cluster], seed: int
) -> None:
    """CLAIMFLOW_FAULT_CRASH_AFTER_COMMIT=N: the process dies right after the N-th batch's
    commit, with its answers unpublished and its offsets uncommitted. The restart must
    replay that batch and publish the stored answers: nothing lost, nothing claimed twice."""
    sc = scale()
    rng = random.Random(seed)
    items = samples(max(200, sc.charges // 2), seed + 1)
    c = cluster(kafka_bootstrap, topic_prefix, sqlite_database)
    started = time.monotonic()
    await produce(kafka_bootstrap, c.topic(CHARGES), charge_messages(items))
    windows_hit = 0
    for _ in range(sc.crashes_after_commit):
        n = rng.randint(1, 3)
        worker = c.start("formatter", CLAIMFLOW_FAULT_CRASH_AFTER_COMMIT=str(n))
        await wait_for(worker.exited, 120, "the crash")
        assert worker.proc is not None and worker.proc.returncode == 86, describe([worker])
        c.kills += 1
        # The window was really hit: committed claims that no one has published yet.
        now = await read_outcome(kafka_bootstrap, topic_prefix, lambda o: True, timeout=30, settle=4)
        if committed_unpublished(sqlite_database, now):
            windows_hit += 1
    c.start("formatter")
    outcome = await read_answered(kafka_bootstrap, topic_prefix, items, timeout=180)
    verdict = conclude(
        c,
        "crash_between_commit_and_publish",
        seed,
        items,
        outcome,
        sqlite_database,
        started,
        {
            "kills": c.kills,
            "windows_hit": windows_hit,
        },
    )
    assert windows_hit >= 1, "no crash left committed-but-unpublished answers behind"
    assert not verdict.problems, f"seed {seed}: {verdict.problems}\n{describe(c.processes)}"


def committed_unpublished(db_url: str, outcome: Outcome) -> int:
    return len(stored_ids(db_url, tables.claims.c.claim_id) - set(outcome.raw_claims))
