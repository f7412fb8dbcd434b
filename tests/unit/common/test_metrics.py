"""Metric updates: counters read from the progress line's Stats, histograms once per batch."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from typing import Any

import orjson
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel
from sqlalchemy import create_engine

from claimflow.settings import Settings
from workers.common import metrics
from workers.common.batch import BatchRunner
from workers.common.consumer import BatchConsumer
from workers.common.messages import Incoming, Outgoing, Received


class _Note(BaseModel):
    type: str = "note"
    schema_version: int = 1
    n: int


class _Answer:
    """Answers each note; counts a made-up rule failure per odd note, as the formatter does."""

    name = "answer"
    models: tuple[type[_Note], ...] = (_Note,)

    def __init__(self) -> None:
        self.rule_failures: Counter[str] = Counter()

    def handle(self, conn: Any, batch: Sequence[Incoming[_Note]]) -> list[Outgoing]:
        self.rule_failures.update("ODD" for i in batch if i.message.n % 2)
        return [Outgoing("t.answers", None, str(i.message.n).encode()) for i in batch]


class _Sink:
    def __init__(self) -> None:
        self.sent: list[Outgoing] = []

    async def __call__(self, out: Sequence[Outgoing]) -> None:
        self.sent.extend(out)


def samples(worker: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of `worker` in the scrape, by name and its labels other than worker."""
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(generate_latest(REGISTRY).decode()):
        for s in family.samples:
            if s.labels.get("worker") == worker:
                labels = tuple(sorted((k, v) for k, v in s.labels.items() if k != "worker"))
                found[(s.name, labels)] = s.value
    return found


def note(offset: int, value: bytes) -> Received:
    return Received("t.notes", 0, offset, None, value)


def runner_for(worker: str, instrumented: bool = True) -> BatchRunner[_Note]:
    runner: BatchRunner[_Note] = BatchRunner(
        _Answer(), create_engine("sqlite://"), _Sink(), topic_prefix="t.", retry_delay=0.01
    )
    consumer = BatchConsumer(Settings(), "g", {"t.notes": runner}, max_batch=10)
    if instrumented:
        metrics.instrument(worker, {"t.notes": runner}, consumer)
    return runner


async def test_a_batch_shows_in_counters_and_histograms_once() -> None:
    worker = f"w{uuid.uuid4().hex[:6]}"
    runner = runner_for(worker)
    good = [note(i, orjson.dumps({"type": "note", "schema_version": 1, "n": i})) for i in range(3)]
    await runner.process([*good, note(3, b"not json")])

    got = samples(worker)
    assert got[("claimflow_messages_in_total", (("topic", "t.notes"),))] == 4
    assert got[("claimflow_batches_total", (("topic", "t.notes"),))] == 1
    assert got[("claimflow_messages_out_total", (("topic", "t.answers"),))] == 3
    assert got[("claimflow_messages_out_total", (("topic", "t.billing.dead-letter"),))] == 1
    assert got[("claimflow_dead_letters_total", (("kind", "not_json"),))] == 1
    assert got[("claimflow_charge_failures_total", (("rule", "ODD"),))] == 1
    assert got[("claimflow_batch_size_count", (("topic", "t.notes"),))] == 1
    assert got[("claimflow_batch_size_sum", (("topic", "t.notes"),))] == 4
    assert got[("claimflow_batch_seconds_count", (("topic", "t.notes"),))] == 1
    assert got[("claimflow_db_transaction_seconds_count", (("topic", "t.notes"),))] == 1
    assert got[("claimflow_failure_policy_state", (("claimflow_failure_policy_state", "running"),))] == 1
    assert got[("claimflow_assigned_partitions", ())] == 0

    await runner.process(good[:1])
    got = samples(worker)
    assert got[("claimflow_messages_in_total", (("topic", "t.notes"),))] == 5
    assert got[("claimflow_batch_size_count", (("topic", "t.notes"),))] == 2
    # The progress line and the metrics read the same counters.
    assert runner.stats.summary()["received"] == 5


async def test_a_worker_without_metrics_observes_nothing() -> None:
    worker = f"w{uuid.uuid4().hex[:6]}"
    runner = runner_for(worker, instrumented=False)
    await runner.process([note(0, orjson.dumps({"type": "note", "schema_version": 1, "n": 1}))])
    assert runner.metrics is None
    assert samples(worker) == {}
    assert runner.stats.received == 1


def test_the_failure_policy_reports_its_state_and_internal_errors() -> None:
    worker = f"w{uuid.uuid4().hex[:6]}"
    metrics.policy_state(worker, "running")
    metrics.internal_error(worker)
    metrics.internal_error(worker, 2)
    metrics.policy_state(worker, "stopped")
    got = samples(worker)
    state = "claimflow_failure_policy_state"
    assert got[(state, ((state, "stopped"),))] == 1
    assert got[(state, ((state, "running"),))] == 0
    assert got[("claimflow_internal_errors_total", ())] == 3


def test_lag_is_per_topic_from_highwater_and_committed() -> None:
    class _Positions:
        def assignment(self) -> set[Any]:
            from aiokafka import TopicPartition

            return {TopicPartition("a", 0), TopicPartition("a", 1), TopicPartition("b", 0)}

        def highwater(self, tp: Any) -> int | None:
            return {("a", 0): 10, ("a", 1): 5, ("b", 0): None}[(tp.topic, tp.partition)]

    consumer = BatchConsumer(Settings(), "g", {}, max_batch=10)
    consumer.consumer = _Positions()
    from aiokafka import TopicPartition

    consumer.committed = {TopicPartition("a", 0): 4}
    assert consumer.lag_by_topic() == {"a": 11}
    assert consumer.lag() == 11
