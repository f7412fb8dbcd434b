"""The posting worker under SIGKILL, commit-then-crash and a rebalance kill.

The formatter turns charges into claims (which open the bills), then postings stream in
while posting workers die and restart. Afterwards: every posting has exactly one answer
(re-published copies byte-identical), each answer, each bill and each bill's ledger equal
replaying its postings in topic order through `workers.posting.rules` from
`open_bill(claim)`, one bill per claim, and every answer the database recorded was published.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

import orjson
import pytest

from contracts import Claim
from contracts.topics import CHARGES, CLAIMS, POSTING_RESULTS, POSTINGS
from devtools.sample import SamplePosting, generate_posting_samples
from tests.faults.harness import (
    Cluster,
    bill_summaries,
    charge_messages,
    check_posting,
    db_count,
    describe,
    feed_and_break,
    first_claims,
    grows,
    posting_messages,
    read_answered,
    read_topics,
    record_figures,
    samples,
    scale,
    stored_ids,
    stream,
    timeout,
    wait_for,
)
from tests.pipeline import Record, WorkerProcess, produce
from workers.posting import tables as pt

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.timeout(timeout())]


def charges_for_bills() -> int:
    """Charges the formatter turns into the bills of one test (a few per claim)."""
    return max(180, scale().charges // 2)


async def open_bills(
    c: Cluster, db_url: str, seed: int
) -> tuple[dict[str, Claim], list[SamplePosting], WorkerProcess]:
    """Charges -> formatter -> claims -> a running posting worker opens every bill (SIGKILLed
    once, a seeded moment after it opened some); the formatter is then stopped. Answers the
    claims, the postings for their bills, the live posting worker."""
    rng = random.Random(seed)
    items = samples(charges_for_bills(), seed)
    await produce(c.bootstrap, c.topic(CHARGES), charge_messages(items))
    formatter = c.start("formatter")
    worker = c.start("posting")
    if await grows(db_url, pt.opened_claims, 0, timeout=90):
        await asyncio.sleep(rng.uniform(0.0, 0.5))
        c.kill(worker)
        worker = c.start("posting")
    outcome = await read_answered(c.bootstrap, c.prefix, items, timeout=180)
    await asyncio.to_thread(formatter.stop, 60)
    claims = first_claims(outcome.records)
    assert claims, "the formatter made no claims\n" + describe(c.processes)
    await wait_for(
        lambda: db_count(db_url, pt.opened_claims) >= len(claims), 120, "the posting worker to open the bills"
    )
    postings = generate_posting_samples(bill_summaries(claims.values()), seed)
    return claims, postings, worker


def answered_ids(records: list[Record]) -> set[str]:
    return {
        str(orjson.loads(r.value)["posting_id"])
        for r in records
        if r.topic.endswith(POSTING_RESULTS) and r.value is not None
    }


async def final_records(c: Cluster, postings: list[SamplePosting], wait: float) -> list[Record]:
    ids = {s.posting.posting_id for s in postings}
    return await read_topics(
        c.bootstrap,
        [c.topic(POSTINGS), c.topic(POSTING_RESULTS), c.topic(CLAIMS)],
        lambda rs: answered_ids(rs) >= ids,
        timeout=wait,
    )


def committed_unpublished(db_url: str, records: list[Record]) -> int:
    return len(stored_ids(db_url, pt.posting_answers.c.posting_id) - answered_ids(records))


async def test_posting_sigkill_and_crash_after_commit(
    kafka_bootstrap: str, topic_prefix: str, pg_database: str, cluster: Callable[..., Cluster], seed: int
) -> None:
    """SIGKILLs at random moments after the worker commits something, and crashes pinned
    between the database commit and the publish (CLAIMFLOW_FAULT_CRASH_AFTER_COMMIT), in a
    seeded order, while postings stream in (PostgreSQL)."""
    sc = scale()
    rng = random.Random(seed + 10)
    c = cluster(kafka_bootstrap, topic_prefix, pg_database)
    started = time.monotonic()
    claims, postings, worker = await open_bills(c, pg_database, seed + 10)
    workers = {"posting": worker}

    async def unpublished() -> int:
        now = await read_topics(kafka_bootstrap, [c.topic(POSTING_RESULTS)], lambda _: True, 30, settle=3)
        return await asyncio.to_thread(committed_unpublished, pg_database, now)

    chaos = await feed_and_break(
        c,
        workers,
        target="posting",
        topic=POSTINGS,
        messages=posting_messages(postings),
        db_url=pg_database,
        table=pt.posting_answers,
        unpublished=unpublished,
        rng=rng,
    )
    records = await final_records(c, postings, wait=120 + len(postings) / 20)
    c.stop_all()
    verdict = check_posting(postings, claims, records, pg_database)
    record_figures(
        "posting_sigkill_and_crash_after_commit",
        seed,
        {
            "runs": c.starts["posting"],
            "kills": c.kills,
            "crashes_after_commit": chaos.crashes_after_commit,
            "windows_hit": chaos.windows_hit,
            "kill_points": chaos.kill_points,
            "bills": len(claims),
            **verdict.figures(),
            "seconds": round(time.monotonic() - started, 1),
        },
    )
    assert len(chaos.kill_points) >= min(1, sc.kills), "no kill landed while the posting worker was working"
    assert chaos.windows_hit >= min(1, sc.crashes_after_commit), "no crash left committed answers unpublished"
    assert not verdict.problems, f"seed {seed}: {verdict.problems}\n{describe(c.processes)}"


async def test_two_posting_instances_one_killed_during_rebalance(
    kafka_bootstrap: str, topic_prefix: str, pg_database: str, cluster: Callable[..., Cluster], seed: int
) -> None:
    """A second posting worker joins the group while postings stream in; one of the two is
    SIGKILLed while the group rebalances, again and again (PostgreSQL, row locks)."""
    sc = scale()
    rng = random.Random(seed + 11)
    c = cluster(kafka_bootstrap, topic_prefix, pg_database)
    started = time.monotonic()
    claims, postings, first = await open_bills(c, pg_database, seed + 11)
    rounds = max(2, sc.kills // 3)
    # The stream lasts through every round, so each rebalance has postings in flight.
    feeding = asyncio.create_task(
        stream(
            kafka_bootstrap,
            c.topic(POSTINGS),
            posting_messages(postings),
            max(sc.stream_seconds, 5.0 * rounds),
        )
    )
    total = len({s.posting.posting_id for s in postings})
    for _ in range(rounds):
        second = c.start("posting")
        # The newcomer's join rebalances the group: kill one of the two in the middle of it.
        await asyncio.sleep(rng.uniform(1.0, 5.0))
        victim = rng.choice([first, second])
        c.kill(victim)
        first = second if victim is first else first
        if await asyncio.to_thread(db_count, pg_database, pt.posting_answers) >= total:
            break
    await feeding
    records = await final_records(c, postings, wait=180 + len(postings) / 20)
    c.stop_all()
    verdict = check_posting(postings, claims, records, pg_database)
    record_figures(
        "posting_rebalance_kill",
        seed,
        {
            "runs": c.starts["posting"],
            "kills": c.kills,
            "bills": len(claims),
            **verdict.figures(),
            "seconds": round(time.monotonic() - started, 1),
        },
    )
    assert not verdict.problems, f"seed {seed}: {verdict.problems}\n{describe(c.processes)}"
