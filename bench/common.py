"""Plumbing every measurement shares: the bench broker, topics, worker processes, clocks.

Every figure of one run is measured against the same dedicated broker (its own port and
data dir under var/bench/), never the dev broker on 19092 or a test broker, so the ceiling
and the workers see the same disk, the same JVM and the same neighbours.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

ROOT = Path(__file__).resolve().parent.parent
BENCH_HOME = ROOT / "var" / "bench"
#: Below Linux's ephemeral range (devtools.testing.ports says why); another free pair is
#: taken when something else listens here.
BENCH_PORT = 28092
#: Matches contracts/topics.py: the worker topics and the ceiling's topics are partitioned
#: alike, so the ceiling moves messages the way the workers have to.
PARTITIONS = 6


@contextlib.contextmanager
def frozen_heap(threshold: tuple[int, int, int]) -> Iterator[None]:
    """Freeze what this process holds, collect with `threshold` inside, restore both after.

    The bench process carries the whole bench (its imports, templates, results so far);
    what it measures in-process must not pay for collecting that.
    """
    before = gc.get_threshold()
    # Unfreezing is all or nothing: a heap frozen before this block stays frozen after it.
    frozen_before = gc.get_freeze_count() > 0
    gc.collect()
    gc.freeze()
    gc.set_threshold(*threshold)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        if not frozen_before:
            gc.unfreeze()


def run_id() -> str:
    return uuid.uuid4().hex[:6]


@dataclass
class BenchEnv:
    """What one bench run has started; everything in it is stopped by `close()`."""

    bootstrap: str
    run_dir: Path
    postgres: Any = None  # devtools.testing.postgres.PostgresServer, when started
    broker_port: int = BENCH_PORT
    broker_data: Path | None = None
    workers: list[WorkerProcess] = field(default_factory=list)

    def prefix(self, section: str) -> str:
        """A fresh topic prefix (and so a fresh consumer group) per measurement."""
        return f"b{run_id()}.{section}."

    def sqlite_path(self, name: str) -> Path:
        """A SQLite file of this run, with whatever an earlier one left under its name gone."""
        path = self.run_dir / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return path

    def sqlite_url(self, name: str) -> str:
        return f"sqlite:///{self.sqlite_path(name)}"

    def postgres_url(self, name: str) -> str:
        import psycopg

        if self.postgres is None:
            raise RuntimeError("PostgreSQL was not started")
        database = f"bench_{name}_{run_id()}"
        with psycopg.connect(self.postgres.admin_url(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        return f"postgresql://postgres@{self.postgres.host}:{self.postgres.port}/{database}"


def start_env(with_postgres: bool = True) -> BenchEnv:
    """Start the bench broker (fresh data dir) and, if asked, a throwaway PostgreSQL."""
    from devtools.kafka import ensure_broker, layout_for, stop_broker
    from devtools.testing.ports import free_port_pair

    data_dir = BENCH_HOME / "kafka"
    # A broker a killed bench left running is stopped whatever port it took (its pid file
    # is in the data dir). A bench starts from an empty log: what earlier runs left on
    # disk (gigabytes in the full mode) would only slow the broker's start and fill the disk.
    stop_broker(BENCH_PORT, data_dir=data_dir)
    shutil.rmtree(layout_for(BENCH_PORT, data_dir=data_dir).data_dir, ignore_errors=True)
    layout = layout_for(free_port_pair(prefer=BENCH_PORT), data_dir=data_dir)
    bootstrap = ensure_broker(layout.port, data_dir=data_dir, prefix="bench.", use_env=False)
    run_dir = BENCH_HOME / "runs" / time.strftime("%Y%m%dT%H%M%S")
    run_dir.mkdir(parents=True, exist_ok=True)
    env = BenchEnv(bootstrap=bootstrap, run_dir=run_dir, broker_port=layout.port, broker_data=data_dir)
    if with_postgres:
        from devtools.testing.postgres import start_postgres

        env.postgres = start_postgres("bench")
    return env


def close_env(env: BenchEnv) -> None:
    from devtools.kafka import stop_broker

    for worker in env.workers:
        worker.stop()
    if env.postgres is not None:
        env.postgres.stop()
    stop_broker(env.broker_port, data_dir=env.broker_data)
    if not os.environ.get("BENCH_KEEP_DATABASES"):
        # A full run leaves gigabytes of SQLite (the formatter's alone is ~3 GB for 1M
        # charges); the logs stay in the run dir, the databases go unless asked to keep.
        for path in env.run_dir.glob("*.db*"):
            path.unlink(missing_ok=True)


# --- topics, producing, consumer groups ---------------------------------------------------------


async def create_plain_topics(bootstrap: str, names: Iterable[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name, num_partitions=PARTITIONS, replication_factor=1) for name in names]
        )
    finally:
        await admin.close()


async def produce(bootstrap: str, topic: str, messages: Iterable[tuple[bytes, bytes]]) -> int:
    """Preload a topic as fast as the client allows (not part of any measured time)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=512 * 1024
    )
    await producer.start()
    n = 0
    try:
        pending: list[asyncio.Future[Any]] = []
        for key, value in messages:
            pending.append(await producer.send(topic, value, key=key))
            n += 1
            if len(pending) >= 20_000:
                # Bounded: a million futures (and their payloads) would be the memory figure.
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return n


async def end_offsets(bootstrap: str, topics: Iterable[str]) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        parts = [
            TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or set())
        ]
        if not parts:
            await consumer._client.force_metadata_update()
            parts = [
                TopicPartition(t, p)
                for t in topics
                for p in sorted(consumer.partitions_for_topic(t) or set())
            ]
        ends: dict[TopicPartition, int] = await consumer.end_offsets(parts)
        return ends
    finally:
        await consumer.stop()


class GroupWatch:
    """Reads a consumer group's state and committed offsets through the admin API.

    Cheap enough to poll every few hundred milliseconds beside a worker: it is how the bench
    knows, without touching the worker, when consumption started and when it finished.
    """

    def __init__(self, bootstrap: str, group: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.group = group
        self.topic = topic
        self.admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)

    async def __aenter__(self) -> GroupWatch:
        await self.admin.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.admin.close()

    async def stable(self, members: int = 1) -> bool:
        try:
            responses = await self.admin.describe_consumer_groups([self.group])
        except Exception:
            return False
        for response in responses:
            for group in response.groups:
                # (error_code, group_id, state, protocol_type, protocol, members, ...)
                if group[1] == self.group and group[2] == "Stable" and len(group[5]) >= members:
                    return True
        return False

    async def committed(self) -> int:
        try:
            offsets = await self.admin.list_consumer_group_offsets(self.group)
        except Exception:
            return 0
        return sum(max(meta.offset, 0) for tp, meta in offsets.items() if tp.topic == self.topic)

    async def wait_stable(self, timeout: float, proc: WorkerProcess | None = None, members: int = 1) -> float:
        """Wall-clock time (time.time) at which the group first had its partitions."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if await self.stable(members):
                return time.time()
            if proc is not None and not proc.alive():
                raise RuntimeError(f"worker exited before consuming; see {proc.log_path}")
            await asyncio.sleep(0.1)
        raise TimeoutError(f"consumer group {self.group} did not become stable in {timeout:.0f}s")


@dataclass
class OutputSpan:
    count: int
    first_ms: int | None
    last_ms: int | None


async def output_span(bootstrap: str, topics: list[str]) -> OutputSpan:
    """Count the records on `topics` and their first and last CreateTime (ms).

    Read after the worker has finished, so the reading takes no CPU from the worker; the
    producer in the worker stamps each record when it sends it.
    """
    ends = await end_offsets(bootstrap, topics)
    wanted = {tp: end for tp, end in ends.items() if end > 0}
    span = OutputSpan(0, None, None)
    if not wanted:
        return span
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        consumer.assign(list(wanted))
        await consumer.seek_to_beginning(*wanted)
        remaining = dict(wanted)
        while remaining:
            batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for tp, records in batch.items():
                for r in records:
                    span.count += 1
                    span.first_ms = r.timestamp if span.first_ms is None else min(span.first_ms, r.timestamp)
                    span.last_ms = r.timestamp if span.last_ms is None else max(span.last_ms, r.timestamp)
                if records and records[-1].offset + 1 >= remaining.get(tp, 0):
                    remaining.pop(tp, None)
    finally:
        await consumer.stop()
    return span


# --- worker processes ------------------------------------------------------------------------


@dataclass
class WorkerProcess:
    """`python -m claimflow worker NAME`, exactly as production runs it."""

    name: str
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "claimflow", "worker", self.name],
                cwd=ROOT,
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def cpu_seconds(self) -> float | None:
        """User + system CPU the process has used, from /proc (what contention barely moves)."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_kb(self) -> int | None:
        """VmRSS from /proc: what the kernel holds for the process right now."""
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            return None
        return None

    def stop(self, timeout: float = 60.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(30)


def worker_env(bootstrap: str, prefix: str, database_url: str, **extra: str) -> dict[str, str]:
    return {
        "CLAIMFLOW_BOOTSTRAP_SERVERS": bootstrap,
        "CLAIMFLOW_TOPIC_PREFIX": prefix,
        "CLAIMFLOW_DATABASE_URL": database_url,
        "CLAIMFLOW_LOG_LEVEL": "INFO",
        # Off unless a measurement turns it on (bench/overhead.py compares the two).
        "CLAIMFLOW_METRICS_PORT": "0",
        **extra,
    }


def start_worker(
    env: BenchEnv, name: str, prefix: str, database_url: str, label: str, **settings: str
) -> WorkerProcess:
    # The workers' runtime files (faust's data dir) go under the run dir: the bench must not
    # depend on, or disturb, what var/ holds for the dev pipeline and the tests.
    home = env.run_dir / "home"
    (home / "faust").mkdir(parents=True, exist_ok=True)
    extra = {"CLAIMFLOW_HOME": str(home), **settings}
    worker = WorkerProcess(
        name, worker_env(env.bootstrap, prefix, database_url, **extra), env.run_dir / f"{label}.log"
    ).start()
    env.workers.append(worker)
    return worker


@contextlib.asynccontextmanager
async def running(worker: WorkerProcess) -> AsyncIterator[WorkerProcess]:
    try:
        yield worker
    finally:
        await asyncio.to_thread(worker.stop)


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an already sorted list (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]
