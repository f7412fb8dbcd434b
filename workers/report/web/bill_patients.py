"""Whose bill it is: the patient of each bill, from the claims the formatter made.

A bill (workers/posting) keeps its payers but not its patient; the claim that opened it
does (`claims.claim_json`, written by the formatter). The Bills search matches patients'
names and ids through this, and the pages show the patient beside the bill. The newest
claim of a bill names its patient (a replacement claim may correct the name).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from sqlalchemy import Connection, select

from claimflow.db import in_list
from workers.formatter.read import claims

#: Bills per IN list, as the posting worker's storage chunks them.
CHUNK = 500


def _name(claim_json: str) -> str:
    try:
        patient = orjson.loads(claim_json).get("patient") or {}
    except (orjson.JSONDecodeError, AttributeError):
        return ""
    first, last = patient.get("first_name") or "", patient.get("last_name") or ""
    return f"{last}, {first}" if last and first else last or first


def patients_of(conn: Connection, company_id: str, bill_ids: Iterable[str] | None = None) -> dict[str, str]:
    """bill id -> "Last, First (patient id)" for the company's bills (or only `bill_ids`)."""
    query = (
        select(claims.c.bill_id, claims.c.patient_id, claims.c.claim_json)
        .where(claims.c.company_id == company_id)
        .order_by(claims.c.created_at)
    )
    rows: list[Any] = []
    if bill_ids is None:
        rows.extend(conn.execute(query).all())
    else:
        ids = sorted(set(bill_ids))
        for start in range(0, len(ids), CHUNK):
            chunk = in_list(ids[start : start + CHUNK])
            rows.extend(conn.execute(query.where(claims.c.bill_id.in_(chunk))).all())
    found: dict[str, str] = {}
    for bill_id, patient_id, claim_json in rows:  # oldest first: the newest claim wins
        name = _name(claim_json)
        found[bill_id] = f"{name} ({patient_id})" if name else patient_id
    return found
