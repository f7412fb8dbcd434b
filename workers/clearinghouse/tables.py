"""The clearinghouse worker's tables: control numbers, interchanges, claims and acknowledgments.

Portable types (SQLite and PostgreSQL). The interchange text is kept as written, so an
interchange can be listed and sent again byte for byte; each claim's JSON is kept so an
export can rebuild an interchange with new control numbers.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, String, Table, Text

from claimflow.db import metadata

_ID = 64

#: The last ISA13/GS06/ST02 used, per sender id: each allocation moves them forward.
x12_counters = Table(
    "x12_counters",
    metadata,
    Column("sender_id", String(15), primary_key=True),
    Column("interchange", BigInteger, nullable=False),
    Column("grp", BigInteger, nullable=False),
    Column("txn", BigInteger, nullable=False),
)

x12_interchanges = Table(
    "x12_interchanges",
    metadata,
    Column("interchange_id", String(_ID), primary_key=True),  # sender:ISA13
    Column("sender_id", String(15), nullable=False),
    Column("control_number", BigInteger, nullable=False),
    Column("group_number", BigInteger, nullable=False),
    Column("receiver", String(_ID), nullable=False),  # the routing file's receiver name
    Column("file_name", String(200), nullable=False),
    Column("claim_count", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # pending (no 999 yet), accepted, partial or rejected: the 999's answer for the group
    Column("ack_status", String(16), nullable=False),
    Index("ix_x12_interchanges_created_at", "created_at"),
)

#: One row per claim ever received: sent in an interchange, or not sent and why.
x12_claims = Table(
    "x12_claims",
    metadata,
    Column("claim_id", String(_ID), primary_key=True),
    Column("bill_id", String(_ID), nullable=False, index=True),
    Column("company_id", String(_ID), nullable=False),
    Column("run_number", Integer, nullable=False),
    Column("frequency", String(16), nullable=False),
    Column("interchange_id", String(_ID), nullable=True, index=True),
    Column("transaction_number", String(9), nullable=True),
    # sent, not_sent, accepted (999 A), rejected, payer_accepted (277CA A1/A2...)
    Column("status", String(16), nullable=False),
    Column("status_detail", Text, nullable=False),
    Column("payer_claim_number", String(50), nullable=True),
    Column("claim_json", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

#: Acknowledgment files read, by their own ISA sender and control number (imported once).
x12_acks = Table(
    "x12_acks",
    metadata,
    Column("ack_id", String(_ID), primary_key=True),  # kind:sender:ISA13
    Column("kind", String(8), nullable=False),  # 999 or 277CA
    Column("claims", Integer, nullable=False),
    # The Rejection postings it made (a JSON list of encoded Postings), published again
    # when the same file is imported again, in case the first publish did not finish.
    Column("postings_json", Text, nullable=False),
    Column("imported_at", DateTime(timezone=True), nullable=False),
)
