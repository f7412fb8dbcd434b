"""Writing a run's failures: the failure rows, their reasons and events, and resolutions.

Bulk statements (claimflow.bulk) on the run's connection; see storage.save_run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Container, Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, func, insert, select, update

from claimflow.bulk import BulkInsert, BulkUpdate
from claimflow.db import ids_param, in_list
from contracts import ChargeFailed, ChargeFailureResolved
from workers.formatter import tables as t
from workers.formatter.run import RunResult

_resolve_failures = BulkUpdate(
    t.failures, ("status", "resolved_claim_id", "resolved_at", "updated_at"), key="charge_id"
)


def resolve(conn: Connection, resolved: Sequence[ChargeFailureResolved], now: dt.datetime) -> None:
    _resolve_failures(conn, [("resolved", r.claim_id, now, now, r.charge_id) for r in resolved])


#: The columns a failure row and its reason rows are written with (the report's bench
#: writes its million failures in the same shape).
FAILURE_COLUMNS = (
    "charge_id",
    "company_id",
    "practice_id",
    "location_id",
    "patient_id",
    "patient_name",
    "latest_version",
    "run_number",
    "oldest_failure_date",
    "last_failure_date",
    "failure_count",
    "status",
    "service_date",
    "procedure_code",
    "amount",
    "payer_name",
    "updated_at",
)
REASON_COLUMNS = ("charge_id", "position", "code", "message", "field", "severity")

_insert_failures = BulkInsert(t.failures, FAILURE_COLUMNS)
_insert_reasons = BulkInsert(t.failure_reasons, REASON_COLUMNS)
_insert_events = BulkInsert(
    t.failure_events, ("charge_id", "version", "run_number", "failed_at", "reasons_json")
)


# Built once, their ids given at each run (claimflow.db.ids_param).
_DELETE_FAILURES = t.failures.delete().where(t.failures.c.charge_id.in_(ids_param()))
_DELETE_REASONS = t.failure_reasons.delete().where(t.failure_reasons.c.charge_id.in_(ids_param()))


def save_failures(
    conn: Connection,
    failed: list[ChargeFailed],
    result: RunResult,
    now: dt.datetime,
    existing: Container[str],
) -> None:
    """Replace the failure rows and reasons of the failed charges.

    `existing` holds every charge id that has a failure row (read earlier in the same
    transaction): reasons are only written with a failure row, so a charge
    failing for the first time has nothing to delete, and most runs need no DELETE.
    """
    # A charge has one failure row, its newest failing version's: two failing versions in
    # one run (a correction sent right behind the charge it corrects) are one failure.
    newest: dict[str, ChargeFailed] = {}
    for x in failed:
        if x.charge_id not in newest or x.charge_version > newest[x.charge_id].charge_version:
            newest[x.charge_id] = x
    ids = [i for i in newest if i in existing]
    if ids:
        params = {"ids": in_list(ids)}
        conn.execute(_DELETE_FAILURES, params)
        conn.execute(_DELETE_REASONS, params)
    charges = {o.charge.charge_id: o.charge for o in result.outcomes.values()}
    rows: list[tuple[Any, ...]] = []
    reasons: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    for x in newest.values():
        c = charges[x.charge_id]
        rows.append(
            (
                x.charge_id,
                x.company_id,
                x.practice_id,
                x.location_id,
                c.patient.id,
                f"{c.patient.last_name}, {c.patient.first_name}".strip(", "),
                x.charge_version,
                x.run_number,
                x.oldest_failure_date,
                x.failed_at.date(),
                x.failure_count,
                "open",
                x.service_date,
                x.procedure_code,
                x.amount,
                x.payer_name,
                now,
            )
        )
        reasons.extend(
            (x.charge_id, i, r.code, r.message, r.field, r.severity) for i, r in enumerate(x.reasons)
        )
    for x in failed:  # every failing version keeps its event
        # The same JSON as r.model_dump(mode="json"): every field of a RuleResult is text.
        reasons_json = [
            {"code": r.code, "message": r.message, "field": r.field, "severity": r.severity}
            for r in x.reasons
        ]
        events.append(
            (x.charge_id, x.charge_version, x.run_number, x.failed_at, orjson.dumps(reasons_json).decode())
        )
    _insert_failures(conn, rows)
    _insert_reasons(conn, reasons)
    _insert_events(conn, events)


#: Failures moved per statement: keeps IN lists inside every database's parameter limit.
CHUNK = 500


def mark_reprocessing(
    conn: Connection,
    replayed: Mapping[str, tuple[str, int]],
    answered: Mapping[str, int],
    now: dt.datetime,
) -> int:
    """Open failures -> reprocessing, for the replays reprocess announced (workers/formatter/
    replays.py): `replayed` maps a charge id to its company and replayed version,
    `answered` to the newest version of it the formatter has answered (a held version is
    not an answer). Only the announcing company's failures move.

    A replay already answered (the announcement came after its charge) or older than the
    failed version is not waiting for anything, so its failure stays as it is. The
    formatter's answer to the replayed version resolves or reopens the failure, or
    `reopen_refused` does when it refuses that version. Returns how many failures moved.
    """
    # One statement per company and version (a request's replays mostly share both), with
    # the version in the statement itself: a failure replaced by a concurrent run of another
    # instance between a read and this update must not be marked.
    groups: dict[tuple[str, int], list[str]] = {}
    for charge_id, (company_id, version) in replayed.items():
        if answered.get(charge_id, 0) < version:
            groups.setdefault((company_id, version), []).append(charge_id)
    f = t.failures.c
    done = 0
    for (company_id, version), ids in groups.items():
        for start in range(0, len(ids), CHUNK):
            result = conn.execute(
                update(t.failures)
                .where(
                    f.charge_id.in_(ids[start : start + CHUNK]),
                    f.company_id == company_id,
                    f.status == "open",
                    f.latest_version < version,
                )
                .values(status="reprocessing", updated_at=now)
            )
            done += result.rowcount
    return done


#: The reason a failure carries when its reprocessed version was refused (dead-lettered).
REPROCESS_REFUSED = "REPROCESS_REFUSED"


def reopen_refused(conn: Connection, refused: Mapping[str, tuple[int, str]], now: dt.datetime) -> list[str]:
    """Failures whose replayed version was refused are open again, with the refusal as a reason.

    `refused` maps a charge id to the replayed version (reprocess's header) this batch
    dead-lettered, and why. Reprocess replays a failure as the next version and announces
    it; the formatter's answer to that version normally resolves or reopens the failure.
    When the formatter refuses it instead (the EHR took that version number first, or a
    newer version was handled), nothing else would ever answer, so the failure is open
    here, with the refusal as one of its reasons: the biller sees why and can reprocess
    again. The failure may still be `open` (the refusal came before the announcement); a
    reason already given is not given twice. A refused replay older than the failed
    version is a late copy of an earlier request and changes nothing.
    Returns the charge ids given the reason.
    """
    if not refused:
        return []
    f, r = t.failures.c, t.failure_reasons.c
    rows = conn.execute(
        select(f.charge_id, f.latest_version, f.status).where(
            f.charge_id.in_(ids_param()), f.status.in_(("open", "reprocessing"))
        ),
        {"ids": in_list(list(refused))},
    ).all()
    reopened = []
    for row in rows:
        version, reason = refused[row.charge_id]
        if version < row.latest_version:
            continue
        if row.status == "reprocessing":
            conn.execute(
                update(t.failures)
                .where(f.charge_id == row.charge_id, f.status == "reprocessing")
                .values(status="open", updated_at=now)
            )
        message = f"reprocessed version {version} was not formatted: {reason}"[:2000]
        given = conn.execute(
            select(r.position).where(
                r.charge_id == row.charge_id, r.code == REPROCESS_REFUSED, r.message == message
            )
        ).first()
        if given is not None:
            continue
        last = conn.execute(select(func.max(r.position)).where(r.charge_id == row.charge_id)).scalar()
        conn.execute(
            insert(t.failure_reasons).values(
                charge_id=row.charge_id,
                position=(last + 1) if last is not None else 0,
                code=REPROCESS_REFUSED,
                message=message,
                field=None,
                severity="error",
            )
        )
        reopened.append(row.charge_id)
    return reopened
