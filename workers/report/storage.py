"""The report's own tables (users, their tokens and companies) and every read it makes.

Failure data is the formatter's, read through workers/formatter/read.py (queries.py builds
the statements); what reprocessing did is the reprocess worker's, read through
workers/reprocess/read.py. The report writes only its own tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Connection, select

from workers.report import queries as q
from workers.reprocess import read as reprocess_read

# --- the report ------------------------------------------------------------------------


def search(conn: Connection, s: q.Search) -> tuple[q.Page, Decimal]:
    """One page of failed charges with their reasons, the total count and total amount."""
    totals = conn.execute(q.totals_statement(s)).one()
    rows = [dict(r._mapping) for r in conn.execute(q.rows_statement(s))]
    reasons = [dict(r._mapping) for r in conn.execute(q.reasons_statement([r["charge_id"] for r in rows]))]
    page = q.Page(
        total=int(totals.charges), limit=s.limit, offset=s.offset, rows=q.attach_reasons(rows, reasons)
    )
    return page, Decimal(totals.amount or 0)


def groups(conn: Connection, s: q.Search, by: q.GroupBy) -> list[dict[str, Any]]:
    """Counts and amounts per group, each with the filters that drill into its rows."""
    out = []
    for r in conn.execute(q.group_statement(s, by)):
        key = None if r.key is None else str(r.key)
        out.append(
            {
                "key": key,
                "charges": int(r.charges),
                "amount": Decimal(r.amount or 0),
                "drill": q.drill_filters(by, key),
            }
        )
    return out


def company_places(conn: Connection, company_id: str) -> dict[str, Any]:
    """{practices: [id, ...], locations: [{id, practice}, ...]} from the company's failures
    (every status), for the search form's drop-downs. A location seen under two practices
    is listed under each."""
    practices: dict[str, None] = {}
    locations: dict[tuple[str, str | None], None] = {}
    for r in conn.execute(q.places_statement(company_id)):
        if r.practice_id is not None:
            practices[r.practice_id] = None
        if r.location_id is not None:
            locations[(r.location_id, r.practice_id)] = None
    return {
        "practices": sorted(practices),
        "locations": [
            {"id": loc, "practice": practice}
            for loc, practice in sorted(locations, key=lambda p: (p[0], p[1] or ""))
        ],
    }


def detail(conn: Connection, charge_id: str, companies: tuple[str, ...]) -> dict[str, Any] | None:
    """A failed charge with every version, every failure and what reprocessing did; None when
    it is not a failed charge in one of `companies` (the caller cannot tell which)."""
    row = conn.execute(q.failure_statement(charge_id, companies)).first()
    if row is None:
        return None
    failure = dict(row._mapping)
    reasons = [dict(r._mapping) for r in conn.execute(q.reasons_statement([charge_id]))]
    versions = [
        {**{k: v for k, v in r._mapping.items() if k != "charge_json"}, "charge": orjson.loads(r.charge_json)}
        for r in conn.execute(q.versions_statement(charge_id))
    ]
    events = [
        {
            **{k: v for k, v in r._mapping.items() if k != "reasons_json"},
            "reasons": orjson.loads(r.reasons_json),
        }
        for r in conn.execute(q.events_statement(charge_id))
    ]
    return {
        **q.attach_reasons([failure], reasons)[0],
        "versions": versions,
        "failures": events,
        "reprocessing": reprocess_read.charge_history(conn, charge_id),
    }


def selection(conn: Connection, company_id: str, charge_ids: Sequence[str]) -> dict[str, str]:
    """charge_id -> status for the selected charges that are failures in the company."""
    if not charge_ids:
        return {}
    rows = conn.execute(q.selection_statement(company_id, list(dict.fromkeys(charge_ids))))
    return {r.charge_id: r.status for r in rows}


def matching_ids(conn: Connection, s: q.Search, cap: int) -> list[str]:
    """Every charge id a search finds (open ones, for reprocessing by filters), at most `cap`+1
    so that the caller can tell 'too many' from 'exactly cap'."""
    stmt = select(q.f.c.charge_id).where(*q.conditions(s)).order_by(*q.order_by(s.sort)).limit(cap + 1)
    return [r.charge_id for r in conn.execute(stmt)]


def count(conn: Connection, s: q.Search) -> int:
    """How many failed charges a search finds (all of them, not a page)."""
    return int(conn.execute(q.count_statement(s)).scalar_one())


def companies_with_failure(conn: Connection, charge_id: str) -> list[str]:
    """For the operator's CLI (no --as): the company of a failed charge, whichever it is."""
    return [r.company_id for r in conn.execute(select(q.f.c.company_id).where(q.f.c.charge_id == charge_id))]
