"""End-to-end latency at a steady offered load: publish a message, time until its answer.

The load is a fraction (20%) of the peak the same worker reached in the throughput bench of
the same run, sent in 10 ms ticks; each message's publish time is taken when it is handed to
the producer, its answer time when the answer reaches this process's consumer, on the same
clock. Formatter: a charge is answered by the claim that carries it or its failure.
Posting: a posting is answered by its result. A batch is what the worker has fetched, so
latency is the time a message waits for the batch before it plus its own batch's work.

The first WARMUP_SECONDS of load are sent but not counted: a worker's first batches pay
once for what every later batch finds ready (compiled SQL, warm caches, the first fetch
after joining the group), and at this load the queue they build takes a while to drain.
The percentiles are of the steady state the issue asks for; the warm-up's own worst case
is reported beside them (`warmup_max_ms`) so a slow start is still visible.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench import data
from bench.common import BenchEnv, GroupWatch, frozen_heap, percentile, start_worker
from contracts.topics import CHARGE_FAILURES, CHARGES, CLAIMS, POSTING_RESULTS, POSTINGS

TICK = 0.01
#: Load sent before the measured window, to take the worker past its cold start.
WARMUP_SECONDS = 5.0
#: How long to wait for the last answers after the load stops.
DRAIN_SECONDS = 10.0


@contextlib.contextmanager
def no_full_collections() -> Iterator[None]:
    """Keep this process's own full garbage collections out of the times it takes.

    The sender and the collector run in this process. A full collection walks everything
    it holds (the templates, every answer so far) and took 120-300 ms here: the sender
    stopped, then caught up with a burst of a few hundred messages, and answers that
    arrived meanwhile were stamped late. Both landed in the tail (docs/PERFORMANCE.md).
    Full collections wait until the load is over; young ones still run, so cyclic
    garbage stays bounded.
    """
    young, middle, _ = gc.get_threshold()
    with frozen_heap((young, middle, 1_000_000)):
        yield


def _charge_answers(value: bytes) -> list[str]:
    doc = orjson.loads(value)
    if doc.get("type") == "Claim":
        return [line["charge_id"] for line in doc.get("lines", ())]
    charge_id = doc.get("charge_id")
    return [charge_id] if charge_id else []


def _posting_answers(value: bytes) -> list[str]:
    posting_id = orjson.loads(value).get("posting_id")
    return [posting_id] if posting_id else []


async def _steady(
    env: BenchEnv,
    prefix: str,
    worker: str,
    input_topic: str,
    answer_topics: list[str],
    messages: Iterator[tuple[str, bytes, bytes]],
    answers_of: Callable[[bytes], list[str]],
    rate: float,
    seconds: float,
    database_url: str,
    label: str,
) -> dict[str, Any]:
    proc = start_worker(env, worker, prefix, database_url, label)
    consumer = AIOKafkaConsumer(
        *[prefix + t for t in answer_topics],
        bootstrap_servers=env.bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    # No linger: each message leaves at once, as an EHR's single charge would.
    producer = AIOKafkaProducer(bootstrap_servers=env.bootstrap, acks="all", linger_ms=0)
    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    warmup: list[float] = []
    measured_from = float("inf")  # set when the warm-up load has been sent
    stop = asyncio.Event()

    async def collect() -> None:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=100)
            now = time.monotonic()
            for records in batch.values():
                for r in records:
                    for ident in answers_of(r.value):
                        t0 = sent_at.pop(ident, None)
                        if t0 is not None:
                            (latencies if t0 >= measured_from else warmup).append((now - t0) * 1000)

    try:
        async with GroupWatch(env.bootstrap, f"{prefix}claimflow-{worker}", prefix + input_topic) as watch:
            await watch.wait_stable(timeout=120, proc=proc)
        await consumer.start()
        await producer.start()
        with no_full_collections():
            collector = asyncio.create_task(collect())
            total = int(rate * (WARMUP_SECONDS + seconds))
            started = time.monotonic()
            measured_from = started + WARMUP_SECONDS
            sent = 0
            pending = []
            while sent < total:
                # Catch up to where a perfectly steady sender would be by now.
                due = min(total, int((time.monotonic() - started) * rate) + 1)
                while sent < due:
                    ident, key, value = next(messages)
                    sent_at[ident] = time.monotonic()
                    pending.append(await producer.send(prefix + input_topic, value, key=key))
                    sent += 1
                await asyncio.sleep(TICK)
            offered_seconds = time.monotonic() - started
            counted = sum(1 for t in sent_at.values() if t >= measured_from) + len(latencies)
            await asyncio.gather(*pending)
            drain_until = time.monotonic() + DRAIN_SECONDS
            while sent_at and time.monotonic() < drain_until:
                await asyncio.sleep(0.1)
            stop.set()
            await collector
    finally:
        stop.set()
        await producer.stop()
        await consumer.stop()
        await asyncio.to_thread(proc.stop)
    latencies.sort()
    return {
        "offered_per_s": round(rate, 1),
        "achieved_offered_per_s": round(sent / offered_seconds, 1) if offered_seconds else None,
        "seconds": seconds,
        "sent": sent,
        "warmup_seconds": WARMUP_SECONDS,
        "warmup_sent": sent - counted,
        "warmup_max_ms": _ms(max(warmup) if warmup else None),
        "answered": len(latencies),
        "unanswered": len(sent_at),
        "p50_ms": _ms(percentile(latencies, 50)),
        "p99_ms": _ms(percentile(latencies, 99)),
        "p999_ms": _ms(percentile(latencies, 99.9)),
        "max_ms": _ms(latencies[-1] if latencies else None),
        "log": str(proc.log_path),
    }


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _charges() -> Iterator[tuple[str, bytes, bytes]]:
    template = data._charge_dicts(data.TEMPLATE_CHARGES)
    cycle = 0
    while True:
        for t in template:
            if t.get("claim_delay_until"):
                continue  # a held charge has no answer until its date: nothing to time
            key, value = data.charge_message(t, cycle)
            yield data.charge_id_of(cycle, t), key, value
        cycle += 1


def _postings(cycles: int) -> Iterator[tuple[str, bytes, bytes]]:
    template = data.posting_template().postings
    seen: set[str] = set()
    for cycle in range(cycles):
        for t in template:
            key, value = data.posting_message(t, cycle)
            ident = f"{t['posting_id']}.c{cycle}"
            if ident in seen:
                continue  # a redelivered posting_id is answered once per delivery: time the first
            seen.add(ident)
            yield ident, key, value


async def formatter(env: BenchEnv, rate: float, seconds: float) -> dict[str, Any]:
    prefix = env.prefix("fmtlat")
    _create_topics(env, prefix)
    return await _steady(
        env,
        prefix,
        "formatter",
        CHARGES,
        [CLAIMS, CHARGE_FAILURES],
        _charges(),
        _charge_answers,
        rate,
        seconds,
        env.sqlite_url("formatter-latency"),
        "formatter-latency",
    )


async def posting(env: BenchEnv, rate: float, seconds: float) -> dict[str, Any]:
    prefix = env.prefix("pstlat")
    _create_topics(env, prefix)
    url = env.sqlite_url("posting-latency")
    cycles = data.cycles_for(int(rate * seconds) * 2 + 1)
    await asyncio.to_thread(data.seed_bills, url, cycles)
    return await _steady(
        env,
        prefix,
        "posting",
        POSTINGS,
        [POSTING_RESULTS],
        _postings(cycles),
        _posting_answers,
        rate,
        seconds,
        url,
        "posting-latency",
    )


def _create_topics(env: BenchEnv, prefix: str) -> None:
    from claimflow.broker import create_topics

    create_topics(env.bootstrap, prefix)
