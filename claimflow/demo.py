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

WORKERS = ("formatter", "posting", "reprocess")


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
    from claimflow.broker import broker_status, ensure_broker, stop_broker
    from claimflow.db import create_all, make_engine, safe_url

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
        if _available(f"workers.{name}.agent"):
            procs.start(name, "worker", name)
    report_url = token = None
    if _available("workers.report.api"):
        procs.start("report", "report", "serve")
        report_url = f"http://{settings.report_host}:{settings.report_port}"
        token = _demo_token(engine)
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
                live.update(view(engine, feed, procs, report_url, token))
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
        from claimflow.sample import generate_charges
        from contracts.topics import CHARGES

        charges = generate_charges(self.n, self.seed, dt.date.today(), bad_share=self.bad_share)
        self.charge_ids = {c.charge_id for c in charges}
        messages = [(c.account.encode(), c.model_dump_json().encode()) for c in charges]
        asyncio.run(_produce(self.bootstrap, self.settings.topic(CHARGES), messages, self.settings))
        console.print(f"Published {len(charges)} sample charges (seed {self.seed})")

    def maybe_publish_postings(self) -> None:
        """Once this run's bills exist and the formatter is quiet, post payments to them."""
        if self.postings_sent or not _available("workers.posting.agent"):
            return
        if time.monotonic() - self.started < 8:
            return
        bills = self._bills()
        if not bills:
            return
        from claimflow.sample import BillSummary, generate_postings
        from contracts.topics import POSTINGS

        postings = generate_postings([BillSummary(*b) for b in bills], self.seed)
        messages = [(p.bill_id.encode(), p.model_dump_json().encode()) for p in postings]
        asyncio.run(_produce(self.bootstrap, self.settings.topic(POSTINGS), messages, self.settings))
        self.postings_sent = len(postings)

    def _bills(self) -> list[tuple[str, Any, int, list[str]]]:
        with self.engine.connect() as conn:
            if not _has(conn, "bills"):
                return []
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


def _has(conn: Any, table: str) -> bool:
    from sqlalchemy import inspect

    return bool(inspect(conn).has_table(table))


def _count(conn: Any, sql: str) -> int:
    return int(conn.execute(text(sql)).scalar() or 0)


def _demo_token(engine: Engine) -> str:
    """A biller for the sample companies, with a fresh token each run (only its hash is kept)."""
    from workers.report import storage as report_storage

    with engine.begin() as conn:
        companies = ["acme-therapy", "bayside-rehab", "pinecrest-physio"]
        return report_storage.create_user(conn, "demo-biller", companies, dt.datetime.now(dt.UTC))


def view(engine: Engine, feed: Feed, procs: Processes, report_url: str | None, token: str | None) -> Group:
    with engine.connect() as conn:
        outcomes: dict[str, int] = dict(
            conn.execute(text("SELECT outcome, COUNT(*) FROM formatter_charges GROUP BY outcome")).all()
        )
        claims = _count(conn, "SELECT COUNT(*) FROM claims")
        runs = _count(conn, "SELECT COUNT(*) FROM formatter_runs WHERE charges > 0")
        open_failures = _count(conn, "SELECT COUNT(*) FROM charge_failures WHERE status = 'open'")
        reasons = conn.execute(
            text(
                "SELECT r.code, COUNT(*) FROM charge_failure_reasons r JOIN charge_failures f "
                "ON f.charge_id = r.charge_id WHERE f.status = 'open' GROUP BY r.code ORDER BY 2 DESC"
            )
        ).all()[:8]
        bills = answers = 0
        if _has(conn, "bills"):
            bills = _count(conn, "SELECT COUNT(*) FROM bills")
            answers = _count(conn, "SELECT COUNT(*) FROM posting_answers")
    status = Table(title="Pipeline", show_header=False, box=None)
    status.add_row("workers", "  ".join(f"{n}: {'up' if up else 'DOWN'}" for n, up in procs.alive().items()))
    status.add_row("charges handled", f"{sum(outcomes.values())}  ({outcomes})")
    status.add_row("claims", f"{claims} in {runs} runs")
    status.add_row("open failures", str(open_failures))
    status.add_row("bills", str(bills))
    status.add_row("postings", f"{feed.postings_sent} published, {answers} answered")
    if report_url:
        status.add_row("Failed Charges report", f"{report_url}/docs  (token for demo-biller: {token})")
    why = Table(title="Open failures by reason")
    why.add_column("rule")
    why.add_column("charges", justify="right")
    for code, n in reasons:
        why.add_row(code, str(n))
    hint = (
        "Try, in another terminal (.venv/bin/claimflow):\n"
        "  claimflow report search --as demo-biller --group-by reason\n"
        f'  curl -H "Authorization: Bearer {token}" "{report_url}/failures?sort=-amount&limit=5"\n'
        "  claimflow bills aging      claimflow kafka status\n"
        "Ctrl-C stops everything."
    )
    return Group(status, why, hint)


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("CLAIMFLOW_LOG_LEVEL", "WARNING")
    app()
