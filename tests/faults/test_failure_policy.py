"""The failure policy (workers/common/policy.py) with the real broker and the formatter as a
process: a poison message is isolated; a broken release stops the worker with every charge
still on the topic, and the fixed release answers them all; a dropped table stops the
worker instead of being retried forever.

A bug is injected with the test-only `CLAIMFLOW_FAULT_HANDLER_BUG` (workers/common/faults.py):
the handler raises for a batch holding a message whose bytes contain its text ("*": all).
The poison test also works the dead letter as an operator would once the fix is out:
`claimflow dead-letters replay`, twice (the second publishes nothing).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
from sqlalchemy import text

from claimflow.db import make_engine
from contracts.topics import CHARGES
from tests.faults.harness import (
    Cluster,
    charge_messages,
    conclude,
    describe,
    read_answered,
    read_outcome,
    samples,
    timeout,
    wait_for,
)
from tests.faults.test_kill_restart import handled, progress_after
from tests.pipeline import produce, worker_env
from workers.common.consumer import EXIT_LOOP_FAILED

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.timeout(timeout())]

#: Small on purpose: the policy acts on the first batches.
CHARGES_PER_TEST = 120


async def test_a_poison_message_is_isolated_then_replayed_after_the_fix(
    kafka_bootstrap: str, topic_prefix: str, sqlite_database: str, cluster: Callable[..., Cluster], seed: int
) -> None:
    items = samples(CHARGES_PER_TEST, seed + 21)
    poison = items[len(items) // 2]
    rest = [s for s in items if s is not poison]
    marker = f'"{poison.charge.charge_id}"'
    c = cluster(kafka_bootstrap, topic_prefix, sqlite_database)
    started = time.monotonic()
    worker = c.start("formatter", CLAIMFLOW_FAULT_HANDLER_BUG=marker)
    await produce(kafka_bootstrap, c.topic(CHARGES), charge_messages(items))
    outcome = await read_outcome(
        kafka_bootstrap,
        topic_prefix,
        lambda o: o.answered() >= {s.charge.charge_id for s in rest} and bool(o.dead),
        timeout=120,
    )
    assert not worker.exited(), "one poison message stopped the worker\n" + describe(c.processes)
    dead = [d for _, d in outcome.dead]
    assert [(d.error_kind, d.error.split(":")[0]) for d in dead] == [
        ("internal", "handler error RuntimeError")
    ]
    (record, _) = outcome.dead[0]
    assert record.value == charge_messages([poison])[0][1], "the dead letter is not the message as it came"
    assert poison.charge.charge_id not in outcome.answered()
    # The fix is released; the operator replays the dead letter (docs/OPERATIONS.md), twice.
    assert await asyncio.to_thread(worker.stop, 60) == 0, describe([worker])
    c.start("formatter")
    env = {**os.environ, **worker_env(kafka_bootstrap, topic_prefix, sqlite_database)}
    command = [
        sys.executable,
        "-m",
        "claimflow",
        "dead-letters",
        "replay",
        "--kind",
        "internal",
        "--by",
        "oncall",
    ]
    first = await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True, timeout=120
    )
    assert first.returncode == 0 and "1 replayed, 0 already replayed" in first.stdout, (
        first.stdout + first.stderr
    )
    again = await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True, timeout=120
    )
    assert "0 replayed, 1 already replayed" in again.stdout and "by oncall" in again.stdout, again.stdout
    outcome = await read_answered(kafka_bootstrap, topic_prefix, items, timeout=120)
    verdict = conclude(c, "policy_poison", seed, items, outcome, sqlite_database, started)
    assert len(outcome.dead) == 1, "the replayed message was dead-lettered again"
    assert not verdict.problems, f"seed {seed}: {verdict.problems}\n{describe(c.processes)}"


async def test_a_broken_release_stops_and_the_fixed_one_answers_every_charge(
    kafka_bootstrap: str, topic_prefix: str, sqlite_database: str, cluster: Callable[..., Cluster], seed: int
) -> None:
    items = samples(CHARGES_PER_TEST, seed + 22)
    c = cluster(kafka_bootstrap, topic_prefix, sqlite_database)
    started = time.monotonic()
    # Everything is on the topic before the worker starts, so its first batch is full.
    await produce(kafka_bootstrap, c.topic(CHARGES), charge_messages(items))
    broken = c.start("formatter", CLAIMFLOW_FAULT_HANDLER_BUG="*")
    await wait_for(broken.exited, 90, "the broken worker to stop")
    assert broken.proc is not None and broken.proc.returncode == EXIT_LOOP_FAILED, describe([broken])
    log = broken.log_text()
    assert "worker_stopped" in log and "every message of a batch" in log, describe([broken])
    during = await read_outcome(kafka_bootstrap, topic_prefix, lambda o: True, timeout=30, settle=2)
    assert not during.dead, f"a broken release dead-lettered: {[d.error for _, d in during.dead][:3]}"
    assert not during.answered(), "a broken release answered charges"
    assert handled(sqlite_database) == 0
    # The fixed release (no injected bug) starts where the broken one stopped: at the start.
    c.start("formatter")
    outcome = await read_answered(kafka_bootstrap, topic_prefix, items, timeout=180)
    verdict = conclude(c, "policy_broken_release", seed, items, outcome, sqlite_database, started)
    assert not outcome.dead
    assert not verdict.problems, f"seed {seed}: {verdict.problems}\n{describe(c.processes)}"


async def test_a_dropped_table_stops_the_worker_instead_of_retrying(
    kafka_bootstrap: str, topic_prefix: str, sqlite_database: str, cluster: Callable[..., Cluster], seed: int
) -> None:
    items = samples(CHARGES_PER_TEST, seed + 23)
    half = len(items) // 2
    c = cluster(kafka_bootstrap, topic_prefix, sqlite_database)
    await produce(kafka_bootstrap, c.topic(CHARGES), charge_messages(items[:half]))
    worker = c.start("formatter")
    assert await progress_after(sqlite_database, 0, timeout=90), describe(c.processes)
    await wait_for(lambda: handled(sqlite_database) >= half, 90, "the first half to be handled")
    engine = make_engine(sqlite_database)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE formatter_charges"))
    engine.dispose()
    await produce(kafka_bootstrap, c.topic(CHARGES), charge_messages(items[half:]))
    await wait_for(worker.exited, 60, "the worker to stop on the missing table")
    assert worker.proc is not None and worker.proc.returncode == EXIT_LOOP_FAILED, describe([worker])
    log = worker.log_text()
    assert "worker_stopped" in log and "database schema error" in log, describe([worker])
    assert "database_unavailable" not in log, "a missing table was retried as an outage"
    await asyncio.sleep(1)
    outcome = await read_outcome(kafka_bootstrap, topic_prefix, lambda o: True, timeout=30, settle=2)
    assert not outcome.dead, f"dead-lettered for a missing table: {[d.error for _, d in outcome.dead][:3]}"
    assert not outcome.answered() & {s.charge.charge_id for s in items[half:]}
