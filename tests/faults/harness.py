"""The fault-injection harness: scale and seed, the workers as processes, the end-state checks.

The same tests run small in `make test` (CLAIMFLOW_FAULT_SCALE unset or "short") and big in
`make test-faults` (CLAIMFLOW_FAULT_SCALE=long). Every random choice (data, kill moments)
comes from one seed, printed and taken from CLAIMFLOW_FAULT_SEED when set; process timing
is the only thing the seed cannot pin down.

Workers are stages of one pipeline (`STAGES`). The posting and reprocess workers join the
suites by adding a stage with its feed and its check once `workers.<name>.agent` exists;
the kill, rebalance and bad-input tests iterate over the stages that are present.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import json
import os
import random
import socket
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import func, select

from claimflow.db import make_engine
from claimflow.sample import SampleCharge, generate_samples
from contracts import ChargeFailed, Claim, DeadLetter
from contracts.codec import encode
from contracts.topics import CHARGE_FAILURES, CLAIMS, DEAD_LETTER
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


#: The pipeline's workers in flow order. Posting and reprocess are being built; when their
#: agents exist, add their feeds/checks (see `Cluster.stages`) and they are killed too.
STAGES = (
    Stage("formatter", "workers.formatter.agent"),
    Stage("posting", "workers.posting.agent"),
    Stage("reprocess", "workers.reprocess.agent"),
)
#: Stages whose feed and end-state check the harness implements today.
CHECKED = frozenset({"formatter"})


def free_port_pair() -> int:
    """A port P with P+1 also free (a dedicated broker's controller listens on P+1).

    Below Linux's ephemeral range (32768+): while the broker is down, clients reconnecting
    to an ephemeral-range port on loopback can connect to themselves and hold the port,
    and the restarted broker then fails with "Address already in use"."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 32000, 2)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 1))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair")


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
            CLAIMFLOW_RUN_MAX_SECONDS="0.5",
            # faust reads these from the environment. Production keeps faust's 60 s session:
            # here a SIGKILLed member would stall its partitions for a minute per kill.
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


def describe(processes: Iterable[WorkerProcess], tail: int = 40) -> str:
    """The end of each worker's log, for a failing assertion's message."""
    parts = []
    for p in processes:
        lines = p.log_text().splitlines()[-tail:]
        code = p.proc.returncode if p.proc else None
        parts.append(f"--- {p.log_path.name} (exit {code}) ---\n" + "\n".join(lines))
    return "\n".join(parts)
