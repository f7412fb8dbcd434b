"""Metrics, health probes and trace context with the workers as they run in production:
their own processes, the real broker, a real database."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from claimflow.broker import create_topics
from claimflow.db import create_all, make_engine, unit_of_work
from claimflow.settings import Settings, get_settings
from contracts import ReprocessRequest
from contracts.codec import encode
from contracts.posting import Posting
from contracts.topics import (
    CHARGE_FAILURES,
    CHARGES,
    CLAIMS,
    POSTING_RESULTS,
    POSTINGS,
    REPROCESS_REQUESTS,
    REPROCESS_RESULTS,
)
from devtools.testing.ports import free_port
from tests.factories import visit
from tests.pipeline import Record, WorkerProcess, consume_until, produce, worker_env
from tests.unit.report.data import DAY1, fill
from workers.report import accounts
from workers.report.api import create_app

pytestmark = pytest.mark.integration

TODAY = dt.date.today()


def traceparent() -> tuple[str, bytes]:
    """A fresh W3C context: (trace id, header value) with the producer's own span id."""
    trace_id = uuid.uuid4().hex
    return trace_id, f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01".encode()


def trace_of(record: Record) -> tuple[str, str] | None:
    """(trace id, parent span id) of a record's traceparent header."""
    value = dict(record.headers).get("traceparent")
    if value is None:
        return None
    _, trace_id, span_id, _ = value.decode().split("-")
    return trace_id, span_id


@pytest.fixture
def prefix(kafka_bootstrap: str) -> str:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    create_topics(kafka_bootstrap, prefix)
    return prefix


@pytest.fixture
def workers(
    kafka_bootstrap: str, prefix: str, sqlite_url: str, tmp_path: Path
) -> Iterator[Callable[..., WorkerProcess]]:
    create_all(make_engine(sqlite_url))
    started: list[WorkerProcess] = []

    def start(name: str, **extra: str) -> WorkerProcess:
        env = worker_env(kafka_bootstrap, prefix, sqlite_url, CLAIMFLOW_RUN_MAX_CHARGES="100", **extra)
        w = WorkerProcess(name, env, tmp_path / f"{name}-{len(started)}.log").start()
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop(timeout=30)
        assert "Traceback" not in w.log_text(), w.log_text()[-3000:]


def serving_port(worker: WorkerProcess, timeout: float = 60.0) -> int:
    """The port the worker logged it serves metrics on."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(r"metrics_serving.*?port=(\d+)", worker.log_text())
        if found:
            return int(found.group(1))
        assert not worker.exited(), worker.log_text()[-3000:]
        time.sleep(0.2)
    raise AssertionError(f"no metrics_serving line: {worker.log_text()[-3000:]}")


def wait_ready(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    answer = None
    while time.monotonic() < deadline:
        answer = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
        if answer.status_code == 200:
            return
        time.sleep(0.2)
    raise AssertionError(f"never ready: {answer.text if answer else None}")


def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    answer = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert answer.status_code == 200
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
    }


def sample(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return found[(name, frozenset(labels.items()))]


async def test_formatter_serves_metrics_and_carries_each_charges_trace(
    kafka_bootstrap: str, prefix: str, workers: Callable[..., WorkerProcess]
) -> None:
    formatter = workers(
        "formatter", CLAIMFLOW_METRICS_PORT=str(free_port()), CLAIMFLOW_TRACE_EXPORTER="console"
    )
    port = serving_port(formatter)
    await asyncio.to_thread(wait_ready, port)
    live = httpx.get(f"http://127.0.0.1:{port}/livez", timeout=5)
    assert live.status_code == 200 and live.json()["status"] == "live"

    (good_trace, good_parent), (bad_trace, bad_parent) = traceparent(), traceparent()
    good, bad = visit(1), visit(2, modifiers=[])  # bad fails THERAPY_MODIFIER_MISSING
    await produce(kafka_bootstrap, prefix + CHARGES, [(b"A", encode(good))], [("traceparent", good_parent)])
    await produce(kafka_bootstrap, prefix + CHARGES, [(b"B", encode(bad))], [("traceparent", bad_parent)])

    topics = [prefix + CLAIMS, prefix + CHARGE_FAILURES]
    records = await consume_until(kafka_bootstrap, topics, lambda rs: len(rs) >= 2, settle=1.0)
    claims = [r for r in records if r.topic == prefix + CLAIMS]
    failures = [r for r in records if r.topic == prefix + CHARGE_FAILURES]
    assert len(claims) == 1 and len(failures) == 1, records
    claim_trace, failure_trace = trace_of(claims[0]), trace_of(failures[0])
    assert claim_trace is not None and failure_trace is not None
    assert claim_trace[0] == good_trace and failure_trace[0] == bad_trace
    # With an exporter, the answers' parent is the worker's processing span, not the producer's.
    assert claim_trace[1] != good_parent.decode().split("-")[2]
    assert f'"trace_id": "0x{good_trace}"' in formatter.log_text()

    found = scrape(port)
    charges = prefix + CHARGES
    assert sample(found, "claimflow_messages_in_total", worker="formatter", topic=charges) == 2
    assert sample(found, "claimflow_messages_out_total", worker="formatter", topic=prefix + CLAIMS) == 1
    assert sample(
        found, "claimflow_charge_failures_total", worker="formatter", rule="THERAPY_MODIFIER_MISSING"
    )
    assert sample(found, "claimflow_batch_size_sum", worker="formatter", topic=charges) == 2
    assert sample(found, "claimflow_db_transaction_seconds_count", worker="formatter", topic=charges) >= 1
    assert sample(found, "claimflow_consumer_lag", worker="formatter", topic=charges) == 0
    assert sample(found, "claimflow_assigned_partitions", worker="formatter") >= 1
    state = "claimflow_failure_policy_state"
    assert sample(found, state, worker="formatter", **{state: "running"}) == 1


async def test_a_postings_result_carries_its_trace(
    kafka_bootstrap: str, prefix: str, workers: Callable[..., WorkerProcess]
) -> None:
    posting = workers("posting", CLAIMFLOW_METRICS_PORT=str(free_port()))
    port = serving_port(posting)
    await asyncio.to_thread(wait_ready, port)
    trace_id, parent = traceparent()
    lost = Posting(
        posting_id="PO-1",
        bill_id="BILL-404",
        code="PK",
        amount=Decimal("10.00"),
        posted_at=dt.datetime(2024, 3, 4, 9, 0, tzinfo=dt.UTC),
    )
    await produce(
        kafka_bootstrap, prefix + POSTINGS, [(b"BILL-404", encode(lost))], [("traceparent", parent)]
    )
    records = await consume_until(kafka_bootstrap, [prefix + POSTING_RESULTS], lambda rs: len(rs) >= 1)
    # No exporter: the context passes through unchanged.
    assert dict(records[0].headers)["traceparent"] == parent
    assert trace_of(records[0]) == (trace_id, parent.decode().split("-")[2])
    found = scrape(port)
    assert sample(found, "claimflow_messages_in_total", worker="posting", topic=prefix + POSTINGS) == 1
    assert sample(found, "claimflow_messages_in_total", worker="posting", topic=prefix + CLAIMS) == 0


async def test_a_reprocess_requests_trace_reaches_the_replayed_charge_and_its_claim(
    kafka_bootstrap: str, prefix: str, workers: Callable[..., WorkerProcess]
) -> None:
    workers("formatter")
    workers("reprocess")
    await produce(kafka_bootstrap, prefix + CHARGES, [(b"A", encode(visit(2, modifiers=[])))])
    await consume_until(kafka_bootstrap, [prefix + CHARGE_FAILURES], lambda rs: len(rs) >= 1)

    trace_id, parent = traceparent()
    request = ReprocessRequest.model_validate(
        {
            "request_id": "R-1",
            "requested_by": "biller-1",
            "company_id": visit(2).company_id,
            "requested_at": dt.datetime.now(dt.UTC),
            "charge_ids": ["CH-2"],
            "corrections": {"CH-2": {"modifiers": ["GP"]}},
        },
        strict=False,
    )
    await produce(
        kafka_bootstrap, prefix + REPROCESS_REQUESTS, [(b"R-1", encode(request))], [("traceparent", parent)]
    )

    def done(rs: list[Record]) -> bool:
        return any(r.topic == prefix + CLAIMS for r in rs) and any(
            r.topic == prefix + REPROCESS_RESULTS for r in rs
        )

    topics = [prefix + CHARGES, prefix + CLAIMS, prefix + REPROCESS_RESULTS]
    records = await consume_until(kafka_bootstrap, topics, done, settle=1.0)
    replayed = [r for r in records if r.topic == prefix + CHARGES and trace_of(r) is not None]
    assert len(replayed) == 1, records
    for topic in (CHARGES, REPROCESS_RESULTS, CLAIMS):
        carried = [trace_of(r) for r in records if r.topic == prefix + topic and trace_of(r) is not None]
        assert carried and all(t is not None and t[0] == trace_id for t in carried), topic


def test_the_report_serves_metrics_probes_and_sends_the_callers_trace(
    kafka_bootstrap: str, topic_prefix: str, sqlite_url: str
) -> None:
    engine = make_engine(sqlite_url)
    create_all(engine)
    fill(engine)
    with unit_of_work(engine) as conn:
        token = accounts.create_user(conn, "ann", ["acme-therapy"], DAY1, token_days=0)
    settings: Settings = get_settings().model_copy(
        update={"bootstrap_servers": kafka_bootstrap, "topic_prefix": topic_prefix}
    )
    trace_id, parent = traceparent()
    with TestClient(create_app(settings, engine=engine)) as client:
        assert client.get("/failures", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert client.get("/failures/A1").status_code == 401
        assert client.get("/livez").json() == {"status": "live"}
        assert client.get("/readyz").json() == {"status": "ready", "database": "ok"}
        assert client.get("/healthz").json() == {"status": "ok"}
        answer = client.post(
            "/reprocess",
            headers={"Authorization": f"Bearer {token}", "traceparent": parent.decode()},
            json={"charge_ids": ["A1"]},
        )
        assert answer.status_code == 202, answer.text
        metrics = client.get("/metrics")
    assert metrics.status_code == 200
    found = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(metrics.text)
        for s in family.samples
    }
    requests = "claimflow_http_requests_total"
    assert sample(found, requests, method="GET", route="/failures", status="200") >= 1
    assert sample(found, requests, method="GET", route="/failures/{charge_id}", status="401") >= 1
    assert sample(found, requests, method="POST", route="/reprocess", status="202") >= 1
    assert sample(found, "claimflow_http_request_seconds_count", method="GET", route="/failures") >= 1

    topic = settings.topic(REPROCESS_REQUESTS)
    records = asyncio.run(consume_until(kafka_bootstrap, [topic], lambda rs: len(rs) >= 1, timeout=60))
    assert trace_of(records[0]) == (trace_id, parent.decode().split("-")[2])
