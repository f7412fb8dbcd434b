"""Prometheus metrics of a worker, read from the counters its progress line already keeps.

Counters (messages in and out, dead letters, batches, database retries, failures by rule)
are not incremented a second time for Prometheus: `StatsCollector` reads each runner's
`Stats` (and the formatter's rule counts) when `/metrics` is scraped, so the hot path pays
nothing for them. Lag is computed at scrape time from the consumer's positions, as the
progress line does. Only the histograms are observed as the work happens, once per batch
(never per message), and only in a worker that serves metrics (`instrument`).

The failure policy reports its state with `policy_state` and `internal_error`.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prometheus_client import REGISTRY, Counter, Enum, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from workers.common.batch import BatchRunner
    from workers.common.consumer import BatchConsumer

#: Seconds: from 1 ms (a small batch at low load) to a minute (a run of 2,000 charges
#: behind a slow database).
SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: Messages: a batch is what was fetched, 1 at low load, up to the worker's maximum (2,000
#: charges, 500 postings, 20 requests).
SIZE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)

BATCH_SIZE = Histogram(
    "claimflow_batch_size",
    "Messages in one batch (one database transaction)",
    ["worker", "topic"],
    buckets=SIZE_BUCKETS,
)
BATCH_SECONDS = Histogram(
    "claimflow_batch_seconds",
    "Processing latency of a batch: from decoding it to the broker having every answer",
    ["worker", "topic"],
    buckets=SECONDS_BUCKETS,
)
TRANSACTION_SECONDS = Histogram(
    "claimflow_db_transaction_seconds",
    "One batch's database transaction, from BEGIN to COMMIT",
    ["worker", "topic"],
    buckets=SECONDS_BUCKETS,
)
POLICY_STATE = Enum(
    "claimflow_failure_policy_state",
    "The failure policy's state: running (consuming), retrying (the database is away) or "
    "stopped (internal errors passed the threshold; the worker exits)",
    ["worker"],
    states=["running", "retrying", "stopped"],
)
INTERNAL_ERRORS = Counter(
    "claimflow_internal_errors",
    "Handler errors the failure policy caught (a message dead-lettered as internal, or a stop)",
    ["worker"],
)


def policy_state(worker: str, state: str) -> None:
    """Called by the failure policy whenever its state changes."""
    POLICY_STATE.labels(worker).state(state)


def internal_error(worker: str, count: int = 1) -> None:
    """Called by the failure policy for each internal error it handles."""
    INTERNAL_ERRORS.labels(worker).inc(count)


class BatchMetrics:
    """One runner's histograms, with their labels resolved once rather than per batch."""

    def __init__(self, worker: str, topic: str) -> None:
        self.size = BATCH_SIZE.labels(worker, topic)
        self.seconds = BATCH_SECONDS.labels(worker, topic)
        self.transaction_seconds = TRANSACTION_SECONDS.labels(worker, topic)

    def batch(self, received: int, seconds: float) -> None:
        self.size.observe(received)
        self.seconds.observe(seconds)

    def transaction(self, seconds: float) -> None:
        self.transaction_seconds.observe(seconds)


@dataclass(frozen=True)
class Watched:
    worker: str
    routes: Mapping[str, BatchRunner[Any]]
    consumer: BatchConsumer


class StatsCollector(Collector):
    """Turns the watched workers' progress counters into Prometheus samples at scrape time."""

    def __init__(self) -> None:
        self.watched: dict[str, Watched] = {}

    def describe(self) -> Iterable[Metric]:
        # Nothing to describe up front: registering must not read counters that do not exist yet.
        return []

    def collect(self) -> Iterator[Metric]:
        received = CounterMetricFamily(
            "claimflow_messages_in", "Messages read and handled, by input topic", labels=["worker", "topic"]
        )
        sent = CounterMetricFamily(
            "claimflow_messages_out",
            "Messages published and delivered, by output topic",
            labels=["worker", "topic"],
        )
        batches = CounterMetricFamily(
            "claimflow_batches", "Batches handled, by input topic", labels=["worker", "topic"]
        )
        dead = CounterMetricFamily(
            "claimflow_dead_letters",
            "Messages sent to the dead-letter topic, by kind",
            labels=["worker", "kind"],
        )
        retries = CounterMetricFamily(
            "claimflow_db_retries",
            "Batch transactions retried because the database was unavailable",
            labels=["worker", "topic"],
        )
        failures = CounterMetricFamily(
            "claimflow_charge_failures",
            "Failing rule results of formatted charges, by rule code (a charge can fail several)",
            labels=["worker", "rule"],
        )
        lag = GaugeMetricFamily(
            "claimflow_consumer_lag",
            "Messages waiting on this process's partitions (high watermark - committed)",
            labels=["worker", "topic"],
        )
        partitions = GaugeMetricFamily(
            "claimflow_assigned_partitions", "Partitions assigned to this process", labels=["worker"]
        )
        idle = GaugeMetricFamily(
            "claimflow_seconds_since_progress",
            "Seconds since the consumer loop last polled or finished a batch",
            labels=["worker"],
        )
        for w in list(self.watched.values()):
            out: Tally[str] = Tally()
            kinds: Tally[str] = Tally()
            rules: Tally[str] = Tally()
            for topic, runner in w.routes.items():
                stats = runner.stats
                received.add_metric([w.worker, topic], stats.received)
                batches.add_metric([w.worker, topic], stats.batches)
                retries.add_metric([w.worker, topic], stats.db_retries)
                # copy() is one C call: safe beside the handler thread that may be counting.
                out.update(stats.published.copy())
                kinds.update(stats.dead_letters.copy())
                counted = getattr(runner.handler, "rule_failures", None)
                if counted is not None:
                    rules.update(counted.copy())
            for topic, n in sorted(out.items()):
                sent.add_metric([w.worker, topic], n)
            for kind, n in sorted(kinds.items()):
                dead.add_metric([w.worker, kind], n)
            for rule, n in sorted(rules.items()):
                failures.add_metric([w.worker, rule], n)
            for topic, n in sorted(w.consumer.lag_by_topic().items()):
                lag.add_metric([w.worker, topic], n)
            consumer = w.consumer.consumer
            partitions.add_metric([w.worker], len(consumer.assignment()) if consumer is not None else 0)
            idle.add_metric([w.worker], max(time.monotonic() - w.consumer.beat, 0.0))
        yield from (received, sent, batches, dead, retries, failures, lag, partitions, idle)


COLLECTOR = StatsCollector()
REGISTRY.register(COLLECTOR)


def instrument(worker: str, routes: Mapping[str, BatchRunner[Any]], consumer: BatchConsumer) -> None:
    """Serve this worker's counters and observe its batches from now on."""
    for topic, runner in routes.items():
        runner.metrics = BatchMetrics(worker, topic)
    POLICY_STATE.labels(worker).state("running")
    COLLECTOR.watched[worker] = Watched(worker, dict(routes), consumer)
