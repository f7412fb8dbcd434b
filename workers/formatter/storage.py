"""The formatter's reads and writes, a few statements per run (never one per charge).

Every function takes the run's `Connection`, so a run's effects and its tracking rows
commit together (claimflow.db.unit_of_work).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Container, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Connection, insert, select, update

from claimflow.bulk import BulkInsert
from claimflow.db import ids_param, in_list
from contracts import Charge, Claim
from workers.formatter import failure_rows
from workers.formatter import tables as t
from workers.formatter.history import History, SentLine, history_of
from workers.formatter.rules.context import ClaimKey, TherapyKey, discipline_of
from workers.formatter.run import FailureState, RunResult
from workers.posting import read as posting_read


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


Key = tuple[str, int]
ZERO = Decimal("0.00")

# Queries over a batch's ids are built once, their ids given at each run (claimflow.db.ids_param).
_c = t.charges.c
_SEEN = select(_c.charge_id, _c.version, _c.outcome, _c.claim_id, _c.answers).where(
    _c.charge_id.in_(ids_param())
)
_STORED = select(_c.charge_id, _c.version, _c.charge_json).where(_c.charge_id.in_(ids_param()))
_CLAIM_JSON = select(t.claims.c.claim_id, t.claims.c.claim_json).where(t.claims.c.claim_id.in_(ids_param()))
_f = t.failures.c
_FAILURE_STATES = select(_f.charge_id, _f.oldest_failure_date, _f.failure_count, _f.status).where(
    _f.charge_id.in_(ids_param())
)
_l = t.claim_lines.c
# Two IN lists on the index's columns, then the exact pairs in Python: SQLite scans the
# whole table for a (company_id, patient_id) IN (...) list of pairs.
_PATIENT_LINES = (
    select(
        _l.charge_id,
        _l.charge_version,
        _l.bill_id,
        _l.company_id,
        _l.patient_id,
        _l.service_date,
        _l.procedure_code,
        _l.modifiers_key,
        _l.discipline,
        _l.amount,
    )
    .where(
        _l.company_id.in_(ids_param("companies")),
        _l.patient_id.in_(ids_param("patients")),
    )
    .order_by(_l.claim_id, _l.line_number)
)


def seen(conn: Connection, keys: Sequence[Key]) -> tuple[dict[Key, dict[str, Any]], dict[str, int], set[Key]]:
    """What is stored for these charges, in one query: the tracking rows of the versions
    already handled (final outcomes only), each charge's latest handled version, and the
    versions among `keys` that are held (for save_run, which would otherwise ask again).

    Looked up by charge_id alone (the primary key's first column): SQLite answers a
    (charge_id, version) IN (...) list with a scan of the whole table.
    """
    ids = list({k[0] for k in keys})
    if not ids:
        return {}, {}, set()
    wanted = set(keys)
    rows = conn.execute(_SEEN, {"ids": in_list(ids)})
    done: dict[Key, dict[str, Any]] = {}
    latest: dict[str, int] = {}
    held: set[Key] = set()
    for r in rows:
        key = (r.charge_id, r.version)
        if r.outcome == "held":
            if key in wanted:
                held.add(key)
            continue
        if key in wanted:
            done[key] = r._asdict()
        if r.version > latest.get(r.charge_id, 0):
            latest[r.charge_id] = r.version
    return done, latest, held


def stored_charges(conn: Connection, keys: Iterable[Key]) -> dict[Key, str]:
    """The charge JSON stored for these handled versions (by charge_id, as seen() does)."""
    wanted = set(keys)
    if not wanted:
        return {}
    rows = conn.execute(_STORED, {"ids": in_list({k[0] for k in wanted})})
    return {(r.charge_id, r.version): r.charge_json for r in rows if (r.charge_id, r.version) in wanted}


def claim_json(conn: Connection, claim_ids: Iterable[str]) -> dict[str, bytes]:
    ids = list(set(claim_ids))
    if not ids:
        return {}
    rows = conn.execute(_CLAIM_JSON, {"ids": in_list(ids)})
    return {cid: text.encode() for cid, text in rows}


def load_history(conn: Connection, charges: Sequence[Charge]) -> History:
    """Everything the rules need about these charges' patients and bills, in two queries."""
    claimed: dict[ClaimKey, str] = {}
    therapy: dict[TherapyKey, Decimal] = {}
    sent: dict[str, SentLine] = {}
    patients = {(c.company_id, c.patient.id) for c in charges}
    years = {c.service_date.year for c in charges if c.service_date}
    if patients:
        rows = conn.execute(
            _PATIENT_LINES,
            {"companies": in_list({p[0] for p in patients}), "patients": in_list({p[1] for p in patients})},
        )
        for charge_id, version, bill_id, company, patient, date, code, mods, kind, amount in rows:
            if (company, patient) not in patients:
                continue
            claimed[(company, patient, date, code, tuple(mods.split(",")) if mods else ())] = charge_id
            line = sent.get(charge_id)
            if line is None or version >= line.version:
                sent[charge_id] = SentLine(bill_id, version)
            if kind and date.year in years:
                key = (company, patient, date.year, kind)
                therapy[key] = therapy.get(key, ZERO) + amount
    # Charges claimed on a bill of another patient key (rare) and explicit bill ids.
    bills = {c.bill_id for c in charges if c.bill_id} | {s.bill_id for s in sent.values()}
    return history_of(claimed, therapy, sent, posting_read.bill_rejected(conn, bills))


def failure_states(conn: Connection, charge_ids: Iterable[str]) -> dict[str, FailureState]:
    ids = list(set(charge_ids))
    if not ids:
        return {}
    rows = conn.execute(_FAILURE_STATES, {"ids": in_list(ids)})
    return {r.charge_id: FailureState(r.oldest_failure_date, r.failure_count, r.status) for r in rows}


_CHARGE_COLUMNS = (
    "charge_id",
    "version",
    "company_id",
    "practice_id",
    "location_id",
    "patient_id",
    "outcome",
    "run_number",
    "claim_id",
    "answers",
    "charge_json",
    "received_at",
)
_insert_charges = BulkInsert(t.charges, _CHARGE_COLUMNS)
_insert_held = BulkInsert(t.held, ("charge_id", "version", "company_id", "release_on", "charge_json"))
_insert_claims = BulkInsert(
    t.claims,
    (
        "claim_id",
        "bill_id",
        "frequency",
        "run_number",
        "company_id",
        "patient_id",
        "service_date",
        "total_amount",
        "claim_json",
        "created_at",
    ),
)
_insert_lines = BulkInsert(
    t.claim_lines,
    (
        "claim_id",
        "line_number",
        "charge_id",
        "charge_version",
        "bill_id",
        "company_id",
        "patient_id",
        "service_date",
        "procedure_code",
        "modifiers_key",
        "discipline",
        "amount",
    ),
)


def save_run(
    conn: Connection,
    result: RunResult,
    answers: dict[tuple[str, int], list[tuple[str, str, str]]],
    now: dt.datetime,
    received: Mapping[tuple[str, int], bytes],
    claims_json: Mapping[str, str],
    *,
    held: AbstractSet[Key],
    failure_ids: Container[str],
) -> None:
    """Write a run's claims, failures, holds and tracking rows (bulk statements).

    `received` holds the bytes each charge arrived as, by (charge_id, version): they are
    stored as its `charge_json` as they are (they decoded as a Charge, so they are a valid
    one), instead of serialising the decoded charge again; a charge without them (a message
    with no value) is serialised. `claims_json` holds every claim of the run as already
    serialised for publishing, by claim_id.

    What the run's transaction already read saves queries here: `held`, the run's versions
    stored as held (seen()'s third answer), and `failure_ids`, the charge ids with a
    failure row (failure_states()'s keys).
    """

    def charge_json(c: Charge) -> str:
        data = received.get((c.charge_id, c.version))
        return data.decode("utf-8") if data is not None else c.model_dump_json()

    if result.claims:
        _insert_claims(conn, [_claim_row(c, claims_json[c.claim_id]) for c in result.claims])
        _insert_lines(conn, [row for c in result.claims for row in _line_rows(c)])
    if result.failed:
        failure_rows.save_failures(conn, result.failed, result, now, existing=failure_ids)
    if result.resolved:
        failure_rows.resolve(conn, result.resolved, now)
    new_held = [c for c in result.held if (c.charge_id, c.version) not in held]
    _insert_held(
        conn,
        [(c.charge_id, c.version, c.company_id, c.claim_delay_until, charge_json(c)) for c in new_held],
    )
    rows = []
    run_number = result.run_number
    for key, outcome in result.outcomes.items():
        c = outcome.charge
        stored = answers.get(key)
        row = (
            c.charge_id,
            c.version,
            c.company_id,
            c.practice_id,
            c.location_id,
            c.patient.id,
            outcome.kind,
            run_number,
            outcome.claim_id,
            orjson.dumps(stored).decode() if stored is not None else "[]",
            charge_json(c),
            now,
        )
        if key in held:
            if outcome.kind == "held":
                continue  # redelivered before its date: still held, nothing changes
            # A held charge that comes back on its release date: its row takes the outcome.
            conn.execute(
                update(t.charges)
                .where(t.charges.c.charge_id == key[0], t.charges.c.version == key[1])
                .values(**dict(zip(_CHARGE_COLUMNS, row, strict=True)))
            )
            conn.execute(
                update(t.held)
                .where(t.held.c.charge_id == key[0], t.held.c.version == key[1])
                .values(released_at=now)
            )
        else:
            rows.append(row)
    _insert_charges(conn, rows)


def _claim_row(claim: Claim, published: str) -> tuple[Any, ...]:
    return (
        claim.claim_id,
        claim.bill_id,
        claim.frequency,
        claim.run_number,
        claim.company_id,
        claim.patient.id,
        claim.service_date,
        claim.total_amount,
        published,
        claim.created_at,
    )


def _line_rows(claim: Claim) -> list[tuple[Any, ...]]:
    return [
        (
            claim.claim_id,
            line.line_number,
            line.charge_id,
            line.charge_version,
            claim.bill_id,
            claim.company_id,
            claim.patient.id,
            claim.service_date,
            line.procedure_code,
            ",".join(sorted(line.modifiers)),
            discipline_of(line.modifiers),
            line.amount,
        )
        for line in claim.lines
    ]


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
