"""The formatter's tables: runs, the charges it has seen, claims, failures and holds.

`formatter_charges` is the tracking table: one row per (charge_id, version) handled, with
the answers published for it, written in the same transaction as the effects. A redelivered
charge version finds its row and gets the same answers again, never a second claim.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
)

from claimflow.db import metadata

MONEY = Numeric(12, 2, asdecimal=True)

runs = Table(
    "formatter_runs",
    metadata,
    Column("run_number", Integer, primary_key=True, autoincrement=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True)),
    Column("charges", Integer, nullable=False, default=0),
    Column("claims", Integer, nullable=False, default=0),
    Column("failures", Integer, nullable=False, default=0),
    Column("held", Integer, nullable=False, default=0),
    sqlite_autoincrement=True,
)

charges = Table(
    "formatter_charges",
    metadata,
    Column("charge_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("company_id", String(64), nullable=False),
    Column("practice_id", String(64)),
    Column("location_id", String(64)),
    Column("patient_id", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),  # claimed | failed | held | stale
    Column("run_number", Integer),
    Column("claim_id", String(64)),
    Column("answers", Text, nullable=False, default="[]"),
    Column("charge_json", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

claims = Table(
    "claims",
    metadata,
    Column("claim_id", String(64), primary_key=True),
    Column("bill_id", String(64), nullable=False, index=True),
    Column("frequency", String(16), nullable=False),
    Column("run_number", Integer, nullable=False, index=True),
    Column("company_id", String(64), nullable=False),
    Column("patient_id", String(64), nullable=False),
    Column("service_date", Date, nullable=False),
    Column("total_amount", MONEY, nullable=False),
    Column("claim_json", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

claim_lines = Table(
    "claim_lines",
    metadata,
    Column("claim_id", String(64), primary_key=True),
    Column("line_number", Integer, primary_key=True),
    Column("charge_id", String(64), nullable=False, index=True),
    Column("charge_version", Integer, nullable=False),
    Column("bill_id", String(64), nullable=False),
    Column("company_id", String(64), nullable=False),
    Column("patient_id", String(64), nullable=False),
    Column("service_date", Date, nullable=False),
    Column("procedure_code", String(16), nullable=False),
    Column("modifiers_key", String(64), nullable=False),
    Column("discipline", String(8)),
    Column("amount", MONEY, nullable=False),
    Index("ix_claim_lines_patient", "company_id", "patient_id", "service_date"),
)

failures = Table(
    "charge_failures",
    metadata,
    Column("charge_id", String(64), primary_key=True),
    Column("company_id", String(64), nullable=False),
    Column("practice_id", String(64)),
    Column("location_id", String(64)),
    Column("patient_id", String(64), nullable=False),
    Column("patient_name", String(200), nullable=False, default=""),
    Column("latest_version", Integer, nullable=False),
    Column("run_number", Integer, nullable=False),
    Column("oldest_failure_date", Date, nullable=False),
    Column("last_failure_date", Date, nullable=False),
    Column("failure_count", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # open | reprocessing | resolved
    Column("service_date", Date),
    Column("procedure_code", String(16)),
    Column("amount", MONEY),
    Column("payer_name", String(200)),
    Column("resolved_claim_id", String(64)),
    Column("resolved_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_charge_failures_search", "company_id", "status", "practice_id", "location_id"),
    # The Failed Charges report at a million rows (docs/PERFORMANCE.md). Pages in the
    # default order, to any offset, read in order without sorting a company's failures:
    Index("ix_charge_failures_oldest", "company_id", "status", "oldest_failure_date", "charge_id"),
    # pages by amount (the charge id tie is sorted within equal amounts):
    Index("ix_charge_failures_amount", "company_id", "status", "amount"),
    # covering, in charge id order: a search's total count and amount, group-by payer, and
    # the reasons of a company's failures joined in their own index's order (probes at
    # random charge ids cost four times as much at a million rows):
    Index("ix_charge_failures_cover", "company_id", "status", "charge_id", "amount", "payer_name"),
    # a run's failures, in the default order (the run ahead of status: it finds them for
    # every status too):
    Index("ix_charge_failures_run", "company_id", "run_number", "status", "oldest_failure_date", "charge_id"),
)

failure_reasons = Table(
    "charge_failure_reasons",
    metadata,
    Column("charge_id", String(64), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("code", String(40), nullable=False),
    Column("message", Text, nullable=False),
    Column("field", String(100)),
    Column("severity", String(8), nullable=False),
    # A charge's reasons by code: the report's EXISTS (drill-down by reason) and its
    # group-by-reason join, which counts a code once per charge by its first position.
    # Without it SQLite probes the code index for every failure (minutes for one search at
    # 100,000 failures).
    Index("ix_charge_failure_reasons_charge_code", "charge_id", "code", "position"),
    # A code's charges in charge id order: PostgreSQL counts a drill-down by reason as a
    # merge of this with a company's failures (ix_charge_failures_cover), ~40 ms, where
    # a code-only index had it read every row of the code from the table (~300 ms).
    Index("ix_charge_failure_reasons_code_charge", "code", "charge_id"),
)

failure_events = Table(
    "charge_failure_events",
    metadata,
    Column("charge_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("run_number", Integer, nullable=False),
    Column("failed_at", DateTime(timezone=True), nullable=False),
    Column("reasons_json", Text, nullable=False),
)

held = Table(
    "held_charges",
    metadata,
    Column("charge_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("company_id", String(64), nullable=False),
    Column("release_on", Date, nullable=False, index=True),
    Column("charge_json", Text, nullable=False),
    Column("released_at", DateTime(timezone=True)),
)
