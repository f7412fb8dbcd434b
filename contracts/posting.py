"""Postings (one transaction code to apply to a bill) and the answers to them."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from contracts.base import Contract, Identifier, Money

TransactionCode = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_upper=True, min_length=1, max_length=6, pattern=r"^[A-Za-z0-9]+$"
    ),
]


class Posting(Contract):
    type: Literal["Posting"] = "Posting"
    schema_version: Literal[1] = 1

    posting_id: Identifier = Field(description="Applying the same posting_id twice changes nothing.")
    bill_id: Identifier
    code: TransactionCode = Field(description="P…, C…, F…, J… families or a fixed code such as RB, WB, KB.")
    amount: Money | None = Field(default=None, description="Positive, except AR which may be negative.")
    next_payer: Annotated[int, Field(ge=1, le=10)] | None = Field(
        default=None, description="J… only: the payer sequence that becomes current."
    )
    posted_at: dt.datetime
    posted_by: Identifier | None = None
    note: Annotated[str, StringConstraints(max_length=500)] = ""


class BillPayerState(Contract):
    sequence: int
    payer_id: str
    name: str
    payer_type: str
    cash_balance: Money
    contractual_balance: Money
    refunds: Money
    transaction_count: int


class BillState(Contract):
    """A bill as it stands after a posting."""

    bill_id: str
    company_id: str
    claim_id: str
    claim_date: dt.date
    billed_amount: Money
    balance: Money
    late_fee_balance: Money
    bad_debt: Money
    current_payer: int
    payers: list[BillPayerState]
    rejected: bool
    on_hold: bool
    in_collections: bool
    killed: bool
    rebill_history: list[int] = Field(
        description="Payer sequences left by Rebills not yet undone, newest last."
    )


class PostingApplied(Contract):
    type: Literal["PostingApplied"] = "PostingApplied"
    schema_version: Literal[1] = 1

    posting_id: Identifier
    bill_id: Identifier
    code: str
    amount: Money | None = None
    ledger_code: str = Field(description="What the ledger shows: a refund and its undo post as AP.")
    bill: BillState
    applied_at: dt.datetime


class PostingRejected(Contract):
    type: Literal["PostingRejected"] = "PostingRejected"
    schema_version: Literal[1] = 1

    posting_id: Identifier
    bill_id: Identifier
    code: str
    amount: Money | None = None
    reason_code: str = Field(description="Stable code, e.g. REFUND_EXCEEDS_CASH, BILL_NOT_FOUND.")
    reason: str = Field(description="What a biller reads, with the hint where the rules give one.")
    rejected_at: dt.datetime
