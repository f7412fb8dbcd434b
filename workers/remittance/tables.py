"""The remittance worker's tables: ERAs, their claim payments, their provider adjustments.

`era_claim_payments` is also the "unmatched remittances" store: a claim payment whose
outcome is `parked` waits there, with its reason, until it is posted (its bill appears,
or a retry finds it postable) or a biller resolves it by hand. Nothing is deleted.
Each posted claim payment keeps the exact posting messages it published, so a replay
after a crash, or the same ERA imported again, publishes the same bytes again.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
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

_ID = 64


def _money(name: str, **kw: Any) -> Column[Decimal]:
    return Column(name, Numeric(12, 2, asdecimal=True), **kw)


eras = Table(
    "eras",
    metadata,
    # PAYER:TRN02; TRN02 is up to 50 characters, a payer id up to 80.
    Column("era_key", String(160), primary_key=True),
    Column("era_ref", String(_ID), nullable=False, unique=True),
    Column("payer_id", String(80), nullable=False),
    Column("payer_name", String(200), nullable=False),
    Column("trace", String(80), nullable=False),
    _money("total", nullable=False),
    Column("method", String(10), nullable=False),
    Column("paid_on", Date, nullable=True),
    Column("payee_id", String(80), nullable=False),
    Column("claim_count", Integer, nullable=False),
    _money("claims_paid", nullable=False),
    _money("provider_adjustments", nullable=False),
    Column("file_name", String(255), nullable=False),
    # topic:partition:offset of the message that posted it; a replay of it is no duplicate.
    Column("source", String(300), nullable=False),
    Column("times_received", Integer, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("last_received_at", DateTime(timezone=True), nullable=False),
)

era_claim_payments = Table(
    "era_claim_payments",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("era_key", String(160), nullable=False),
    Column("claim_index", Integer, nullable=False),
    Column("claim_id", String(80), nullable=False),
    Column("bill_id", String(_ID), nullable=True),
    Column("payer_sequence", Integer, nullable=True),
    Column("status", String(4), nullable=False),
    _money("charge", nullable=False),
    _money("paid", nullable=False),
    _money("patient_responsibility", nullable=False),
    Column("payer_claim_number", String(80), nullable=False),
    # payer|claim|payer claim number|status|paid: the same claim payment in another ERA.
    Column("payment_key", String(400), nullable=False),
    # posted, parked, duplicate, resolved
    Column("outcome", String(12), nullable=False),
    Column("reason_code", String(40), nullable=False),
    Column("reason", Text, nullable=False),
    Column("notes", JSON, nullable=False),
    # The claim payment as read (for a retry), and the postings published for it.
    Column("claim_json", JSON, nullable=False),
    Column("postings", JSON, nullable=False),
    # The id of the claim payment whose postings this one reversed, or that reversed it.
    Column("reverses", BigInteger, nullable=True),
    Column("reversed_by", BigInteger, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_era_claim_payments_era", "era_key", "claim_index", unique=True),
    Index("ix_era_claim_payments_bill", "bill_id"),
    Index("ix_era_claim_payments_outcome_claim", "outcome", "claim_id"),
    Index("ix_era_claim_payments_payment_key", "payment_key"),
)

era_provider_adjustments = Table(
    "era_provider_adjustments",
    metadata,
    Column("era_key", String(160), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("reason", String(4), nullable=False),
    Column("reference", String(80), nullable=False),
    _money("amount", nullable=False),
    Column("description", Text, nullable=False),
)
