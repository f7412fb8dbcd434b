"""The formatter's reads and writes, a few statements per run (never one per charge).

Every function takes the run's `Connection`, so a run's effects and its tracking rows
commit together (claimflow.db.unit_of_work).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Connection, func, insert, inspect, select, tuple_, update

from contracts import Charge, ChargeFailed, Claim
from workers.formatter import tables as t
from workers.formatter.history import History, SentLine, discipline
from workers.formatter.run import FailureState, RunResult


def next_run(conn: Connection, now: dt.datetime) -> int:
    """Take the next run number: monotonic and shared by every formatter instance."""
    result = conn.execute(insert(t.runs).values(started_at=now, charges=0, claims=0, failures=0, held=0))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def close_run(conn: Connection, run_number: int, result: RunResult, now: dt.datetime) -> None:
    conn.execute(
        update(t.runs)
        .where(t.runs.c.run_number == run_number)
        .values(
            closed_at=now,
            charges=len(result.outcomes),
            claims=len(result.claims),
            failures=len(result.failed),
            held=len(result.held),
        )
    )


def processed(conn: Connection, keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], dict[str, Any]]:
    """Tracking rows of charge versions already handled (final outcomes only)."""
    keys = list(keys)
    if not keys:
        return {}
    rows = conn.execute(
        select(
            t.charges.c.charge_id,
            t.charges.c.version,
            t.charges.c.outcome,
            t.charges.c.claim_id,
            t.charges.c.answers,
        )
        .where(tuple_(t.charges.c.charge_id, t.charges.c.version).in_(keys))
        .where(t.charges.c.outcome != "held")
    )
    return {(r.charge_id, r.version): r._asdict() for r in rows}


def latest_versions(conn: Connection, charge_ids: Iterable[str]) -> dict[str, int]:
    ids = list(set(charge_ids))
    if not ids:
        return {}
    rows = conn.execute(
        select(t.charges.c.charge_id, func.max(t.charges.c.version))
        .where(t.charges.c.charge_id.in_(ids), t.charges.c.outcome != "held")
        .group_by(t.charges.c.charge_id)
    )
    return {cid: int(v) for cid, v in rows}


def claim_json(conn: Connection, claim_ids: Iterable[str]) -> dict[str, bytes]:
    ids = list(set(claim_ids))
    if not ids:
        return {}
    rows = conn.execute(
        select(t.claims.c.claim_id, t.claims.c.claim_json).where(t.claims.c.claim_id.in_(ids))
    )
    return {cid: text.encode() for cid, text in rows}


def load_history(conn: Connection, charges: Sequence[Charge]) -> History:
    """Everything the rules need about these charges' patients and bills, in four queries."""
    history = History()
    patients = {(c.company_id, c.patient.id) for c in charges}
    years = {c.service_date.year for c in charges if c.service_date}
    if patients:
        lines = t.claim_lines.c
        rows = conn.execute(
            select(
                lines.charge_id,
                lines.charge_version,
                lines.bill_id,
                lines.company_id,
                lines.patient_id,
                lines.service_date,
                lines.procedure_code,
                lines.modifiers_key,
                lines.discipline,
                lines.amount,
            )
            .where(tuple_(lines.company_id, lines.patient_id).in_(list(patients)))
            .order_by(lines.claim_id, lines.line_number)
        )
        for r in rows:
            mods = tuple(r.modifiers_key.split(",")) if r.modifiers_key else ()
            history.claimed[(r.company_id, r.patient_id, r.service_date, r.procedure_code, mods)] = (
                r.charge_id
            )
            sent = history.sent.get(r.charge_id)
            if sent is None or r.charge_version >= sent.version:
                history.set_sent(r.charge_id, SentLine(r.bill_id, r.charge_version))
            if r.discipline and r.service_date.year in years:
                key = (r.company_id, r.patient_id, r.service_date.year, r.discipline)
                history.therapy_ytd[key] = history.therapy_ytd.get(key, Decimal("0.00")) + r.amount
    # Charges claimed on a bill of another patient key (rare) and explicit bill ids.
    bills = {c.bill_id for c in charges if c.bill_id} | {s.bill_id for s in history.sent.values()}
    history.bill_rejected.update(bill_rejected(conn, bills))
    return history


def bill_rejected(conn: Connection, bill_ids: Iterable[str]) -> dict[str, bool]:
    """Rejected status from the posting worker's bill table (absent until posting runs)."""
    ids = list(bill_ids)
    if not ids or not inspect(conn).has_table("bills"):
        return {}
    from sqlalchemy import column, table

    bills = table("bills", column("bill_id"), column("rejected"))
    rows = conn.execute(select(bills.c.bill_id, bills.c.rejected).where(bills.c.bill_id.in_(ids)))
    return {bid: bool(rejected) for bid, rejected in rows}


def failure_states(conn: Connection, charge_ids: Iterable[str]) -> dict[str, FailureState]:
    ids = list(set(charge_ids))
    if not ids:
        return {}
    f = t.failures.c
    rows = conn.execute(
        select(f.charge_id, f.oldest_failure_date, f.failure_count, f.status).where(f.charge_id.in_(ids))
    )
    return {r.charge_id: FailureState(r.oldest_failure_date, r.failure_count, r.status) for r in rows}


def save_run(
    conn: Connection,
    result: RunResult,
    answers: dict[tuple[str, int], list[tuple[str, str, str]]],
    now: dt.datetime,
    received: Mapping[tuple[str, int], bytes] | None = None,
) -> None:
    """Write a run's claims, failures, holds and tracking rows (bulk statements).

    `received` holds the bytes each charge arrived as, by (charge_id, version): they are
    stored as its `charge_json` as they are (they decoded as a Charge, so they are a valid
    one), instead of serialising the decoded charge again.
    """
    raw = received or {}

    def charge_json(c: Charge) -> str:
        data = raw.get((c.charge_id, c.version))
        return data.decode("utf-8") if data is not None else c.model_dump_json()

    if result.claims:
        conn.execute(insert(t.claims), [_claim_row(c) for c in result.claims])
        conn.execute(insert(t.claim_lines), [row for c in result.claims for row in _line_rows(c)])
    if result.failed:
        _save_failures(conn, result.failed, result, now)
    if result.resolved:
        f = t.failures.c
        for r in result.resolved:
            conn.execute(
                update(t.failures)
                .where(f.charge_id == r.charge_id)
                .values(status="resolved", resolved_claim_id=r.claim_id, resolved_at=now, updated_at=now)
            )
    existing_held = _held_keys(conn, list(result.outcomes))
    new_held = [c for c in result.held if (c.charge_id, c.version) not in existing_held]
    if new_held:
        conn.execute(
            insert(t.held),
            [
                {
                    "charge_id": c.charge_id,
                    "version": c.version,
                    "company_id": c.company_id,
                    "release_on": c.claim_delay_until,
                    "charge_json": charge_json(c),
                }
                for c in new_held
            ],
        )
    rows = []
    for key, outcome in result.outcomes.items():
        c = outcome.charge
        row = {
            "charge_id": c.charge_id,
            "version": c.version,
            "company_id": c.company_id,
            "practice_id": c.practice_id,
            "location_id": c.location_id,
            "patient_id": c.patient.id,
            "outcome": outcome.kind,
            "run_number": result.run_number,
            "claim_id": outcome.claim_id,
            "answers": orjson.dumps(answers.get(key, [])).decode(),
            "charge_json": charge_json(c),
            "received_at": now,
        }
        if key in existing_held:
            if outcome.kind == "held":
                continue  # redelivered before its date: still held, nothing changes
            # A held charge that comes back on its release date: its row takes the outcome.
            conn.execute(
                update(t.charges)
                .where(t.charges.c.charge_id == key[0], t.charges.c.version == key[1])
                .values(**row)
            )
            conn.execute(
                update(t.held)
                .where(t.held.c.charge_id == key[0], t.held.c.version == key[1])
                .values(released_at=now)
            )
        else:
            rows.append(row)
    if rows:
        conn.execute(insert(t.charges), rows)


def _held_keys(conn: Connection, keys: list[tuple[str, int]]) -> set[tuple[str, int]]:
    if not keys:
        return set()
    c = t.charges.c
    rows = conn.execute(
        select(c.charge_id, c.version).where(tuple_(c.charge_id, c.version).in_(keys), c.outcome == "held")
    )
    return {(r.charge_id, r.version) for r in rows}


def _claim_row(claim: Claim) -> dict[str, Any]:
    return {
        "claim_id": claim.claim_id,
        "bill_id": claim.bill_id,
        "frequency": claim.frequency,
        "run_number": claim.run_number,
        "company_id": claim.company_id,
        "patient_id": claim.patient.id,
        "service_date": claim.service_date,
        "total_amount": claim.total_amount,
        "claim_json": claim.model_dump_json(),
        "created_at": claim.created_at,
    }


def _line_rows(claim: Claim) -> list[dict[str, Any]]:
    return [
        {
            "claim_id": claim.claim_id,
            "line_number": line.line_number,
            "charge_id": line.charge_id,
            "charge_version": line.charge_version,
            "bill_id": claim.bill_id,
            "company_id": claim.company_id,
            "patient_id": claim.patient.id,
            "service_date": claim.service_date,
            "procedure_code": line.procedure_code,
            "modifiers_key": ",".join(sorted(line.modifiers)),
            "discipline": discipline(line.modifiers),
            "amount": line.amount,
        }
        for line in claim.lines
    ]


def _save_failures(conn: Connection, failed: list[ChargeFailed], result: RunResult, now: dt.datetime) -> None:
    f = t.failures.c
    ids = [x.charge_id for x in failed]
    conn.execute(t.failures.delete().where(f.charge_id.in_(ids)))
    conn.execute(t.failure_reasons.delete().where(t.failure_reasons.c.charge_id.in_(ids)))
    charges = {o.charge.charge_id: o.charge for o in result.outcomes.values()}
    rows: list[dict[str, Any]] = []
    reasons: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for x in failed:
        c = charges[x.charge_id]
        rows.append(
            {
                "charge_id": x.charge_id,
                "company_id": x.company_id,
                "practice_id": x.practice_id,
                "location_id": x.location_id,
                "patient_id": c.patient.id,
                "patient_name": f"{c.patient.last_name}, {c.patient.first_name}".strip(", "),
                "latest_version": x.charge_version,
                "run_number": x.run_number,
                "oldest_failure_date": x.oldest_failure_date,
                "last_failure_date": x.failed_at.date(),
                "failure_count": x.failure_count,
                "status": "open",
                "service_date": x.service_date,
                "procedure_code": x.procedure_code,
                "amount": x.amount,
                "payer_name": x.payer_name,
                "updated_at": now,
            }
        )
        reasons.extend(
            {
                "charge_id": x.charge_id,
                "position": i,
                "code": r.code,
                "message": r.message,
                "field": r.field,
                "severity": r.severity,
            }
            for i, r in enumerate(x.reasons)
        )
        events.append(
            {
                "charge_id": x.charge_id,
                "version": x.charge_version,
                "run_number": x.run_number,
                "failed_at": x.failed_at,
                "reasons_json": orjson.dumps([r.model_dump(mode="json") for r in x.reasons]).decode(),
            }
        )
    conn.execute(insert(t.failures), rows)
    conn.execute(insert(t.failure_reasons), reasons)
    conn.execute(insert(t.failure_events), events)


def due_holds(conn: Connection, today: dt.date, limit: int = 1000) -> list[tuple[str, bytes]]:
    """Held charges whose date has come and that were not released yet: (account key, json)."""
    h = t.held.c
    rows = conn.execute(
        select(h.charge_json).where(h.release_on <= today, h.released_at.is_(None)).limit(limit)
    )
    out = []
    for (text,) in rows:
        charge = Charge.model_validate_json(text)
        out.append((charge.account, text.encode()))
    return out
