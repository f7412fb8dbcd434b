"""Malformed messages interleaved with good ones on every worker topic: each bad one ends in
the dead-letter topic with its reason, the good ones all get their answers."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable

import pytest

from contracts import Charge
from contracts.topics import CHARGES, POSTINGS, REPROCESS_REQUESTS
from devtools.sample.examples import example_messages
from tests.faults.corpus import Bad, corpus
from tests.faults.harness import (
    STAGES,
    Cluster,
    check_formatter,
    describe,
    read_outcome,
    record_figures,
    samples,
    scale,
    timeout,
)
from tests.pipeline import produce

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.timeout(timeout())]


def charge_corpus(base: Charge) -> list[Bad]:
    return corpus(
        base,
        ident="charge_id",
        money="amount",
        date="service_date",
        text="patient.id",
        free_text="patient.first_name",
        number="units",
    )


def _posting_corpus() -> list[Bad]:
    return corpus(
        example_messages()["Posting"],
        ident="posting_id",
        money="amount",
        date="posted_at",
        text="bill_id",
        free_text="note",
        number="next_payer",
    )


def _reprocess_corpus() -> list[Bad]:
    return corpus(
        example_messages()["ReprocessRequest"],
        ident="request_id",
        money="corrections",  # no money field: a wrong value in a typed map instead
        date="claim_delay_until",
        text="company_id",
        free_text="requested_by",
    )


#: Worker -> (input topic, corpus). Posting and reprocess get theirs once their workers exist
#: (their decodable oddities are then only required not to be dead-lettered).
OTHER_TOPICS: dict[str, tuple[str, Callable[[], list[Bad]]]] = {
    "posting": (POSTINGS, _posting_corpus),
    "reprocess": (REPROCESS_REQUESTS, _reprocess_corpus),
}


async def test_bad_messages_are_dead_lettered_and_good_ones_go_through(
    kafka_bootstrap: str, topic_prefix: str, sqlite_database: str, cluster: Callable[..., Cluster], seed: int
) -> None:
    sc = scale()
    rng = random.Random(seed)
    *items, base = samples(sc.charges // 2 + 1, seed + 2)
    # The base of the corpus is never sent itself: its odd-but-legal variants must not make
    # a good charge look like a duplicate.
    bads = [b for _ in range(sc.bad_repeats) for b in charge_corpus(base.charge)]
    # Interleave: the bad ones land at random places among the good, in the same partitions.
    stream: list[tuple[bytes | None, bytes | None, Bad | None]] = [
        (s.charge.account.encode(), s.charge.model_dump_json().encode(), None) for s in items
    ]
    for i, entry in enumerate(bads):
        stream.insert(rng.randrange(len(stream) + 1), (f"bad-{i}".encode(), entry.raw, entry))
    keyed = {f"bad-{i}".encode(): b for i, b in enumerate(bads)}
    c = cluster(kafka_bootstrap, topic_prefix, sqlite_database)
    started = time.monotonic()
    await produce(kafka_bootstrap, c.topic(CHARGES), [(k, v) for k, v, _ in stream])

    others = {s.worker: OTHER_TOPICS[s.worker] for s in STAGES if s.worker in OTHER_TOPICS and s.available()}
    other_bads: dict[bytes, Bad] = {}
    for worker, (topic, make) in others.items():
        entries = [b for b in make() if b.kind is not None]
        keys = [f"{worker}-bad-{i}".encode() for i in range(len(entries))]
        other_bads.update(zip(keys, entries, strict=True))
        await produce(kafka_bootstrap, c.topic(topic), list(zip(keys, [b.raw for b in entries], strict=True)))
        c.start(worker)
    c.start("formatter")

    dead_expected = {k for k, b in {**keyed, **other_bads}.items() if b.kind is not None}
    odd_ids = {_charge_id(b) for b in bads if b.kind is None}
    expected = {s.charge.charge_id for s in items} | odd_ids
    outcome = await read_outcome(
        kafka_bootstrap,
        topic_prefix,
        lambda o: o.answered() >= expected and {r.key for r, _ in o.dead} >= dead_expected,
        timeout=150,
    )
    c.stop_all()

    problems: list[str] = []
    seen: Counter[bytes | None] = Counter()
    for record, letter in outcome.dead:
        seen[record.key] += 1
        bad = {**keyed, **other_bads}.get(record.key or b"")
        if bad is None:
            problems.append(f"a good message was dead-lettered: {letter.error_kind} {letter.error}")
            continue
        if letter.error_kind != bad.kind:
            problems.append(f"{bad.name}: dead-lettered as {letter.error_kind}, expected {bad.kind}")
        if not letter.error or not letter.worker:
            problems.append(f"{bad.name}: dead letter without a reason or a worker")
        if (record.value or b"") != (bad.raw or b""):  # a tombstone is dead-lettered as b""
            problems.append(f"{bad.name}: the dead letter does not carry the original bytes")
        if not letter.source_topic.startswith(topic_prefix):
            problems.append(f"{bad.name}: wrong source topic {letter.source_topic}")
    missing = sorted(k.decode() for k in dead_expected - set(seen))
    if missing:
        problems.append(f"{len(missing)} bad messages never dead-lettered, e.g. {missing[:5]}")
    verdict = check_formatter(items, outcome, sqlite_database)
    unanswered_odd = sorted(odd_ids - outcome.answered())
    if unanswered_odd:
        problems.append(f"decodable oddities not answered by the formatter: {unanswered_odd}")
    record_figures(
        "bad_input",
        seed,
        {
            "runs": sum(c.starts.values()),
            "messages": len(stream) + len(other_bads),
            "bad_messages": len(dead_expected),
            "dead_lettered": len(outcome.dead),
            "kinds": dict(Counter(letter.error_kind for _, letter in outcome.dead)),
            "workers": sorted(["formatter", *others]),
            "losses": verdict.losses + len(missing),
            "duplicates": verdict.duplicates,
            "seconds": round(time.monotonic() - started, 1),
        },
    )
    assert not problems + verdict.problems, (
        f"seed {seed}: {problems + verdict.problems}\n{describe(c.processes)}"
    )


def _charge_id(bad: Bad) -> str:
    assert bad.raw is not None
    return Charge.model_validate_json(bad.raw).charge_id
