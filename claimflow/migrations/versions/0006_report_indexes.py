"""report indexes: what the Failed Charges searches need at a million failures

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


INDEXES = (
    ("ix_charge_failures_oldest", "charge_failures", ["company_id", "status", "oldest_failure_date", "charge_id"]),
    ("ix_charge_failures_amount", "charge_failures", ["company_id", "status", "amount"]),
    (
        "ix_charge_failures_cover",
        "charge_failures",
        ["company_id", "status", "charge_id", "amount", "payer_name"],
    ),
    (
        "ix_charge_failures_run",
        "charge_failures",
        ["company_id", "run_number", "status", "oldest_failure_date", "charge_id"],
    ),
    ("ix_charge_failure_reasons_charge_code", "charge_failure_reasons", ["charge_id", "code", "position"]),
    ("ix_charge_failure_reasons_code_charge", "charge_failure_reasons", ["code", "charge_id"]),
)
#: Replaced by ix_charge_failure_reasons_code_charge, which serves whatever it served.
CODE_ONLY = ("ix_charge_failure_reasons_code", "charge_failure_reasons", ["code"])


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)
    op.drop_index(CODE_ONLY[0], table_name=CODE_ONLY[1])


def downgrade() -> None:
    op.create_index(*CODE_ONLY, unique=False)
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
