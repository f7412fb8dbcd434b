"""The ceilings: what plain Python moves through this broker, and what the broker itself moves.

- `python_passthrough`: an aiokafka consumer reads a topic and produces each message to
  another, batch by batch, waiting for delivery before reading on (the shape of the workers'
  loop), with no framework and no work. A worker can not beat it on this machine.
- `rounds` and `summarize`: the ceiling the ratios divide by. One round is a few seconds
  while a worker runs minutes, and on a shared machine one round moved 14% between two
  runs; so the bench times several rounds before the workers and as many after, and
  divides by their mean, reporting the spread beside it.
- `kafka_perf`: Kafka's own ProducerPerformance and ConsumerPerformance from the jars of the
  same version, on the same broker: the broker's limit, far above what Python reaches.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, ConsumerRecord

from bench import data
from bench.common import BENCH_HOME, BenchEnv, create_plain_topics, frozen_heap, produce, run_id
from workers.common.collector import GC_THRESHOLD


class _Assigned(ConsumerRebalanceListener):
    def __init__(self) -> None:
        self.at: float | None = None

    async def on_partitions_revoked(self, revoked: Any) -> None:
        return None

    async def on_partitions_assigned(self, assigned: Any) -> None:
        if assigned and self.at is None:
            self.at = time.time()


#: Work done on each fetched batch before its messages are passed on (bench.ladder).
BatchWork = Callable[[list[ConsumerRecord[bytes, bytes]]], Awaitable[None]]


async def python_passthrough(
    env: BenchEnv, n: int, work: BatchWork | None = None, source: str | None = None
) -> dict[str, Any]:
    """The ceiling; with `work`, the same loop doing that work on each batch (bench.ladder).

    Reads `source` when given (a topic `preload` filled with `n` charges), else its own.
    """
    tag = run_id()
    sink = f"bench.ceiling.{tag}.out"
    await create_plain_topics(env.bootstrap, [sink])
    if source is None:
        source = await preload(env, n)

    # The workers' collector settings too (workers/common/collector.py): collecting the
    # bench's own heap (its imports, templates, results) slowed this loop by about 18% on
    # average over six pairs (docs/PERFORMANCE.md), which no worker process pays.
    with frozen_heap(GC_THRESHOLD):
        # The same client settings as the workers' faust app (workers/common/app.py).
        consumer = AIOKafkaConsumer(
            bootstrap_servers=env.bootstrap,
            group_id=f"bench-ceiling-{tag}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            max_poll_records=1000,
        )
        producer = AIOKafkaProducer(
            bootstrap_servers=env.bootstrap, acks="all", linger_ms=5, max_batch_size=256 * 1024
        )
        assigned = _Assigned()
        await producer.start()
        await consumer.start()
        consumer.subscribe([source], listener=assigned)
        moved = 0
        try:
            while moved < n:
                batch = await consumer.getmany(timeout_ms=1000, max_records=1000)
                if work is not None and batch:
                    await work([r for records in batch.values() for r in records])
                futures = [
                    await producer.send(sink, r.value, key=r.key)
                    for records in batch.values()
                    for r in records
                ]
                await asyncio.gather(*futures)
                if batch:
                    await consumer.commit()
                moved += len(futures)
            ended = time.time()
        finally:
            await consumer.stop()
            await producer.stop()
    started = assigned.at or ended
    seconds = ended - started
    return {
        "messages": moved,
        "seconds": round(seconds, 3),
        "msg_per_s": round(moved / seconds, 1) if seconds > 0 else None,
        "payload_bytes_avg": avg_charge_bytes(),
        # Results before 2026-11-23 08:00 had Python's default collector here (an ~18%
        # lower ceiling): this says which scale a results file is on.
        "collector": {"heap_frozen": True, "threshold": list(GC_THRESHOLD)},
    }


def avg_charge_bytes() -> int:
    sample = list(data.charge_messages(200))
    return round(sum(len(v) for _, v in sample) / len(sample))


async def preload(env: BenchEnv, n: int) -> str:
    """A fresh topic holding `n` charges, for the ceiling's loop to read."""
    source = f"bench.ceiling.{run_id()}.in"
    await create_plain_topics(env.bootstrap, [source])
    await produce(env.bootstrap, source, data.charge_messages(n))
    return source


async def rounds(env: BenchEnv, n: int, count: int, when: str) -> list[dict[str, Any]]:
    """`count` ceilings of `n` messages each, one after the other, labelled `when`.

    The rounds read one preloaded topic, each in a consumer group of its own.
    """
    source = await preload(env, n)
    return [{**await python_passthrough(env, n, source=source), "when": when} for _ in range(count)]


def summarize(timed: list[dict[str, Any]]) -> dict[str, Any]:
    """The ceiling of the run: the mean rate of its rounds, their range and spread.

    `spread_pct` is (max - min) / mean: how far apart the rounds of one run lay, so how
    far a ratio could have moved had it been divided by a single round instead.
    """
    ok = [r for r in timed if r.get("msg_per_s")]
    if not ok:
        return {"error": "no ceiling round finished", "rounds": timed}
    rates = [r["msg_per_s"] for r in ok]
    mean = statistics.fmean(rates)
    sides = {
        f"mean_{when}": round(statistics.fmean(r["msg_per_s"] for r in ok if r["when"] == when), 1)
        for when in dict.fromkeys(r["when"] for r in ok)
    }
    return {
        "messages": sum(r["messages"] for r in ok),
        "msg_per_s": round(mean, 1),
        "min_msg_per_s": min(rates),
        "max_msg_per_s": max(rates),
        "spread_pct": round((max(rates) - min(rates)) / mean * 100, 1),
        **sides,
        "rounds": [
            {k: r.get(k) for k in ("when", "messages", "seconds", "msg_per_s", "error") if k in r}
            for r in timed
        ],
        "payload_bytes_avg": ok[0]["payload_bytes_avg"],
        "collector": ok[0]["collector"],
    }


# --- Kafka's own tools -----------------------------------------------------------------------

TOOLS_POM = """<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by bench.ceiling: resolves Kafka's perf tools (not part of the broker's jars). -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>claimflow.local</groupId>
  <artifactId>kafka-bench-tools</artifactId>
  <version>{version}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka-tools</artifactId>
      <version>{version}</version>
    </dependency>
  </dependencies>
</project>
"""


def tools_classpath(version: str) -> str:
    """The broker's libs plus kafka-tools and its dependencies, resolved once into var/bench."""
    from claimflow.settings import get_settings
    from devtools.kafka import maven

    broker_libs = maven.resolve_kafka(get_settings().home, version)
    if any(broker_libs.glob(f"kafka-tools-{version}.jar")):
        return f"{broker_libs}/*"
    libs = maven.copy_dependencies(
        BENCH_HOME / "kafka-tools" / version,
        TOOLS_POM.format(version=version),
        expect_jar=f"kafka-tools-{version}.jar",
        label=f"kafka-tools:{version}",
    )
    # kafka-tools' own dependencies first; the broker's libs add the log4j binding.
    return f"{libs}/*:{broker_libs}/*"


def _java(classpath: str, main: str, args: list[str], timeout: float) -> str:
    from devtools.kafka.kraft import java_executable

    proc = subprocess.run(
        [java_executable(), "-Xmx512m", "-XX:+UseSerialGC", "-cp", classpath, main, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{main} failed ({proc.returncode}): {(proc.stdout + proc.stderr)[-1500:]}")
    return proc.stdout


def kafka_perf(env: BenchEnv, n: int, record_size: int, version: str) -> dict[str, Any]:
    classpath = tools_classpath(version)
    topic = f"bench.perf.{run_id()}"
    asyncio.run(create_plain_topics(env.bootstrap, [topic]))
    produced = _java(
        classpath,
        "org.apache.kafka.tools.ProducerPerformance",
        [
            "--topic",
            topic,
            "--num-records",
            str(n),
            "--record-size",
            str(record_size),
            "--throughput",
            "-1",
            "--producer-props",
            f"bootstrap.servers={env.bootstrap}",
            "acks=all",
            "linger.ms=5",
            "batch.size=262144",
        ],
        timeout=900,
    )
    # "N records sent, X records/sec (Y MB/sec), A ms avg latency, M ms max latency, ..."
    last = [line for line in produced.splitlines() if "records sent" in line][-1]
    match = re.search(r"([\d.]+) records/sec \(([\d.]+) MB/sec\)", last)
    consumed = _java(
        classpath,
        "org.apache.kafka.tools.ConsumerPerformance",
        ["--bootstrap-server", env.bootstrap, "--topic", topic, "--messages", str(n), "--timeout", "60000"],
        timeout=900,
    )
    consumer = _parse_consumer_perf(consumed)
    return {
        "record_size": record_size,
        "messages": n,
        "producer_msg_per_s": float(match.group(1)) if match else None,
        "producer_mb_per_s": float(match.group(2)) if match else None,
        "consumer_msg_per_s": consumer.get("nMsg.sec"),
        "consumer_mb_per_s": consumer.get("MB.sec"),
    }


def _parse_consumer_perf(out: str) -> dict[str, float]:
    """The CSV-ish report: a header line naming the columns, then one line of values."""
    lines = [line for line in out.splitlines() if line.strip()]
    for i, line in enumerate(lines[:-1]):
        if "nMsg.sec" in line:
            names = [x.strip() for x in line.split(",")]
            values = [x.strip() for x in lines[i + 1].split(",")]
            parsed: dict[str, float] = {}
            for name, value in zip(names, values, strict=False):
                try:
                    parsed[name] = float(value)
                except ValueError:
                    continue
            return parsed
    return {}


def tools_dir() -> Path:
    return BENCH_HOME / "kafka-tools"
