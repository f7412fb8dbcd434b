"""What other workers may read of reprocess's state: read-only, never written.

Reprocess owns `reprocess_requests` and `reprocess_items` (workers/reprocess/tables.py) and
is the only writer. The report reads them for a charge record's drill-down (what each
request did with the charge, and who asked) and for the workspace's watch of a request it
published (which charges the request replayed or skipped). Each read is one statement.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, select

from workers.reprocess.tables import items, requests

__all__ = ["charge_history", "request_items"]

_i, _r = items.c, requests.c
#: The request's own columns a drill-down shows: its *_json columns list every charge it
#: touched, which is not one charge's business.
_REQUEST_COLUMNS = (_r.request_id, _r.company_id, _r.requested_by, _r.requested_at, _r.completed_at)
_HISTORY = (
    select(
        _i.request_id,
        _i.charge_id,
        _i.new_version,
        _i.outcome,
        _i.reason,
        *(c.label(f"request_{c.key}") for c in _REQUEST_COLUMNS),
    )
    .select_from(items.outerjoin(requests, _i.request_id == _r.request_id))
    .order_by(_r.requested_at, _i.request_id)
)


def charge_history(conn: Connection, charge_id: str) -> list[dict[str, Any]]:
    """What reprocessing did with this charge, oldest request first, in one query: each
    `reprocess_items` row, with its request under "request" (None if it is not recorded)."""
    out = []
    for row in conn.execute(_HISTORY.where(_i.charge_id == charge_id)):
        values = row._mapping
        entry = {
            c.key: values[c.key] for c in (_i.request_id, _i.charge_id, _i.new_version, _i.outcome, _i.reason)
        }
        request = {c.key: values[f"request_{c.key}"] for c in _REQUEST_COLUMNS}
        entry["request"] = request if request["request_id"] is not None else None
        out.append(entry)
    return out


def request_items(conn: Connection, request_id: str) -> list[Row[Any]]:
    """What one request did, per charge (charge_id, new_version, outcome, reason)."""
    return list(conn.execute(select(items).where(_i.request_id == request_id)))
