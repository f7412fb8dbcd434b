"""The dead-letter tools' tables: replays done, and the report users allowed to do them.

Declared here, with the code that writes them, not in the report's or a worker's tables:
no worker reads them, and the report only exposes these operations.

`dead_letter_replays` makes a replay idempotent: its key is where the dead-lettered message
first came from (source topic, partition, offset), the same for every copy of one dead
letter (a worker that dead-lettered a message and crashed before its commit writes it
twice). A second replay of that key finds the row and publishes nothing; the row says who
replayed it and when.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, Integer, String, Table

from claimflow.db import metadata

replays = Table(
    "dead_letter_replays",
    metadata,
    Column("source_topic", String(255), primary_key=True),
    Column("source_partition", Integer, primary_key=True),
    Column("source_offset", BigInteger, primary_key=True),
    Column("error_kind", String(32), nullable=False),
    Column("worker", String(64), nullable=False),
    # Where the dead letter that was replayed sits in the dead-letter topic.
    Column("dead_letter_partition", Integer, nullable=False),
    Column("dead_letter_offset", BigInteger, nullable=False),
    Column("replayed_by", String(64), nullable=False),
    Column("replayed_at", DateTime(timezone=True), nullable=False),
)

#: Report users who may see and replay dead letters through the API (`claimflow
#: dead-letters grant USER`). Dead letters are an operator's view: a message that did not
#: decode names no company, so the report's company rules cannot apply to them.
operators = Table(
    "dead_letter_operators",
    metadata,
    Column("user_id", String(64), ForeignKey("users.user_id", ondelete="CASCADE"), primary_key=True),
    Column("granted_by", String(64), nullable=False),
    Column("granted_at", DateTime(timezone=True), nullable=False),
)
