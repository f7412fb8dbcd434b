"""remittances: ERAs, their claim payments (and the unmatched store), provider adjustments;
a note on ledger lines for an ERA posting's adjustment codes in words

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _money(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.Numeric(precision=12, scale=2), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("ledger") as batch:
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))
    op.create_table(
        "eras",
        sa.Column("era_key", sa.String(length=160), nullable=False),
        sa.Column("era_ref", sa.String(length=64), nullable=False),
        sa.Column("payer_id", sa.String(length=80), nullable=False),
        sa.Column("payer_name", sa.String(length=200), nullable=False),
        sa.Column("trace", sa.String(length=80), nullable=False),
        _money("total"),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=True),
        sa.Column("payee_id", sa.String(length=80), nullable=False),
        sa.Column("claim_count", sa.Integer(), nullable=False),
        _money("claims_paid"),
        _money("provider_adjustments"),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("times_received", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("era_key", name=op.f("pk_eras")),
        sa.UniqueConstraint("era_ref", name=op.f("uq_eras_era_ref")),
    )
    op.create_table(
        "era_claim_payments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("era_key", sa.String(length=160), nullable=False),
        sa.Column("claim_index", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.String(length=80), nullable=False),
        sa.Column("bill_id", sa.String(length=64), nullable=True),
        sa.Column("payer_sequence", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=4), nullable=False),
        _money("charge"),
        _money("paid"),
        _money("patient_responsibility"),
        sa.Column("payer_claim_number", sa.String(length=80), nullable=False),
        sa.Column("payment_key", sa.String(length=400), nullable=False),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("reason_code", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("claim_json", sa.JSON(), nullable=False),
        sa.Column("postings", sa.JSON(), nullable=False),
        sa.Column("reverses", sa.BigInteger(), nullable=True),
        sa.Column("reversed_by", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_era_claim_payments")),
    )
    op.create_index("ix_era_claim_payments_era", "era_claim_payments", ["era_key", "claim_index"], unique=True)
    op.create_index("ix_era_claim_payments_bill", "era_claim_payments", ["bill_id"])
    op.create_index("ix_era_claim_payments_outcome_claim", "era_claim_payments", ["outcome", "claim_id"])
    op.create_index("ix_era_claim_payments_payment_key", "era_claim_payments", ["payment_key"])
    op.create_table(
        "era_provider_adjustments",
        sa.Column("era_key", sa.String(length=160), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=4), nullable=False),
        sa.Column("reference", sa.String(length=80), nullable=False),
        _money("amount"),
        sa.Column("description", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("era_key", "position", name=op.f("pk_era_provider_adjustments")),
    )


def downgrade() -> None:
    op.drop_table("era_provider_adjustments")
    op.drop_index("ix_era_claim_payments_payment_key", table_name="era_claim_payments")
    op.drop_index("ix_era_claim_payments_outcome_claim", table_name="era_claim_payments")
    op.drop_index("ix_era_claim_payments_bill", table_name="era_claim_payments")
    op.drop_index("ix_era_claim_payments_era", table_name="era_claim_payments")
    op.drop_table("era_claim_payments")
    op.drop_table("eras")
    with op.batch_alter_table("ledger") as batch:
        batch.drop_column("note")
