"""The live failures dashboard: what is open now, by reason, and failures per run over the
recent runs. Built on the report's one query layer (`queries`, `storage`); the only query of
its own is failures per run, which no search answers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Select, func, select

from workers.formatter import read as t
from workers.report import queries as q
from workers.report import storage

RECENT_RUNS = 12
LATEST = 15


@dataclass(frozen=True)
class RunFailures:
    run_number: int
    charges: int


@dataclass(frozen=True)
class Dashboard:
    company_id: str
    open_count: int
    open_amount: Decimal
    oldest_failure_date: dt.date | None
    by_reason: list[dict[str, Any]]
    per_run: list[RunFailures]
    latest: list[dict[str, Any]]

    def oldest_age_days(self, today: dt.date) -> int | None:
        return None if self.oldest_failure_date is None else (today - self.oldest_failure_date).days


def per_run_statement(company_id: str, runs: int = RECENT_RUNS) -> Select[Any]:
    """How many of the company's charges failed in each of its most recent runs (a charge
    failing again in a later run counts in that run too)."""
    e, f = t.failure_events, t.failures
    return (
        select(e.c.run_number, func.count(func.distinct(e.c.charge_id)).label("charges"))
        .join(f, f.c.charge_id == e.c.charge_id)
        .where(f.c.company_id == company_id)
        .group_by(e.c.run_number)
        .order_by(e.c.run_number.desc())
        .limit(runs)
    )


def load(conn: Connection, company_id: str) -> Dashboard:
    open_now = q.Search(company_id=company_id, status="open", limit=1)
    oldest_page, amount = storage.search(conn, open_now)
    latest, _ = storage.search(
        conn,
        q.Search(company_id=company_id, status="open", sort=(("last_failure_date", True),), limit=LATEST),
    )
    per_run = [
        RunFailures(int(r.run_number), int(r.charges)) for r in conn.execute(per_run_statement(company_id))
    ]
    return Dashboard(
        company_id=company_id,
        open_count=oldest_page.total,
        open_amount=amount,
        oldest_failure_date=oldest_page.rows[0]["oldest_failure_date"] if oldest_page.rows else None,
        by_reason=storage.groups(conn, open_now, "reason"),
        per_run=list(reversed(per_run)),
        latest=latest.rows,
    )
