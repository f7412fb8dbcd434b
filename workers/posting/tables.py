"""The posting worker's tables: bills, their payers, the ledger and the answers given.

Types are portable (SQLite and PostgreSQL): money is Numeric(12, 2) read back as an exact
two-place Decimal; a payer's individual refunds are a JSON list of decimal strings, never
floats. The alembic migration is written from these tables; workers/posting/storage.py
reads and writes them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
)

from claimflow.db import metadata

_ID = 64


def _money(name: str, **kw: Any) -> Column[Decimal]:
    return Column(name, Numeric(12, 2, asdecimal=True), **kw)


bills = Table(
    "bills",
    metadata,
    Column("bill_id", String(_ID), primary_key=True),
    Column("company_id", String(_ID), nullable=False, index=True),
    Column("claim_id", String(_ID), nullable=False),
    Column("claim_date", Date, nullable=False),
    _money("billed_amount", nullable=False),
    _money("balance", nullable=False),
    _money("late_fee_balance", nullable=False),
    _money("bad_debt", nullable=False),
    Column("current_payer", Integer, nullable=False),
    Column("rejected", Boolean, nullable=False),
    Column("on_hold", Boolean, nullable=False),
    Column("in_collections", Boolean, nullable=False),
    Column("killed", Boolean, nullable=False),
    Column("rebill_history", JSON, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

bill_payers = Table(
    "bill_payers",
    metadata,
    Column("bill_id", String(_ID), ForeignKey("bills.bill_id"), primary_key=True),
    Column("sequence", Integer, primary_key=True),
    Column("payer_id", String(_ID), nullable=False),
    Column("name", String(200), nullable=False),
    Column("payer_type", String(20), nullable=False),
    _money("cash_balance", nullable=False),
    _money("contractual_balance", nullable=False),
    Column("refunds", JSON, nullable=False),
    Column("transaction_count", Integer, nullable=False),
)

ledger = Table(
    "ledger",
    metadata,
    # BIGINT on PostgreSQL; SQLite only auto-increments a column declared INTEGER.
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("bill_id", String(_ID), nullable=False),
    Column("posting_id", String(_ID), nullable=False),
    Column("code", String(6), nullable=False),
    Column("ledger_code", String(6), nullable=False),
    _money("amount", nullable=True),
    Column("payer_sequence", Integer, nullable=True),
    _money("balance_after", nullable=False),
    Column("posted_at", DateTime(timezone=True), nullable=False),
    # The posting's note: for an ERA posting, its CARC/RARC codes in words ("CO-45: ...").
    Column("note", Text, nullable=True),
    Index("ix_ledger_bill_id_id", "bill_id", "id"),
)

posting_answers = Table(
    "posting_answers",
    metadata,
    Column("posting_id", String(_ID), primary_key=True),
    Column("bill_id", String(_ID), nullable=False),
    # The exact bytes published (UTF-8 JSON), so a duplicate is answered identically.
    Column("answer_json", Text, nullable=False),
)

opened_claims = Table(
    "opened_claims",
    metadata,
    Column("claim_id", String(_ID), primary_key=True),
    Column("bill_id", String(_ID), nullable=False),
)
