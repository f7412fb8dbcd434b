"""The reprocess worker (and the formatter behind it) under SIGKILL and commit-then-crash.

Charges go through the formatter, a share of them fail; reprocess requests (by ids, by the
report's filters, with and without corrections, overlapping, some delivered twice) stream
in while the reprocess worker and the formatter die and restart. Afterwards: every request
has exactly one result (identical if re-published), no charge is replayed twice (within a
request or across requests: new versions unique), every replayed version was published and
answered, no failure is left `reprocessing`, and no charge ends on two claims.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from contracts import FailureFilters, ReprocessRequest
from contracts.codec import encode
from contracts.reprocess import MAX_CORRECTED_FIELDS, MAX_CORRECTION_VALUE_CHARS
from contracts.topics import (
    CHARGE_FAILURES,
    CHARGES,
    CLAIMS,
    REPROCESS_REQUESTS,
    REPROCESS_RESULTS,
)
from devtools.sample import SampleCharge, generate_samples
from tests.faults.harness import (
    Cluster,
    Outcome,
    charge_messages,
    check_reprocess,
    describe,
    feed_and_break,
    read_outcome,
    read_topics,
    record_figures,
    scale,
    stored_ids,
    timeout,
)
from tests.pipeline import Record, produce
from workers.reprocess import storage as rs
from workers.reprocess.corrections import PROTECTED

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.timeout(timeout())]

REQUESTED_AT = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


def fixes(broken: SampleCharge, valid: SampleCharge) -> dict[str, Any]:
    """The corrections that turn a broken sample charge back into the valid one it was made
    from (generate_samples draws the valid charges before it breaks any), within the
    contract's bounds: a value too long to send whole (a charge's payers) is corrected field
    by field, as a biller's page would, and a charge whose fix cannot be sent is replayed
    uncorrected (it fails again, which the checks allow)."""
    was = valid.charge.model_dump(mode="json")
    now = broken.charge.model_dump(mode="json")
    out: dict[str, Any] = {}
    for key, value in was.items():
        if key not in PROTECTED:
            _fix(key, value, now.get(key), out)
    fits = len(out) <= MAX_CORRECTED_FIELDS and all(
        len(json.dumps(v, default=str)) <= MAX_CORRECTION_VALUE_CHARS for v in out.values()
    )
    return out if fits else {}


def _fix(path: str, was: Any, now: Any, out: dict[str, Any]) -> None:
    if was == now:
        return
    same_shape = (isinstance(was, dict) and isinstance(now, dict) and was.keys() == now.keys()) or (
        isinstance(was, list) and isinstance(now, list) and len(was) == len(now)
    )
    if not same_shape or len(json.dumps(was, default=str)) <= MAX_CORRECTION_VALUE_CHARS:
        out[path] = was
        return
    for key, value in was.items() if isinstance(was, dict) else enumerate(was):
        _fix(f"{path}.{key}", value, now[key], out)


def make_requests(
    items: list[SampleCharge], valid: list[SampleCharge], rng: random.Random, count: int
) -> tuple[list[ReprocessRequest], list[tuple[bytes, bytes]]]:
    """Seeded requests, and the messages that carry them (a share sent twice)."""
    failed: dict[str, list[int]] = defaultdict(list)
    claimed: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(items):
        (claimed if s.is_valid else failed)[s.charge.company_id].append(i)
    companies = sorted(failed)
    requests: list[ReprocessRequest] = []
    messages: list[tuple[bytes, bytes]] = []
    for n in range(count):
        company = rng.choice(companies)
        picked = rng.sample(failed[company], min(len(failed[company]), rng.randint(1, 4)))
        draw = rng.random()
        ids = [items[i].charge.charge_id for i in picked]
        corrections = {
            items[i].charge.charge_id: fixes(items[i], valid[i]) for i in picked if rng.random() < 0.6
        }
        filters = None
        if draw < 0.2 and claimed[company]:
            # A charge that already made a claim: must be skipped, never claimed twice.
            ids.append(items[rng.choice(claimed[company])].charge.charge_id)
        elif draw < 0.4:
            # The report's search: every open failure of one practice.
            ids = []
            filters = FailureFilters(practice_id=items[picked[0]].charge.practice_id)
        request = ReprocessRequest(
            request_id=f"rq-{n:05d}",
            requested_by="biller-01",
            company_id=company,
            charge_ids=ids,
            filters=filters,
            corrections={k: v for k, v in corrections.items() if k in ids},
            requested_at=REQUESTED_AT + dt.timedelta(minutes=n),
        )
        requests.append(request)
        message = (request.request_id.encode(), encode(request))
        messages.append(message)
        if rng.random() < 0.1:
            messages.insert(rng.randrange(len(messages) + 1), message)  # delivered twice
    return requests, messages


def replayed_versions(records: list[Record]) -> set[tuple[str, int]]:
    out: set[tuple[str, int]] = set()
    for r in records:
        if r.topic.endswith(REPROCESS_RESULTS) and r.value is not None:
            for x in orjson.loads(r.value)["replayed"]:
                out.add((str(x["charge_id"]), int(x["new_version"])))
    return out


def settled(records: list[Record], asked: set[str]) -> bool:
    """Every request has a result and the formatter answered every version they replayed."""
    results = {
        str(orjson.loads(r.value)["request_id"])
        for r in records
        if r.topic.endswith(REPROCESS_RESULTS) and r.value is not None
    }
    if not results >= asked:
        return False
    outcome = Outcome.of(records)
    answered = {(line.charge_id, line.charge_version) for c in outcome.claims for line in c.lines} | {
        (f.charge_id, f.charge_version) for f in outcome.failures
    }
    return replayed_versions(records) <= answered


def committed_unpublished(db_url: str, records: list[Record]) -> int:
    stored = stored_ids(db_url, rs.requests.c.request_id)
    published = {str(orjson.loads(r.value)["request_id"]) for r in records if r.value is not None}
    return len(stored - published)


async def test_reprocess_sigkill_and_crash_after_commit(
    kafka_bootstrap: str, topic_prefix: str, pg_database: str, cluster: Callable[..., Cluster], seed: int
) -> None:
    sc = scale()
    rng = random.Random(seed + 20)
    n = max(200, sc.charges // 2)
    today = dt.date.today()
    items = generate_samples(n, seed + 20, today)
    valid = generate_samples(n, seed + 20, today, bad_share=0.0)
    assert [s.charge.charge_id for s in items] == [s.charge.charge_id for s in valid]
    requests, messages = make_requests(items, valid, rng, max(30, sc.charges // 10))
    c = cluster(kafka_bootstrap, topic_prefix, pg_database)
    started = time.monotonic()
    await produce(kafka_bootstrap, c.topic(CHARGES), charge_messages(items))
    workers = {"formatter": c.start("formatter"), "reprocess": c.start("reprocess")}
    expected = {s.charge.charge_id for s in items}
    await read_outcome(kafka_bootstrap, topic_prefix, lambda o: o.answered() >= expected, timeout=180)

    async def unpublished() -> int:
        now = await read_topics(kafka_bootstrap, [c.topic(REPROCESS_RESULTS)], lambda _: True, 30, settle=3)
        return await asyncio.to_thread(committed_unpublished, pg_database, now)

    chaos = await feed_and_break(
        c,
        workers,
        target="reprocess",
        topic=REPROCESS_REQUESTS,
        messages=messages,
        db_url=pg_database,
        table=rs.requests,
        unpublished=unpublished,
        rng=rng,
        bystanders=["formatter"],
    )
    asked = {r.request_id for r in requests}
    records = await read_topics(
        kafka_bootstrap,
        [c.topic(t) for t in (CHARGES, CLAIMS, CHARGE_FAILURES, REPROCESS_RESULTS)],
        lambda rs: settled(rs, asked),
        timeout=180 + len(requests),
    )
    c.stop_all()
    verdict = check_reprocess(items, requests, records, pg_database)
    replays = replayed_versions(records)
    record_figures(
        "reprocess_sigkill_and_crash_after_commit",
        seed,
        {
            "runs": sum(c.starts.values()),
            "kills": c.kills,
            "victims": chaos.victims,
            "kill_points": chaos.kill_points,
            "crashes_after_commit": chaos.crashes_after_commit,
            "windows_hit": chaos.windows_hit,
            "request_messages": len(messages),
            "replayed": len(replays),
            **verdict.figures(),
            "seconds": round(time.monotonic() - started, 1),
        },
    )
    assert len(chaos.kill_points) >= min(1, sc.kills), "no kill landed while the reprocess worker was working"
    assert replays, "no request replayed anything: the test proves nothing"
    assert chaos.windows_hit >= min(1, sc.crashes_after_commit), "no crash left committed results unpublished"
    assert not verdict.problems, f"seed {seed}: {verdict.problems}\n{describe(c.processes)}"
