"""What other workers may read of the formatter's state: read-only, never written.

The formatter owns these tables (workers/formatter/tables.py) and is the only writer.
The report reads failures, their reasons, events and versions for the Failed Charges
report and the charge record, and claims for the bill pages; reprocess reads the failures
a request selects, the version each last failed as, and which references a company owns.
A reader builds its own queries on these tables, in a few statements per request, and
changes nothing. Every write is the formatter's, in its own transactions: even a failure's
move to `reprocessing`, which the formatter makes when it reads reprocess's result
(workers/formatter/replays.py; docs/ARCHITECTURE.md, "Who owns which table").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pydantic import ValidationError
from sqlalchemy import Connection, and_, select

from contracts import Charge
from workers.formatter.tables import (
    charges,
    claim_lines,
    claims,
    failure_events,
    failure_reasons,
    failures,
    runs,
)

__all__ = [
    "charges",
    "claim_lines",
    "claims",
    "failed_charges",
    "failure_events",
    "failure_reasons",
    "failures",
    "owned_references",
    "runs",
    "stored_charge",
]

#: Ids read per statement: keeps IN lists inside every database's parameter limit.
CHUNK = 500


def stored_charge(text: str) -> Charge | None:
    """A stored charge as the contract reads it now; None when it no longer passes (a contract
    bound added after it was stored): it is skipped as not replayable rather than crash the batch."""
    try:
        return Charge.model_validate_json(text)
    except ValidationError:
        return None


def failed_charges(conn: Connection, company_id: str, charge_ids: Iterable[str]) -> dict[str, Charge]:
    """The charge each of the company's failures last failed as: what a replay corrects."""
    ids = list(dict.fromkeys(charge_ids))
    f, ch = failures.c, charges.c
    out: dict[str, Charge] = {}
    for start in range(0, len(ids), CHUNK):
        rows = conn.execute(
            select(ch.charge_id, ch.charge_json)
            .join_from(failures, charges, and_(ch.charge_id == f.charge_id, ch.version == f.latest_version))
            .where(f.company_id == company_id, f.charge_id.in_(ids[start : start + CHUNK]))
        )
        for charge_id, text in rows:
            charge = stored_charge(text)
            if charge is not None:
                out[charge_id] = charge
    return out


def owned_references(
    conn: Connection, company_id: str, wanted: Mapping[str, Iterable[str]]
) -> dict[str, set[str]]:
    """Of the ids asked about per reference path, those the company owns (ownership.py says
    what that means). Runs only for corrections that change a reference, which are rare."""
    ch, cl = charges.c, claims.c
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
