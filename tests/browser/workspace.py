"""A whole claimflow for the browser tests: topics of its own, a database, the workers
(formatter, posting, reprocess, clearinghouse, remittance) and the report service as processes (as they
run in production), fed with the sample data, and two billers of different companies who
sign in with passwords."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Coroutine, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Engine, func, select

from claimflow.broker import create_topics
from claimflow.db import create_all, make_engine, unit_of_work
from claimflow.settings import Settings, get_settings
from contracts import Charge
from contracts.topics import CHARGES
from devtools.sample import generate_charges
from devtools.testing.ports import free_port
from tests.pipeline import ROOT, WorkerProcess, produce, worker_env
from workers.formatter import tables as formatter_tables
from workers.report import accounts

if TYPE_CHECKING:
    from playwright.sync_api import Page

T = TypeVar("T")

#: Two billers of two companies: what one sees, the other must not.
ACME = "acme-therapy"
BAYSIDE = "bayside-rehab"
BILLERS = {"amy": (ACME, "amy-password-123"), "ben": (BAYSIDE, "ben-password-456")}
SAMPLE_CHARGES = 150
SAMPLE_SEED = 7


@dataclass
class Workspace:
    url: str
    database_url: str
    bootstrap: str
    prefix: str
    engine: Engine
    folder: Path
    charges: list[Charge] = field(default_factory=list)

    def topic(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def settings(self) -> Settings:
        """The project's settings, pointed at this workspace's broker, topics and database."""
        return get_settings().model_copy(
            update={
                "bootstrap_servers": self.bootstrap,
                "topic_prefix": self.prefix,
                "database_url": self.database_url,
            }
        )

    def sign_in(self, page: Page, user: str = "amy", next_path: str = "/failed-charges") -> None:
        """Sign in through the login page, as a biller does."""
        page.goto(f"{self.url}/login?next={next_path}")
        page.get_by_label("User name").fill(user)
        page.get_by_label("Password", exact=True).fill(BILLERS[user][1])
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{self.url}{next_path}*")

    def publish_charges(self, charges: Sequence[Charge]) -> None:
        messages = [(c.account.encode(), c.model_dump_json().encode()) for c in charges]
        in_thread(produce(self.bootstrap, self.topic(CHARGES), messages))

    def wait_for_formatter(self, charge_ids: Sequence[str], timeout: float = 90) -> None:
        """Until the formatter has answered every one of these charges."""
        wanted = set(charge_ids)
        t = formatter_tables.charges
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.engine.connect() as conn:
                done = conn.execute(
                    select(func.count(func.distinct(t.c.charge_id))).where(t.c.charge_id.in_(wanted))
                ).scalar_one()
            if done >= len(wanted):
                return
            time.sleep(0.3)
        raise TimeoutError(f"the formatter answered {done} of {len(wanted)} charges in {timeout:.0f} s")


def in_thread(work: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end from a test: Playwright's sync API keeps an event loop
    running in the test's thread, so asyncio.run() needs a thread of its own."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, work).result()


def _wait_http(url: str, timeout: float, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the report service exited ({proc.returncode}): {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"the report service did not answer {url} in {timeout:.0f} s")


@contextmanager
def start_workspace(bootstrap: str, database_url: str, folder: Path) -> Iterator[Workspace]:
    prefix = f"w{uuid.uuid4().hex[:8]}."
    create_topics(bootstrap, prefix)
    engine = make_engine(database_url)
    create_all(engine)
    now = dt.datetime.now(dt.UTC)
    with unit_of_work(engine) as conn:
        for user, (company, password) in BILLERS.items():
            accounts.create_user(conn, user, [company], now)
            accounts.set_password(conn, user, password)
    env = worker_env(
        bootstrap,
        prefix,
        database_url,
        CLAIMFLOW_RUN_MAX_CHARGES="200",
        CLAIMFLOW_X12_OUTBOX=str(folder / "x12-outbox"),
        CLAIMFLOW_X12_INBOX=str(folder / "x12-inbox"),
    )
    workers = [
        WorkerProcess(name, env, folder / f"{name}.log").start()
        for name in ("formatter", "posting", "reprocess", "clearinghouse", "remittance")
    ]
    port = free_port()
    report_log = folder / "report.log"
    with report_log.open("ab") as out:
        report = subprocess.Popen(
            [sys.executable, "-m", "claimflow", "report", "serve", "--port", str(port)],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    ws = Workspace(f"http://127.0.0.1:{port}", database_url, bootstrap, prefix, engine, folder)
    try:
        _wait_http(f"{ws.url}/healthz", 60, report, report_log)
        ws.charges = generate_charges(SAMPLE_CHARGES, SAMPLE_SEED, dt.date.today())
        ws.publish_charges(ws.charges)
        ws.wait_for_formatter([c.charge_id for c in ws.charges])
        yield ws
    finally:
        report.terminate()
        try:
            report.wait(20)
        except subprocess.TimeoutExpired:
            report.kill()
        for w in workers:
            w.stop(timeout=30)
        engine.dispose()


def failing_copy(charge: Charge, charge_id: str) -> Charge:
    """A new charge like `charge` that the formatter refuses: its procedure code is no CPT code."""
    return charge.model_copy(update={"charge_id": charge_id, "version": 1, "procedure_code": "ZZZZZ"})
