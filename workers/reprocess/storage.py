"""The reprocess worker's queries: what each request did (its own tables, tables.py), and
the failures it reads, read-only, through the formatter's read model (formatter/read.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import orjson
from sqlalchemy import (
    Connection,
    case,
    exists,
    func,
    insert,
    select,
    tuple_,
)

from contracts import FailureFilters
from workers.formatter import read as ft
from workers.formatter.read import failed_charges as failed_charges
from workers.formatter.read import owned_references as owned_references
from workers.formatter.read import stored_charge
from workers.reprocess.selection import Candidate
from workers.reprocess.tables import items, requests

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
    """The company's failures among these ids, with their stored charge, any claim, and
    whether a version replayed here is still unanswered by the formatter.

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
    # The newest version stored (a held one included: a replay must be newer still), and
    # the newest the formatter has answered (a held version is not an answer yet).
    newest: dict[str, int] = {}
    answered: dict[str, int] = {}
    for charge_id, stored_version, answered_version in conn.execute(
        select(
            ch.charge_id,
            func.max(ch.version),
            func.max(case((ch.outcome != "held", ch.version))),
        )
        .where(ch.charge_id.in_(found))
        .group_by(ch.charge_id)
    ):
        newest[charge_id] = stored_version
        if answered_version is not None:
            answered[charge_id] = answered_version
    i = items.c
    replayed = dict(
        conn.execute(
            select(i.charge_id, func.max(i.new_version))
            .where(i.charge_id.in_(found), i.outcome == "replayed")
            .group_by(i.charge_id)
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
                charge=stored_charge(stored[r.charge_id]) if r.charge_id in stored else None,
                claim_id=claimed[r.charge_id][0] if r.charge_id in claimed else None,
                awaiting_replay=(replayed.get(r.charge_id) or 0) > (answered.get(r.charge_id) or 0),
            )
            for r in rows
        }
    )
    return out


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
