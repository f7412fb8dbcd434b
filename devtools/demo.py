"""`make run`: the whole pipeline on one machine, fed with sample data, until Ctrl-C.

Starts the broker (resolving Kafka's jars once), brings the database to the newest
migration, starts each worker and the report service as its own process (as they run in
production), publishes sample charges, then sample postings for the bills the claims
opened, and shows what the pipeline did. Ctrl-C stops every process (SIGTERM: each worker
finishes its batch) and the broker if this command started it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from sqlalchemy import Engine, text

from claimflow.settings import Settings, get_settings
from contracts.base import CENT

app = typer.Typer(no_args_is_help=True)
console = Console()

WORKERS = ("formatter", "posting", "reprocess", "clearinghouse", "remittance")


@dataclass
class Processes:
    logs: Path
    started: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, *args: str) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        out = (self.logs / f"{name}.log").open("ab")
        self.started[name] = subprocess.Popen(
            [sys.executable, "-m", "claimflow", *args], stdout=out, stderr=subprocess.STDOUT
        )

    def alive(self) -> dict[str, bool]:
        return {name: p.poll() is None for name, p in self.started.items()}

    def stop(self) -> None:
        for p in self.started.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        for p in self.started.values():
            try:
                p.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                p.kill()


def _available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


@app.command("run")
def run(
    charges: Annotated[int, typer.Option(help="How many sample charges to publish.")] = 400,
    seed: Annotated[int | None, typer.Option(help="Sample data seed (default: new data each run).")] = None,
    bad_share: Annotated[float, typer.Option(help="Share of charges that break a rule.")] = 0.2,
) -> None:
    """Run everything, feed sample data, show progress; Ctrl-C stops it all."""
    from claimflow.db import create_all, make_engine, safe_url
    from devtools.kafka import broker_status, ensure_broker, stop_broker

    settings = get_settings()
    seed = seed if seed is not None else int(time.time()) % 1_000_000
    console.print(Panel.fit("[bold]claimflow[/]: formatter, posting and reprocess on a real Kafka broker"))
    was_running = broker_status(settings=settings).running
    with console.status("Starting Kafka (the first time resolves Apache Kafka's jars from Maven Central)"):
        bootstrap = ensure_broker(settings=settings)
    console.print(f"Kafka broker at [bold]{bootstrap}[/]")
    engine = make_engine(settings.database_url)
    create_all(engine)
    console.print(f"Database {safe_url(settings.database_url)} is at the newest migration")

    procs = Processes(settings.home / "logs")
    for name in WORKERS:
        if _available(f"workers.{name}.worker"):
            procs.start(name, "worker", name)
    report_url: str | None = None
    login: tuple[str, str] | None = None
    if _available("workers.report.api"):
        procs.start("report", "report", "serve")
        report_url = f"http://{settings.report_host}:{settings.report_port}"
        login = _demo_login(engine)
    console.print(f"Started {', '.join(procs.started)}; logs in {procs.logs}/")

    stopping = False

    def _interrupt(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        feed = Feed(settings, engine, bootstrap, seed, charges, bad_share)
        feed.publish_charges()
        with Live(console=console, refresh_per_second=2) as live:
            while not stopping:
                feed.maybe_publish_postings()
                live.update(view(engine, feed, procs, report_url, login))
                time.sleep(1)
    finally:
        console.print("Stopping workers (each finishes the batch in hand)...")
        procs.stop()
        if not was_running:
            stop_broker(settings=settings)
            console.print("Kafka broker stopped")
        console.print("Stopped.")


class Feed:
    """Sample charges now, sample postings once the claims have opened bills."""

    def __init__(
        self, settings: Settings, engine: Engine, bootstrap: str, seed: int, n: int, bad_share: float
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.bootstrap = bootstrap
        self.seed = seed
        self.n = n
        self.bad_share = bad_share
        self.charge_ids: set[str] = set()
        self.postings_sent = 0
        self.started = time.monotonic()

    def publish_charges(self) -> None:
        from contracts.topics import CHARGES
        from devtools.sample import generate_charges

        charges = generate_charges(self.n, self.seed, dt.date.today(), bad_share=self.bad_share)
        self.charge_ids = {c.charge_id for c in charges}
        messages = [(c.account.encode(), c.model_dump_json().encode()) for c in charges]
        asyncio.run(_produce(self.bootstrap, self.settings.topic(CHARGES), messages, self.settings))
        console.print(f"Published {len(charges)} sample charges (seed {self.seed})")

    def maybe_publish_postings(self) -> None:
        """Once this run's bills exist and the formatter is quiet, post payments to them."""
        if self.postings_sent or not _available("workers.posting.worker"):
            return
        if time.monotonic() - self.started < 8:
            return
        bills = self._bills()
        if not bills:
            return
        from contracts.topics import POSTINGS
        from devtools.sample import BillSummary, generate_postings

        # Dated from now, seconds apart: after the claims they pay, as a real office's would be.
        postings = generate_postings(
            [BillSummary(*b) for b in bills],
            self.seed,
            dt.datetime.now(dt.UTC),
            spread=dt.timedelta(seconds=1),
        )
        messages = [(p.bill_id.encode(), p.model_dump_json().encode()) for p in postings]
        asyncio.run(_produce(self.bootstrap, self.settings.topic(POSTINGS), messages, self.settings))
        self.postings_sent = len(postings)

    def _bills(self) -> list[tuple[str, Any, int, list[str]]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT b.bill_id, b.billed_amount, COUNT(p.sequence) FROM bills b "
                    "JOIN bill_payers p ON p.bill_id = b.bill_id "
                    "JOIN claim_lines l ON l.bill_id = b.bill_id "
                    "GROUP BY b.bill_id, b.billed_amount"
                )
            ).all()
            lines = conn.execute(text("SELECT DISTINCT bill_id, charge_id FROM claim_lines")).all()
        mine = {bill for bill, charge in lines if charge in self.charge_ids}
        # Raw SQL on SQLite hands back floats for NUMERIC: make the amount exact again.
        return [(r[0], Decimal(str(r[1])).quantize(CENT), int(r[2]), []) for r in rows if r[0] in mine]


async def _produce(
    bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]], settings: Settings
) -> None:
    from aiokafka import AIOKafkaProducer

    from claimflow.broker.security import client_kwargs

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=10, **client_kwargs(settings)
    )
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for key, value in messages]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


DEMO_USER = "demo-biller"


def _demo_login(engine: Engine) -> tuple[str, str]:
    """The sample biller, with a fresh password and token each run (only hashes are kept)."""
    import secrets

    from workers.report import accounts

    password = "-".join(secrets.token_hex(3) for _ in range(3))
    with engine.begin() as conn:
        companies = ["acme-therapy", "bayside-rehab", "pinecrest-physio"]
        token = accounts.create_user(conn, DEMO_USER, companies, dt.datetime.now(dt.UTC))
        accounts.set_password(conn, DEMO_USER, password)
    return password, token


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


@dataclass(frozen=True)
class RunCounts:
    """What the pipeline did with this `make run`'s charges (not earlier runs' data)."""

    outcomes: dict[str, int]
    claims: int
    runs: int
    open_failures: int
    reasons: list[tuple[str, int]]
    bills: int
    applied: int
    refused: int


def counts(conn: Any, charge_ids: set[str]) -> RunCounts:
    from sqlalchemy import bindparam

    ids = {"ids": sorted(charge_ids) or [""]}

    def q(sql: str) -> Any:
        return conn.execute(text(sql).bindparams(bindparam("ids", expanding=True)), ids)

    # A charge's newest version decides what it is now (a reprocessed failure may be a claim).
    outcomes: dict[str, int] = dict(
        q(
            "SELECT c.outcome, COUNT(*) FROM formatter_charges c WHERE c.charge_id IN :ids "
            "AND c.version = (SELECT MAX(v.version) FROM formatter_charges v "
            "WHERE v.charge_id = c.charge_id) "
            "GROUP BY c.outcome"
        ).all()
    )
    claims = int(q("SELECT COUNT(DISTINCT claim_id) FROM claim_lines WHERE charge_id IN :ids").scalar() or 0)
    runs = int(
        q("SELECT COUNT(DISTINCT run_number) FROM formatter_charges WHERE charge_id IN :ids").scalar() or 0
    )
    open_failures = int(
        q("SELECT COUNT(*) FROM charge_failures WHERE status = 'open' AND charge_id IN :ids").scalar() or 0
    )
    reasons = [
        (str(code), int(n))
        for code, n in q(
            "SELECT r.code, COUNT(*) FROM charge_failure_reasons r JOIN charge_failures f "
            "ON f.charge_id = r.charge_id WHERE f.status = 'open' AND f.charge_id IN :ids "
            "GROUP BY r.code ORDER BY 2 DESC, 1"
        ).all()
    ]
    bills = applied = refused = 0
    # Every table exists: create_all ran the one migration chain before anything started.
    bill_ids = "SELECT DISTINCT bill_id FROM claim_lines WHERE charge_id IN :ids"
    bills = int(q(f"SELECT COUNT(*) FROM bills WHERE bill_id IN ({bill_ids})").scalar() or 0)
    for (answer,) in q(f"SELECT answer_json FROM posting_answers WHERE bill_id IN ({bill_ids})").all():
        if '"PostingRejected"' in answer:
            refused += 1
        else:
            applied += 1
    return RunCounts(outcomes, claims, runs, open_failures, reasons, bills, applied, refused)


def in_words(c: RunCounts, published: int, postings_sent: int) -> list[str]:
    """The summary a newcomer reads: this run's charges, said as sentences."""
    claimed, failed, held = (c.outcomes.get(k, 0) for k in ("claimed", "failed", "held"))
    handled = sum(c.outcomes.values())
    lines = [f"{_plural(published, 'sample charge')} published; the formatter has answered {handled}."]
    if claimed:
        lines.append(
            f"{_plural(claimed, 'charge')} became {_plural(c.claims, 'claim')} in {_plural(c.runs, 'run')} "
            "(a claim holds one patient's charges of one visit)."
        )
    if failed:
        lines.append(
            f"{_plural(failed, 'charge')} failed a billing rule; {c.open_failures} "
            f"{'waits' if c.open_failures == 1 else 'wait'} in the Failed Charges report."
        )
    if held:
        lines.append(
            f"{_plural(held, 'charge')} {'is' if held == 1 else 'are'} held until a claim delay date."
        )
    if c.bills:
        lines.append(
            f"{_plural(c.bills, 'bill')} opened from the claims; {_plural(postings_sent, 'posting')} sent "
            f"(a few twice, as Kafka may redeliver): {c.applied} applied, {c.refused} refused with a reason."
        )
    return lines


def _x12_files(engine: Engine) -> str | None:
    """Where the clearinghouse worker wrote its 837P files, and how many claims they hold."""
    from workers.clearinghouse.storage import outbox_path

    with engine.connect() as conn:
        files, claims = conn.execute(text("SELECT COUNT(*), SUM(claim_count) FROM x12_interchanges")).one()
    if not files:
        return None
    where = outbox_path(get_settings())
    return (
        f"{_plural(int(claims or 0), 'claim')} went out as 837P in {_plural(int(files), 'file')} in {where}/"
    )


def view(
    engine: Engine, feed: Feed, procs: Processes, report_url: str | None, login: tuple[str, str] | None
) -> Group:
    from workers.formatter.rules import RULES

    with engine.connect() as conn:
        c = counts(conn, feed.charge_ids)
    status = Table(title="This run", show_header=False, box=None)
    up = [f"{n} {'up' if alive else '[bold red]DOWN[/]'}" for n, alive in procs.alive().items()]
    status.add_row("processes", ", ".join(up))
    for line in in_words(c, len(feed.charge_ids), feed.postings_sent):
        status.add_row("", line)
    x12 = _x12_files(engine)
    if x12:
        status.add_row("", x12)
    why = Table(title="Why charges failed (open, this run)")
    why.add_column("rule")
    why.add_column("charges", justify="right")
    for code, n in c.reasons[:8]:
        why.add_row(RULES[code].title if code in RULES else code, str(n))
    parts: list[Any] = [status, why]
    if report_url and login:
        password, token = login
        parts.append(
            Panel.fit(
                f"Open [bold]{report_url}/[/] and sign in as [bold]{DEMO_USER}[/], "
                f"password [bold]{password}[/]\n"
                "Billing menu: Failed Charges, Live failures, Bills, Aging, Statements, Collections,\n"
                "Remittances.\n"
                f"API explorer: {report_url}/docs   API token: {token}",
                title="The billers' workspace",
            )
        )
    parts.append(
        "In another terminal (.venv/bin/claimflow):\n"
        "  claimflow report search --as demo-biller --group-by reason\n"
        "Ctrl-C stops everything."
    )
    return Group(*parts)


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("CLAIMFLOW_LOG_LEVEL", "WARNING")
    app()
