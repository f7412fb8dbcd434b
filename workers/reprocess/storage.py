"""The reprocess worker's tables and queries: what each request did, and the failures it reads.

`reprocess_requests` is the tracking table: one row per request_id, holding the result and
the exact replayed charges that were published for it, written in the same transaction as
the failures' move to `reprocessing`. A redelivered request finds its row and publishes the
same bytes again (the formatter is idempotent by charge_id + version).
`reprocess_items` is the report's drill-down: per request and charge, what was done and why.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import orjson
from pydantic import ValidationError
from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Integer,
    String,
    Table,
    Text,
    and_,
    exists,
    func,
    insert,
    select,
    tuple_,
    update,
)

from claimflow.db import metadata
from contracts import Charge, FailureFilters
from workers.formatter import tables as ft
from workers.reprocess.selection import Candidate

requests = Table(
    "reprocess_requests",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("company_id", String(64), nullable=False, index=True),
    Column("requested_by", String(64), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("completed_at", DateTime(timezone=True), nullable=False),
    Column("result_json", Text, nullable=False),
    # [[key, charge json], ...]: the replayed charges exactly as published.
    Column("replayed_json", Text, nullable=False),
)

items = Table(
    "reprocess_items",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("charge_id", String(64), primary_key=True, index=True),
    Column("new_version", Integer),
    Column("outcome", String(16), nullable=False),  # replayed | skipped
    Column("reason", Text),
)

#: Charges read per statement: keeps IN lists inside every database's parameter limit.
CHUNK = 500


@dataclass(frozen=True, slots=True)
class StoredRequest:
    result_json: str
    replayed: list[tuple[str, str]]  # (topic key, charge json)


@dataclass(frozen=True, slots=True)
class Item:
    request_id: str
    charge_id: str
    new_version: int | None
    outcome: str
    reason: str | None


def stored_requests(conn: Connection, request_ids: Iterable[str]) -> dict[str, StoredRequest]:
    ids = list(set(request_ids))
    if not ids:
        return {}
    r = requests.c
    rows = conn.execute(select(r.request_id, r.result_json, r.replayed_json).where(r.request_id.in_(ids)))
    return {
        row.request_id: StoredRequest(row.result_json, [(k, v) for k, v in orjson.loads(row.replayed_json)])
        for row in rows
    }


def filtered_failure_ids(conn: Connection, company_id: str, filters: FailureFilters) -> list[str]:
    """Charge ids of the company's unresolved failures that the report's filters match."""
    f = ft.failures.c
    query = select(f.charge_id).where(f.company_id == company_id, f.status.in_(("open", "reprocessing")))
    if filters.practice_id is not None:
        query = query.where(f.practice_id == filters.practice_id)
    if filters.location_id is not None:
        query = query.where(f.location_id == filters.location_id)
    if filters.run_number is not None:
        query = query.where(f.run_number == filters.run_number)
    if filters.failed_from is not None:
        query = query.where(f.oldest_failure_date >= filters.failed_from)
    if filters.failed_to is not None:
        query = query.where(f.oldest_failure_date <= filters.failed_to)
    if filters.failure_code is not None:
        reasons = ft.failure_reasons.c
        query = query.where(
            exists().where(reasons.charge_id == f.charge_id, reasons.code == filters.failure_code)
        )
    return list(conn.execute(query.order_by(f.oldest_failure_date, f.charge_id)).scalars())


def load_candidates(conn: Connection, company_id: str, charge_ids: Iterable[str]) -> dict[str, Candidate]:
    """The company's failures among these ids, with their stored charge and any claim.

    Locks the failure rows (FOR UPDATE, where the database has it) so two requests handled
    at once by two instances cannot both replay one failure.
    """
    ids = list(dict.fromkeys(charge_ids))
    out: dict[str, Candidate] = {}
    for start in range(0, len(ids), CHUNK):
        out.update(_load_chunk(conn, company_id, ids[start : start + CHUNK]))
    return out


def _load_chunk(conn: Connection, company_id: str, ids: list[str]) -> dict[str, Candidate]:
    f = ft.failures.c
    rows = conn.execute(
        select(
            f.charge_id,
            f.company_id,
            f.status,
            f.latest_version,
            f.practice_id,
            f.location_id,
            f.run_number,
            f.oldest_failure_date,
        )
        .where(f.charge_id.in_(ids), f.company_id == company_id)
        .order_by(f.charge_id)  # one lock order for every instance: no deadlock between them
        .with_for_update()
    ).all()
    lines = ft.claim_lines.c
    claimed = {
        r.charge_id: (r.claim_id, r.version)
        for r in conn.execute(
            select(
                lines.charge_id,
                func.min(lines.claim_id).label("claim_id"),
                func.max(lines.charge_version).label("version"),
            )
            .where(lines.charge_id.in_(ids), lines.company_id == company_id)
            .group_by(lines.charge_id)
        )
    }
    # A charge claimed without ever failing: say it is claimed rather than not found.
    out = {
        charge_id: Candidate(charge_id, company_id, "claimed", version, version, claim_id=claim_id)
        for charge_id, (claim_id, version) in claimed.items()
    }
    if not rows:
        return out
    found = [r.charge_id for r in rows]
    codes: dict[str, set[str]] = {}
    reasons = ft.failure_reasons.c
    for charge_id, code in conn.execute(
        select(reasons.charge_id, reasons.code).where(reasons.charge_id.in_(found))
    ):
        codes.setdefault(charge_id, set()).add(code)
    ch = ft.charges.c
    stored = dict(
        conn.execute(
            select(ch.charge_id, ch.charge_json).where(
                tuple_(ch.charge_id, ch.version).in_([(r.charge_id, r.latest_version) for r in rows])
            )
        ).all()
    )
    newest = dict(
        conn.execute(
            select(ch.charge_id, func.max(ch.version)).where(ch.charge_id.in_(found)).group_by(ch.charge_id)
        ).all()
    )
    out.update(
        {
            r.charge_id: Candidate(
                charge_id=r.charge_id,
                company_id=r.company_id,
                status=r.status,
                latest_version=r.latest_version,
                newest_version=int(newest.get(r.charge_id) or r.latest_version),
                practice_id=r.practice_id,
                location_id=r.location_id,
                run_number=r.run_number,
                oldest_failure_date=r.oldest_failure_date,
                codes=frozenset(codes.get(r.charge_id, ())),
                charge=_charge(stored[r.charge_id]) if r.charge_id in stored else None,
                claim_id=claimed[r.charge_id][0] if r.charge_id in claimed else None,
            )
            for r in rows
        }
    )
    return out


def _charge(text: str) -> Charge | None:
    """A stored charge as the contract reads it now; None when it no longer passes (a contract
    bound added after it was stored): it is skipped as not replayable rather than crash the batch."""
    try:
        return Charge.model_validate_json(text)
    except ValidationError:
        return None


def failed_charges(conn: Connection, company_id: str, charge_ids: Iterable[str]) -> dict[str, Charge]:
    """The charge each of the company's failures last failed as: what a replay corrects."""
    ids = list(dict.fromkeys(charge_ids))
    f, ch = ft.failures.c, ft.charges.c
    out: dict[str, Charge] = {}
    for start in range(0, len(ids), CHUNK):
        rows = conn.execute(
            select(ch.charge_id, ch.charge_json)
            .join_from(
                ft.failures, ft.charges, and_(ch.charge_id == f.charge_id, ch.version == f.latest_version)
            )
            .where(f.company_id == company_id, f.charge_id.in_(ids[start : start + CHUNK]))
        )
        for charge_id, text in rows:
            charge = _charge(text)
            if charge is not None:
                out[charge_id] = charge
    return out


def owned_references(
    conn: Connection, company_id: str, wanted: Mapping[str, Iterable[str]]
) -> dict[str, set[str]]:
    """Of the ids asked about per reference path, those the company owns (ownership.py says
    what that means). Runs only for corrections that change a reference, which are rare."""
    ch, cl = ft.charges.c, ft.claims.c
    columns = {"practice_id": ch.practice_id, "location_id": ch.location_id, "patient.id": ch.patient_id}
    out: dict[str, set[str]] = {}
    for path, values in wanted.items():
        ids = sorted(set(values))
        found: set[str] = set()
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            if path == "bill_id":
                query = select(cl.bill_id).where(cl.company_id == company_id, cl.bill_id.in_(chunk))
            else:
                column = columns[path]
                query = select(column).where(ch.company_id == company_id, column.in_(chunk))
            found.update(conn.execute(query.distinct()).scalars())
        out[path] = found
    return out


def mark_reprocessing(conn: Connection, charge_ids: Sequence[str], now: dt.datetime) -> int:
    """Open failures -> reprocessing; the formatter's next answer resolves or reopens them."""
    f = ft.failures.c
    done = 0
    for start in range(0, len(charge_ids), CHUNK):
        chunk = list(charge_ids[start : start + CHUNK])
        result = conn.execute(
            update(ft.failures)
            .where(and_(f.charge_id.in_(chunk), f.status == "open"))
            .values(status="reprocessing", updated_at=now)
        )
        done += result.rowcount
    return done


def save_requests(conn: Connection, rows: Sequence[dict[str, object]], item_rows: Sequence[Item]) -> None:
    if rows:
        conn.execute(insert(requests), list(rows))
    if item_rows:
        conn.execute(
            insert(items),
            [
                {
                    "request_id": i.request_id,
                    "charge_id": i.charge_id,
                    "new_version": i.new_version,
                    "outcome": i.outcome,
                    "reason": i.reason,
                }
                for i in item_rows
            ],
        )


def items_for_charges(conn: Connection, charge_ids: Iterable[str]) -> list[Item]:
    """What reprocessing did to these charges, oldest request first (the report's drill-down)."""
    ids = list(set(charge_ids))
    if not ids:
        return []
    i, r = items.c, requests.c
    rows = conn.execute(
        select(i.request_id, i.charge_id, i.new_version, i.outcome, i.reason)
        .join_from(items, requests, i.request_id == r.request_id)
        .where(i.charge_id.in_(ids))
        .order_by(r.requested_at, i.request_id)
    )
    return [Item(row.request_id, row.charge_id, row.new_version, row.outcome, row.reason) for row in rows]
