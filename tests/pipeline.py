"""Test helpers for the real pipeline: run workers as processes, produce and consume topics."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Record:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    partition: int
    offset: int


@dataclass
class WorkerProcess:
    """`claimflow worker NAME` in its own process, as it runs in production."""

    name: str
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> WorkerProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "claimflow", "worker", self.name],
            cwd=ROOT,
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        return self

    def kill(self) -> None:
        """SIGKILL: no chance to commit offsets or finish the batch."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)

    def stop(self, timeout: float = 60) -> int | None:
        """SIGTERM: finish the batch in hand, commit, exit."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
        return self.proc.returncode if self.proc else None

    def exited(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def worker_env(bootstrap: str, prefix: str, database_url: str, **extra: str) -> dict[str, str]:
    return {
        "CLAIMFLOW_BOOTSTRAP_SERVERS": bootstrap,
        "CLAIMFLOW_TOPIC_PREFIX": prefix,
        "CLAIMFLOW_DATABASE_URL": database_url,
        "CLAIMFLOW_LOG_LEVEL": "INFO",
        # Many test workers share the host: a test that scrapes one turns metrics on itself.
        "CLAIMFLOW_METRICS_PORT": "0",
        **extra,
    }


async def produce(
    bootstrap: str,
    topic: str,
    messages: Iterable[tuple[bytes | None, bytes | None]],  # a None value is a tombstone
    headers: Sequence[tuple[str, bytes]] | None = None,
    **security: Any,
) -> int:
    """`security`: a secured broker's client options (claimflow.broker.security.client_kwargs)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_request_size=4 * 1024 * 1024, **security
    )
    await producer.start()
    n = 0
    try:
        futures = []
        for key, value in messages:
            futures.append(await producer.send(topic, value, key=key, headers=list(headers or [])))
            n += 1
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return n


async def consume_until(
    bootstrap: str,
    topics: Sequence[str],
    done: Callable[[list[Record]], bool],
    timeout: float = 90.0,
    settle: float = 0.0,
    **security: Any,
) -> list[Record]:
    """Read topics from the beginning until `done(records)`; then read `settle` seconds more
    so that duplicates arriving late are seen too."""
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        **security,
    )
    await consumer.start()
    records: list[Record] = []
    deadline = time.monotonic() + timeout
    finished_at: float | None = None
    try:
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            for tp_records in batch.values():
                records.extend(
                    Record(r.topic, r.key, r.value, tuple(r.headers or ()), r.partition, r.offset)
                    for r in tp_records
                )
            if finished_at is None and done(records):
                finished_at = time.monotonic()
            if finished_at is not None and time.monotonic() - finished_at >= settle:
                break
    finally:
        await consumer.stop()
    return records
