"""The real broker: topics, a produce/consume roundtrip, and faust-streaming on top of it
(rebalance, offset commit, and a restarted worker resuming from the committed offset)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from claimflow.broker import admin
from claimflow.settings import ROOT
from contracts.topics import CHARGES, CLAIMS, PARTITIONS
from devtools.kafka import broker_status, ensure_broker, stop_broker
from devtools.testing.ports import free_port_pair

pytestmark = pytest.mark.integration


async def test_topics_exist_with_their_partition_counts(kafka_bootstrap: str, topic_prefix: str) -> None:
    admin_client = await admin._admin(kafka_bootstrap, 30_000)
    try:
        described = {t["topic"]: len(t["partitions"]) for t in await admin_client.describe_topics()}
    finally:
        await admin_client.close()
    for name, count in PARTITIONS.items():
        assert described[f"{topic_prefix}{name}"] == count, name


async def test_create_topics_is_idempotent(kafka_bootstrap: str, topic_prefix: str) -> None:
    assert await admin.create_topics(kafka_bootstrap, topic_prefix) == []


async def test_produce_consume_roundtrip_keeps_a_key_on_one_partition(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topic = f"{topic_prefix}{CHARGES}"
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        sent = [
            await producer.send_and_wait(topic, f"v{i}".encode(), key=f"c1:p{i % 3}".encode())
            for i in range(30)
        ]
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"{topic_prefix}roundtrip",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    got: list[Any] = []
    try:
        async with asyncio.timeout(60):
            while len(got) < len(sent):
                batches = await consumer.getmany(timeout_ms=500)
                got += [m for msgs in batches.values() for m in msgs]
    finally:
        await consumer.stop()
    assert sorted(m.value for m in got) == sorted(f"v{i}".encode() for i in range(30))
    partitions_per_key: dict[bytes, set[int]] = {}
    for m in got:
        partitions_per_key.setdefault(m.key, set()).add(m.partition)
    assert all(len(p) == 1 for p in partitions_per_key.values())
    # Within one key, order is publish order.
    for key in partitions_per_key:
        values = [int(m.value[1:]) for m in sorted(got, key=lambda m: m.offset) if m.key == key]
        assert values == sorted(values)


FAUST_APP = textwrap.dedent(
    """
    import os
    import faust

    app = faust.App(
        os.environ["SMOKE_GROUP"],
        broker="kafka://" + os.environ["SMOKE_BOOTSTRAP"],
        store="memory://",
        web_enabled=False,
        broker_commit_every=5,
        broker_commit_interval=0.5,
        consumer_auto_offset_reset="earliest",
    )
    source = app.topic(os.environ["SMOKE_IN"], key_serializer="raw", value_serializer="raw")
    sink = app.topic(os.environ["SMOKE_OUT"], key_serializer="raw", value_serializer="raw")
    tag = os.environ["SMOKE_TAG"].encode()

    @app.agent(source)
    async def forward(stream):
        async for event in stream.events():
            await sink.send(key=event.key, value=event.value + b"|" + tag)
    """
)


class FaustWorker:
    """`faust -A smokeapp worker` in a subprocess, the way a real worker is run."""

    def __init__(self, app_dir: Path, env: dict[str, str], tag: str) -> None:
        self.log = app_dir / f"worker-{tag}.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "faust", "-A", "smokeapp", "worker", "-l", "warn", "--without-web"],
                cwd=app_dir,
                env={**env, "SMOKE_TAG": tag},
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> int:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


async def _collect(consumer: AIOKafkaConsumer, got: list[bytes], want: int, worker: FaustWorker) -> None:
    deadline = time.monotonic() + 90
    while len(got) < want:
        assert worker.alive(), f"faust worker died:\n{worker.output()}"
        assert time.monotonic() < deadline, f"got {len(got)}/{want}:\n{worker.output()}"
        batches = await consumer.getmany(timeout_ms=500)
        got += [m.value for msgs in batches.values() for m in msgs]


async def test_faust_agent_commits_and_a_restart_resumes(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    source, sink = f"{topic_prefix}{CHARGES}", f"{topic_prefix}{CLAIMS}"
    (tmp_path / "smokeapp.py").write_text(FAUST_APP)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
        "SMOKE_BOOTSTRAP": kafka_bootstrap,
        "SMOKE_IN": source,
        "SMOKE_OUT": sink,
        "SMOKE_GROUP": f"{topic_prefix}smoke",
    }
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    consumer = AIOKafkaConsumer(sink, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest")
    await producer.start()
    await consumer.start()
    got: list[bytes] = []
    try:
        for i in range(12):
            await producer.send_and_wait(source, f"m{i}".encode(), key=f"k{i % 4}".encode())
        first = FaustWorker(tmp_path, env, "run1")
        try:
            await _collect(consumer, got, 12, first)
        finally:
            # SIGTERM: faust commits what it processed before it leaves the group.
            assert first.stop() == 0, first.output()
        for i in range(12, 18):
            await producer.send_and_wait(source, f"m{i}".encode(), key=f"k{i % 4}".encode())
        second = FaustWorker(tmp_path, env, "run2")
        try:
            await _collect(consumer, got, 18, second)
            await asyncio.sleep(2)  # anything re-processed would show up now
            batches = await consumer.getmany(timeout_ms=1000)
            got += [m.value for msgs in batches.values() for m in msgs]
        finally:
            assert second.stop() == 0, second.output()
    finally:
        await consumer.stop()
        await producer.stop()
    assert sorted(got) == sorted(
        [f"m{i}|run1".encode() for i in range(12)] + [f"m{i}|run2".encode() for i in range(12, 18)]
    )


def test_status_reports_the_running_broker(kafka_bootstrap: str, topic_prefix: str) -> None:
    status = broker_status(int(kafka_bootstrap.rsplit(":", 1)[1]))
    assert status.running
    assert f"{topic_prefix}{CHARGES}" in status.topics


def test_start_status_stop_lifecycle_on_another_port(tmp_path: Path) -> None:
    # Its own broker on a free port (use_env=False), so it runs even where
    # KAFKA_BOOTSTRAP_SERVERS names an external cluster for the other tests.
    port = free_port_pair()
    run_dir = tmp_path / "broker"
    try:
        bootstrap = ensure_broker(port, data_dir=run_dir, prefix="life.", use_env=False)
        assert bootstrap == f"127.0.0.1:{port}"
        status = broker_status(port, data_dir=run_dir)
        assert status.running and status.pid is not None and not status.external
        assert f"life.{CHARGES}" in status.topics
        # A second call finds it running and changes nothing.
        assert ensure_broker(port, data_dir=run_dir, prefix="life.", use_env=False) == bootstrap
        assert broker_status(port, data_dir=run_dir).pid == status.pid
    finally:
        stopped = stop_broker(port, data_dir=run_dir)
    assert stopped
    assert not broker_status(port, data_dir=run_dir).running
    assert "Kafka Server started" in (run_dir / "server.log").read_text()
