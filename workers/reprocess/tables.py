"""The reprocess worker's tables: what each request did.

`reprocess_requests` is the tracking table: one row per request_id, holding the result and
the exact replayed charges that were published for it. A redelivered request finds its row
and publishes the same bytes again (the formatter is idempotent by charge_id + version).
`reprocess_items` is the report's drill-down: per request and charge, what was done and why.
Other workers read them only through workers/reprocess/read.py.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, String, Table, Text

from claimflow.db import metadata

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
