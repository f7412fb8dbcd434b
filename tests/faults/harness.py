"""The fault-injection harness: scale and seed, the workers as processes, the end-state checks.

The same tests run small in `make test` (CLAIMFLOW_FAULT_SCALE unset or "short") and big in
`make test-faults` (CLAIMFLOW_FAULT_SCALE=long). Every random choice (data, kill moments)
comes from one seed, printed and taken from CLAIMFLOW_FAULT_SEED when set; process timing
is the only thing the seed cannot pin down.

Workers are stages of one pipeline (`STAGES`). The formatter's kill, rebalance and outage
tests iterate over the `CHECKED` stages; the posting and reprocess workers have their own
kill, crash-after-commit and rebalance tests (test_posting_faults.py,
test_reprocess_faults.py) built on `feed_and_break`, `check_posting` and `check_reprocess`
at the end of this module, with the formatter running in front of them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import json
import os
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import func, select

from claimflow.db import make_engine
from contracts import ChargeFailed, Claim, DeadLetter, ReprocessRequest
from contracts.codec import encode
from contracts.topics import (
    CHARGE_FAILURES,
    CHARGES,
    CLAIMS,
    DEAD_LETTER,
    POSTING_RESULTS,
    POSTINGS,
    REPROCESS_RESULTS,
)
from devtools.sample import BillSummary, SampleCharge, SamplePosting, generate_samples
from tests.pipeline import ROOT, Record, WorkerProcess, consume_until, produce, worker_env
from workers.formatter import tables

SCALE_ENV = "CLAIMFLOW_FAULT_SCALE"
SEED_ENV = "CLAIMFLOW_FAULT_SEED"
FIGURES_DIR = ROOT / "var" / "faults"


@dataclass(frozen=True)
class Scale:
    name: str
    charges: int  # charges streamed per kill/rebalance test
    kills: int  # SIGKILLs per kill test
    stream_seconds: float  # how long the stream of charges is spread over
    crashes_after_commit: int  # commit-then-crash rounds
    db_outage_seconds: float  # long enough, in the long run, to span the formatter's 30 s timer
    broker_outage_seconds: float
    bad_repeats: int  # copies of the malformed corpus
    fuzz_examples: int


SCALES = {
    "short": Scale("short", 400, 2, 8.0, 1, 8.0, 4.0, 1, 150),
    "long": Scale("long", 3000, 12, 60.0, 4, 40.0, 15.0, 5, 2000),
}


def scale() -> Scale:
    name = os.environ.get(SCALE_ENV, "short").strip().lower() or "short"
    if name not in SCALES:
        raise ValueError(f"{SCALE_ENV}={name!r}: use one of {sorted(SCALES)}")
    return SCALES[name]


def timeout() -> int:
    """pytest-timeout per test: the long runs stream and kill for minutes."""
    return 1500 if scale().name == "long" else 300


def fault_seed() -> int:
    """The run's seed: CLAIMFLOW_FAULT_SEED, else a fresh one (printed so it can be replayed)."""
    raw = os.environ.get(SEED_ENV, "").strip()
    return int(raw) if raw else random.SystemRandom().randrange(1, 2**31)


# --- the workers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Stage:
    worker: str
    module: str

    def available(self) -> bool:
        return importlib.util.find_spec(self.module) is not None


#: The pipeline's workers in flow order.
STAGES = (
    Stage("formatter", "workers.formatter.worker"),
    Stage("posting", "workers.posting.worker"),
    Stage("reprocess", "workers.reprocess.worker"),
)
#: Stages the formatter-fed tests (test_kill_restart.py, test_outages.py) start and kill;
#: posting and reprocess are fed and checked by their own tests instead.
CHECKED = frozenset({"formatter"})


@dataclass
class Cluster:
    """The workers of one test, on one broker, one topic prefix and one database."""

    bootstrap: str
    prefix: str
    db_url: str
    log_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: list[WorkerProcess] = field(default_factory=list)
    starts: Counter[str] = field(default_factory=Counter)
    kills: int = 0

    def topic(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def stages(self) -> list[Stage]:
        return [s for s in STAGES if s.worker in CHECKED and s.available()]

    def start(self, worker: str, **env: str) -> WorkerProcess:
        self.starts[worker] += 1
        full = worker_env(
            self.bootstrap,
            self.prefix,
            self.db_url,
            # Small runs: more batch boundaries for a kill to fall between.
            CLAIMFLOW_RUN_MAX_CHARGES="50",
            # faust reads these from the environment and the workers' consumer takes them
            # from faust's settings. Production's session is 10 s; shorter here, because
            # every kill in a round waits for the dead member's session to expire.
            BROKER_SESSION_TIMEOUT="8",
            BROKER_HEARTBEAT_INTERVAL="1",
            BROKER_REBALANCE_TIMEOUT="20",
            **{**self.extra_env, **env},
        )
        log = self.log_dir / f"{worker}-{self.starts[worker]}.log"
        process = WorkerProcess(worker, full, log).start()
        self.processes.append(process)
        return process

    def kill(self, process: WorkerProcess) -> None:
        process.kill()
        self.kills += 1

    def live(self) -> list[WorkerProcess]:
        return [p for p in self.processes if p.proc is not None and p.proc.poll() is None]

    def stop_all(self) -> None:
        for p in self.live():
            p.stop(timeout=30)

    def logs(self) -> str:
        return "\n".join(p.log_text() for p in self.processes)


# --- data ----------------------------------------------------------------------------------


def samples(n: int, seed: int) -> list[SampleCharge]:
    return generate_samples(n, seed, dt.date.today())


def charge_messages(items: Sequence[SampleCharge]) -> list[tuple[bytes, bytes]]:
    return [(s.charge.account.encode(), encode(s.charge)) for s in items]


async def stream(
    bootstrap: str,
    topic: str,
    messages: Sequence[tuple[bytes | None, bytes]],
    seconds: float,
    chunks: int = 20,
) -> None:
    """Produce `messages` in chunks spread over `seconds`, as an EHR would send them."""
    size = max(1, -(-len(messages) // chunks))
    for start in range(0, len(messages), size):
        await produce(bootstrap, topic, messages[start : start + size])
        await asyncio.sleep(seconds / chunks)


# --- reading the outcome -------------------------------------------------------------------


@dataclass
class Outcome:
    """What the output topics hold, parsed."""

    records: list[Record]
    claims: list[Claim] = field(default_factory=list)
    failures: list[ChargeFailed] = field(default_factory=list)
    dead: list[tuple[Record, DeadLetter]] = field(default_factory=list)
    raw_claims: dict[str, set[bytes]] = field(default_factory=lambda: defaultdict(set))
    raw_failures: dict[tuple[str, int], set[bytes]] = field(default_factory=lambda: defaultdict(set))

    @classmethod
    def of(cls, records: list[Record]) -> Outcome:
        out = cls(records)
        for r in records:
            if r.topic.endswith(CLAIMS) and r.value is not None:
                claim = Claim.model_validate_json(r.value)
                out.claims.append(claim)
                out.raw_claims[claim.claim_id].add(r.value)
            elif r.topic.endswith(CHARGE_FAILURES) and r.value is not None:
                if orjson.loads(r.value).get("type") == "ChargeFailed":
                    failure = ChargeFailed.model_validate_json(r.value)
                    out.failures.append(failure)
                    out.raw_failures[(failure.charge_id, failure.charge_version)].add(r.value)
            elif r.topic.endswith(DEAD_LETTER):
                out.dead.append((r, DeadLetter.from_headers(r.headers)))
        return out

    def claimed(self) -> set[str]:
        return {line.charge_id for c in self.claims for line in c.lines}

    def answered(self) -> set[str]:
        return self.claimed() | {f.charge_id for f in self.failures}


def output_topics(prefix: str) -> list[str]:
    return [f"{prefix}{t}" for t in (CLAIMS, CHARGE_FAILURES, DEAD_LETTER)]


async def read_outcome(
    bootstrap: str,
    prefix: str,
    done: Callable[[Outcome], bool],
    timeout: float,
    settle: float = 3.0,
) -> Outcome:
    # Parsing every record on each poll is fine at these volumes (a few thousand).
    records = await consume_until(
        bootstrap, output_topics(prefix), lambda rs: done(Outcome.of(rs)), timeout=timeout, settle=settle
    )
    return Outcome.of(records)


async def read_answered(
    bootstrap: str, prefix: str, items: Sequence[SampleCharge], timeout: float
) -> Outcome:
    """Read the formatter's answers until every charge in `items` has one."""
    expected = {s.charge.charge_id for s in items}
    return await read_outcome(bootstrap, prefix, lambda o: o.answered() >= expected, timeout=timeout)


async def wait_for(predicate: Callable[[], bool], timeout: float, what: str, every: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(every)


# --- the end-state checks ------------------------------------------------------------------


@dataclass
class Verdict:
    messages: int
    losses: int = 0
    duplicates: int = 0
    republished: int = 0
    problems: list[str] = field(default_factory=list)

    def problem(self, text: str, count: int = 1, *, loss: bool = False, duplicate: bool = False) -> None:
        self.problems.append(text)
        self.losses += count if loss else 0
        self.duplicates += count if duplicate else 0

    def figures(self) -> dict[str, int]:
        return {
            "messages": self.messages,
            "losses": self.losses,
            "duplicates": self.duplicates,
            "republished": self.republished,
        }


def check_formatter(items: Sequence[SampleCharge], outcome: Outcome, db_url: str) -> Verdict:
    """Every charge has exactly one current outcome, on the topics and in the database;
    no charge sits under two claim ids; what the database committed was all published;
    a re-published answer is byte-identical to the first."""
    verdict = Verdict(messages=len(items))
    expected = {s.charge.charge_id: s for s in items}
    answered = outcome.answered()
    missing = sorted(set(expected) - answered)
    if missing:
        verdict.problem(f"{len(missing)} charges never answered, e.g. {missing[:5]}", len(missing), loss=True)

    claim_of: dict[str, set[str]] = defaultdict(set)
    for claim in outcome.claims:
        for line in claim.lines:
            claim_of[line.charge_id].add(claim.claim_id)
    doubled = sorted(cid for cid, ids in claim_of.items() if len(ids) > 1)
    if doubled:
        verdict.problem(
            f"{len(doubled)} charges on two claims, e.g. {doubled[:5]}", len(doubled), duplicate=True
        )
    both = sorted(set(claim_of) & {f.charge_id for f in outcome.failures})
    if both:
        verdict.problem(
            f"{len(both)} charges both claimed and failed, e.g. {both[:5]}", len(both), duplicate=True
        )
    for claim_id, values in outcome.raw_claims.items():
        if len(values) > 1:
            verdict.problem(
                f"claim {claim_id} published with {len(values)} different contents", duplicate=True
            )
    for key, values in outcome.raw_failures.items():
        if len(values) > 1:
            verdict.problem(f"failure {key} published with {len(values)} different contents", duplicate=True)
    verdict.republished = (len(outcome.claims) - len(outcome.raw_claims)) + (
        len(outcome.failures) - len(outcome.raw_failures)
    )

    # What the sample says each charge must come to: valid ones claimed, broken ones failed.
    wrong = sorted(cid for cid, s in expected.items() if cid in answered and (cid in claim_of) != s.is_valid)
    if wrong:
        verdict.problem(f"{len(wrong)} charges with the wrong outcome kind, e.g. {wrong[:5]}")

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(tables.charges.c.charge_id, tables.charges.c.outcome, tables.charges.c.claim_id)
            ).all()
            lines = conn.execute(
                select(tables.claim_lines.c.charge_id, func.count())
                .group_by(tables.claim_lines.c.charge_id)
                .having(func.count() > 1)
            ).all()
            db_claims = set(conn.execute(select(tables.claims.c.claim_id)).scalars())
    finally:
        engine.dispose()
    current = Counter(r.charge_id for r in rows if r.outcome in ("claimed", "failed"))
    no_outcome = sorted(set(expected) - set(current))
    if no_outcome:
        verdict.problem(
            f"{len(no_outcome)} charges with no outcome in the database", len(no_outcome), loss=True
        )
    if lines:
        verdict.problem(
            f"{len(lines)} charges on two claim lines in the database", len(lines), duplicate=True
        )
    db_claim_of = {r.charge_id: r.claim_id for r in rows if r.outcome == "claimed"}
    differs = sorted(cid for cid, ids in claim_of.items() if cid in db_claim_of and ids != {db_claim_of[cid]})
    if differs:
        verdict.problem(f"{len(differs)} charges published under a claim id the database does not hold")
    unpublished = sorted(db_claims - set(outcome.raw_claims))
    if unpublished:
        verdict.problem(
            f"{len(unpublished)} committed claims never published, e.g. {unpublished[:5]}",
            len(unpublished),
            loss=True,
        )
    return verdict


# --- figures for docs/RELIABILITY.md -------------------------------------------------------


def record_figures(test: str, seed: int, figures: dict[str, Any]) -> Path:
    """Merge one test's figures into var/faults/last-run-<scale>.json (the doc's source)."""
    FIGURES_DIR.mkdir(parents=True, exist_ok=True)
    path = FIGURES_DIR / f"last-run-{scale().name}.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    if data.get("seed") != seed:
        data = {
            "scale": scale().name,
            "seed": seed,
            "started": dt.datetime.now(dt.UTC).isoformat(),
            "tests": {},
        }
    data["tests"][test] = figures
    data["updated"] = dt.datetime.now(dt.UTC).isoformat()
    totals: Counter[str] = Counter()
    for entry in data["tests"].values():
        for key in ("runs", "kills", "messages", "losses", "duplicates", "republished", "dead_lettered"):
            totals[key] += int(entry.get(key, 0))
    data["totals"] = dict(totals)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    (FIGURES_DIR / "last-run.json").write_text(path.read_text())
    return path


def conclude(
    c: Cluster,
    test: str,
    seed: int,
    items: Sequence[SampleCharge],
    outcome: Outcome,
    db_url: str,
    started: float,
    figures: dict[str, Any] | None = None,
) -> Verdict:
    """Stop every worker, check the formatter's end state, and record the test's figures."""
    c.stop_all()
    verdict = check_formatter(items, outcome, db_url)
    record_figures(
        test,
        seed,
        {
            "runs": sum(c.starts.values()),
            **(figures or {}),
            **verdict.figures(),
            "seconds": round(time.monotonic() - started, 1),
        },
    )
    return verdict


def stored_ids(db_url: str, column: Any) -> set[str]:
    """Every value of one id column, read straight from the database a worker wrote."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return {str(v) for v in conn.execute(select(column)).scalars()}
    finally:
        engine.dispose()


def describe(processes: Iterable[WorkerProcess], tail: int = 40) -> str:
    """The end of each worker's log, for a failing assertion's message."""
    parts = []
    for p in processes:
        lines = p.log_text().splitlines()[-tail:]
        code = p.proc.returncode if p.proc else None
        parts.append(f"--- {p.log_path.name} (exit {code}) ---\n" + "\n".join(lines))
    return "\n".join(parts)


# --- posting and reprocess: feeds, reading any topic, end-state checks ----------------------
# Used by test_posting_faults.py and test_reprocess_faults.py. The formatter runs in front of
# them: its claims open the bills the postings change, its failures are what reprocess replays.


async def read_topics(
    bootstrap: str,
    topics: Sequence[str],
    done: Callable[[list[Record]], bool],
    timeout: float,
    settle: float = 3.0,
) -> list[Record]:
    """Every record of `topics` from the beginning, once `done(records)` (then `settle` more)."""
    return await consume_until(bootstrap, topics, done, timeout=timeout, settle=settle)


def db_count(db_url: str, table: Any) -> int:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())
    finally:
        engine.dispose()


async def grows(db_url: str, table: Any, seen: int, timeout: float) -> bool:
    """Wait until `table` holds more than `seen` rows; False if it did not within `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(db_count, db_url, table) > seen:
            return True
        await asyncio.sleep(0.3)
    return False


def first_claims(records: Iterable[Record]) -> dict[str, Claim]:
    """The claims on the claims topic by claim id (a re-published copy is the same claim)."""
    out: dict[str, Claim] = {}
    for r in records:
        if r.topic.endswith(CLAIMS) and r.value is not None:
            claim = Claim.model_validate_json(r.value)
            out.setdefault(claim.claim_id, claim)
    return out


def bill_summaries(claims: Iterable[Claim]) -> list[BillSummary]:
    """What generate_posting_samples needs of each bill: the first claim of each bill id."""
    seen: dict[str, BillSummary] = {}
    for c in claims:
        if c.bill_id not in seen:
            seen[c.bill_id] = BillSummary(
                c.bill_id, c.total_amount, len(c.payers), [p.name or p.payer_id for p in c.payers]
            )
    return [seen[k] for k in sorted(seen)]


def posting_messages(items: Sequence[SamplePosting]) -> list[tuple[bytes, bytes]]:
    return [(s.posting.bill_id.encode(), encode(s.posting)) for s in items]


def _in_topic_order(records: Iterable[Record], suffix: str) -> list[Record]:
    mine = [r for r in records if r.topic.endswith(suffix) and r.value is not None]
    return sorted(mine, key=lambda r: (r.partition, r.offset))


async def _caught_up(c: Cluster, worker: str, timeout: float = 90.0) -> None:
    """Wait until `worker`'s consumer group has committed everything on its topics."""
    from claimflow.settings import get_settings
    from claimflow.status import consumer_lag

    settings = get_settings().model_copy(update={"bootstrap_servers": c.bootstrap, "topic_prefix": c.prefix})

    async def behind() -> int:
        return sum(x.behind for x in await consumer_lag(settings) if x.worker == worker)

    deadline = time.monotonic() + timeout
    while await behind() and time.monotonic() < deadline:
        await asyncio.sleep(0.5)


def _one_answer_each(
    records: Sequence[Record],
    topic: str,
    id_field: str,
    asked: set[str],
    verdict: Verdict,
    missing_text: str,
    answer_noun: str,
) -> tuple[dict[str, set[bytes]], int]:
    """The distinct answers on `topic` per id, and how many copies were read; a missing
    answer is a loss, two different answers for one id a duplicate."""
    answers: dict[str, set[bytes]] = defaultdict(set)
    copies = 0
    for r in _in_topic_order(records, topic):
        assert r.value is not None
        answers[str(orjson.loads(r.value)[id_field])].add(r.value)
        copies += 1
    missing = sorted(asked - set(answers))
    if missing:
        verdict.problem(f"{len(missing)} {missing_text}, e.g. {missing[:5]}", len(missing), loss=True)
    two = sorted(key for key, values in answers.items() if len(values) > 1)
    if two:
        noun = missing_text.split()[0]
        verdict.problem(
            f"{len(two)} {noun} with two different {answer_noun}, e.g. {two[:5]}", len(two), duplicate=True
        )
    return answers, copies


def check_posting(
    items: Sequence[SamplePosting], claims: dict[str, Claim], records: Sequence[Record], db_url: str
) -> Verdict:
    """Every posting has exactly one answer (a re-published one byte-identical, never two
    different ones); the answers, the database's bills and ledger equal replaying the
    postings, in topic order, through the pure rules from `open_bill(claim)`; one bill per
    claim; what the database recorded as answers is what was published."""
    from contracts.posting import Posting, PostingApplied, PostingRejected
    from workers.posting import storage as ps
    from workers.posting import tables as pt
    from workers.posting.bill import open_bill, reopen_from_claim, to_state
    from workers.posting.rules import Applied, apply_posting

    sent = {s.posting.posting_id: s for s in items}
    verdict = Verdict(messages=len(items))
    raw, copies = _one_answer_each(
        records, POSTING_RESULTS, "posting_id", set(sent), verdict, "postings never answered", "answers"
    )
    verdict.republished = copies - len(raw) - (len(items) - len(sent))
    strangers = sorted(set(raw) - set(sent))
    if strangers:
        verdict.problem(f"{len(strangers)} answers to postings never sent, e.g. {strangers[:5]}")

    # The replay: each bill from its claim(s), then its postings in topic order, once each.
    bills: dict[str, Any] = {}
    for claim in claims.values():  # all claims were handled before the first posting was sent
        bills[claim.bill_id] = (
            open_bill(claim) if claim.bill_id not in bills else reopen_from_claim(bills[claim.bill_id], claim)
        )
    applied_ids: dict[str, list[str]] = defaultdict(list)
    done: set[str] = set()
    wrong: list[str] = []
    for r in _in_topic_order(records, POSTINGS):
        assert r.value is not None
        posting = Posting.model_validate_json(r.value)
        if posting.posting_id in done or posting.posting_id not in raw or len(raw[posting.posting_id]) != 1:
            continue
        done.add(posting.posting_id)
        (value,) = raw[posting.posting_id]
        given = orjson.loads(value)
        bill = bills.get(posting.bill_id)
        outcome = apply_posting(bill, posting) if bill is not None else None
        if given.get("type") == "PostingApplied":
            answer_a = PostingApplied.model_validate_json(value)
            if not isinstance(outcome, Applied):
                wrong.append(f"{posting.posting_id} applied, the rules say {outcome}")
                continue
            if answer_a.bill != to_state(outcome.bill):
                wrong.append(f"{posting.posting_id}: the published bill differs from the replay")
            bills[posting.bill_id] = outcome.bill
            applied_ids[posting.bill_id].append(posting.posting_id)
        else:
            answer_r = PostingRejected.model_validate_json(value)
            expected_code = (
                "BILL_NOT_FOUND" if outcome is None else getattr(outcome, "reason_code", "(applied)")
            )
            if answer_r.reason_code != expected_code:
                wrong.append(
                    f"{posting.posting_id} rejected {answer_r.reason_code}, the rules say {expected_code}"
                )
        kind = "applied" if given.get("type") == "PostingApplied" else "rejected"
        if posting.posting_id in sent and kind != sent[posting.posting_id].expected:
            wrong.append(
                f"{posting.posting_id} {kind}, the sample expects {sent[posting.posting_id].expected}"
            )
    if wrong:
        verdict.problem(f"{len(wrong)} answers differ from the pure replay, e.g. {wrong[:5]}")

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            stored = ps.load_bills(conn, list(bills))
            ledger = ps.load_ledger(conn)
            recorded = dict(
                conn.execute(select(pt.posting_answers.c.posting_id, pt.posting_answers.c.answer_json)).all()
            )
            per_claim = conn.execute(
                select(pt.bills.c.claim_id, func.count())
                .group_by(pt.bills.c.claim_id)
                .having(func.count() > 1)
            ).all()
            bill_claims = dict(conn.execute(select(pt.bills.c.bill_id, pt.bills.c.claim_id)).all())
    finally:
        engine.dispose()
    differs = sorted(b for b, bill in bills.items() if stored.get(b) != bill)
    if differs:
        lost = [b for b in differs if b not in stored]
        verdict.problem(
            f"{len(differs)} bills differ from replaying their applied postings ({len(lost)} missing), "
            f"e.g. {differs[:5]}",
            len(lost),
            loss=True,
        )
    ledger_ids: dict[str, list[str]] = defaultdict(list)
    for line in ledger:
        ledger_ids[line.bill_id].append(line.posting_id)
    doubled_lines = sum(len(v) - len(set(v)) for v in ledger_ids.values())
    if doubled_lines:
        verdict.problem(f"{doubled_lines} postings on the ledger twice", doubled_lines, duplicate=True)
    ledger_wrong = sorted(b for b in set(ledger_ids) | set(applied_ids) if ledger_ids[b] != applied_ids[b])
    if ledger_wrong:
        verdict.problem(
            f"{len(ledger_wrong)} bills whose ledger is not their applied postings, e.g. {ledger_wrong[:5]}"
        )
    if per_claim:
        verdict.problem(f"{len(per_claim)} claims with two bills", len(per_claim), duplicate=True)
    unbilled = sorted(c.claim_id for c in claims.values() if bill_claims.get(c.bill_id) is None)
    if unbilled:
        verdict.problem(f"{len(unbilled)} claims that opened no bill", len(unbilled), loss=True)
    unpublished = sorted(pid for pid in recorded if pid not in raw)
    if unpublished:
        verdict.problem(f"{len(unpublished)} answers committed, never published", len(unpublished), loss=True)
    mismatch = sorted(pid for pid, text in recorded.items() if pid in raw and raw[pid] != {text.encode()})
    if mismatch:
        verdict.problem(
            f"{len(mismatch)} published answers differ from the recorded ones, e.g. {mismatch[:5]}"
        )
    return verdict


def check_reprocess(
    items: Sequence[SampleCharge],
    requests: Sequence[ReprocessRequest],
    records: Sequence[Record],
    db_url: str,
) -> Verdict:
    """Every request has exactly one result (identical if re-published); no charge replayed
    twice, for one request or across requests (new versions unique); every replayed version
    was published once (identical copies only) and answered by the formatter; no failure
    left `reprocessing`; no charge on two claims, in the topics or the database."""
    from contracts import ReprocessResult
    from workers.reprocess import storage as rs

    verdict = Verdict(messages=len(requests))
    asked = {r.request_id for r in requests}
    results, copies = _one_answer_each(
        records, REPROCESS_RESULTS, "request_id", asked, verdict, "requests without a result", "results"
    )
    verdict.republished = copies - len(results)

    replayed: Counter[tuple[str, int]] = Counter()
    inside = 0
    for values in results.values():
        for value in values:
            result = ReprocessResult.model_validate_json(value)
            ids = [x.charge_id for x in result.replayed]
            inside += len(ids) - len(set(ids))
            replayed.update((x.charge_id, x.new_version) for x in result.replayed)
    if inside:
        verdict.problem(f"{inside} charges replayed twice within one request", inside, duplicate=True)
    twice = sorted(k for k, n in replayed.items() if n > 1)
    if twice:
        verdict.problem(
            f"{len(twice)} charge versions replayed by two requests, e.g. {twice[:5]}",
            len(twice),
            duplicate=True,
        )
    per_charge = Counter(cid for cid, _ in replayed)

    originals = {(s.charge.charge_id, s.charge.version) for s in items}
    on_topic: dict[tuple[str, int], set[bytes]] = defaultdict(set)
    for r in _in_topic_order(records, CHARGES):
        assert r.value is not None
        doc = orjson.loads(r.value)
        key = (str(doc["charge_id"]), int(doc["version"]))
        if key not in originals:
            on_topic[key].add(r.value)
    never_sent = sorted(set(replayed) - set(on_topic))
    if never_sent:
        verdict.problem(
            f"{len(never_sent)} replays in a result never published, e.g. {never_sent[:5]}",
            len(never_sent),
            loss=True,
        )
    unlisted = sorted(set(on_topic) - set(replayed))
    if unlisted:
        verdict.problem(f"{len(unlisted)} charge versions replayed but in no result, e.g. {unlisted[:5]}")
    differing = sorted(k for k, v in on_topic.items() if len(v) > 1)
    if differing:
        verdict.problem(
            f"{len(differing)} replayed versions published with different contents", duplicate=True
        )

    outcome = Outcome.of(list(records))
    answered = {(line.charge_id, line.charge_version) for c in outcome.claims for line in c.lines} | {
        (f.charge_id, f.charge_version) for f in outcome.failures
    }
    unanswered = sorted(set(replayed) - answered)
    if unanswered:
        verdict.problem(
            f"{len(unanswered)} replayed versions the formatter never answered, e.g. {unanswered[:5]}",
            len(unanswered),
            loss=True,
        )
    claim_of: dict[str, set[str]] = defaultdict(set)
    for claim in outcome.claims:
        for line in claim.lines:
            claim_of[line.charge_id].add(claim.claim_id)
    doubled = sorted(cid for cid, ids in claim_of.items() if len(ids) > 1)
    if doubled:
        verdict.problem(
            f"{len(doubled)} charges on two claims after replays, e.g. {doubled[:5]}",
            len(doubled),
            duplicate=True,
        )

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            stored = dict(conn.execute(select(rs.requests.c.request_id, rs.requests.c.result_json)).all())
            lines = conn.execute(
                select(tables.claim_lines.c.charge_id, func.count())
                .group_by(tables.claim_lines.c.charge_id)
                .having(func.count() > 1)
            ).all()
            stuck = list(
                conn.execute(
                    select(tables.failures.c.charge_id).where(tables.failures.c.status == "reprocessing")
                ).scalars()
            )
            item_versions = Counter(
                (cid, int(v))
                for cid, v in conn.execute(
                    select(rs.items.c.charge_id, rs.items.c.new_version).where(
                        rs.items.c.outcome == "replayed"
                    )
                )
            )
    finally:
        engine.dispose()
    if lines:
        verdict.problem(
            f"{len(lines)} charges on two claim lines in the database", len(lines), duplicate=True
        )
    if stuck:
        verdict.problem(
            f"{len(stuck)} failures left 'reprocessing' (a replay lost?), e.g. {stuck[:5]}",
            len(stuck),
            loss=True,
        )
    unpublished = sorted(set(stored) - set(results))
    if unpublished:
        verdict.problem(f"{len(unpublished)} results committed, never published", len(unpublished), loss=True)
    mismatch = sorted(
        rid for rid, text in stored.items() if rid in results and results[rid] != {text.encode()}
    )
    if mismatch:
        verdict.problem(f"{len(mismatch)} published results differ from the stored ones, e.g. {mismatch[:5]}")
    if item_versions != replayed:
        verdict.problem("the reprocess_items drill-down differs from the published results")
    verdict.messages = len(requests)
    _ = per_charge
    return verdict


@dataclass
class Chaos:
    """What `feed_and_break` did: the figures of a kill test."""

    kills: int = 0
    crashes_after_commit: int = 0
    windows_hit: int = 0
    kill_points: list[int] = field(default_factory=list)
    victims: list[str] = field(default_factory=list)


async def feed_and_break(
    c: Cluster,
    workers: dict[str, WorkerProcess],
    *,
    target: str,
    topic: str,
    messages: Sequence[tuple[bytes | None, bytes]],
    db_url: str,
    table: Any,
    unpublished: Callable[[], Any],
    rng: random.Random,
    bystanders: Sequence[str] = (),
) -> Chaos:
    """Feed `messages` to `topic` in one slice per fault, in order (so each key's messages
    keep their order), and break a worker in each slice, in a seeded order of:

    - "kill": SIGKILL a random moment after the target commits something (`table` grows),
      while its slice streams in; the victim is the target, or now and then a bystander;
    - "crash": stop the target (SIGTERM), send the slice, start it with
      CLAIMFLOW_FAULT_CRASH_AFTER_COMMIT=1 so it dies right after its first commit, before
      publishing; `await unpublished()` (answers committed, not on the topic) says whether the
      window was really hit.

    Each victim is restarted at once; `workers` holds the live ones afterwards."""
    sc = scale()
    kinds = ["kill"] * sc.kills + ["crash"] * sc.crashes_after_commit
    rng.shuffle(kinds)
    size = -(-len(messages) // (len(kinds) + 1))
    slices = [messages[i : i + size] for i in range(0, len(messages), size)]
    done = Chaos()
    for n, part in enumerate(slices):
        kind = kinds[n] if n < len(kinds) else "none"
        if kind == "crash":
            # The crasher's first batch must be new work: after a replay of answered messages
            # it would commit nothing new and the window could not be seen. So wait until the
            # target has committed every offset it read (lag 0), then stop it cleanly.
            await _caught_up(c, target)
            await asyncio.to_thread(workers[target].stop, 60)
            await produce(c.bootstrap, c.topic(topic), part)
            crasher = c.start(target, CLAIMFLOW_FAULT_CRASH_AFTER_COMMIT="1")
            await wait_for(
                crasher.exited,
                90,
                f"the {target} to crash after its first commit",
            )
            assert crasher.proc is not None and crasher.proc.returncode == 86, describe([crasher])
            done.crashes_after_commit += 1
            if await unpublished():
                done.windows_hit += 1
            workers[target] = c.start(target)
            continue
        seen = await asyncio.to_thread(db_count, db_url, table)
        feeding = asyncio.create_task(
            stream(c.bootstrap, c.topic(topic), part, sc.stream_seconds / len(slices))
        )
        if kind == "kill" and await grows(db_url, table, seen, timeout=90):
            await asyncio.sleep(rng.uniform(0.0, 1.5))
            victim = target if not bystanders or rng.random() < 0.7 else rng.choice(list(bystanders))
            done.kill_points.append(await asyncio.to_thread(db_count, db_url, table))
            done.victims.append(victim)
            c.kill(workers[victim])
            done.kills += 1
            await asyncio.sleep(rng.uniform(0.0, 1.0))
            workers[victim] = c.start(victim)
        await feeding
    return done
