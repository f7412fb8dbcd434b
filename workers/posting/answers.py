"""A posting's answer, written straight from the outcome to the contract's JSON.

`rules.answer` builds the `PostingApplied` / `PostingRejected` model, and the codec
serialises it. Building that model (a bill state with its payers, without validation, is
still a `model_construct` per payer in Python) and serialising it was a fifth of the
posting step, for a value nobody reads before it is bytes. Here the same JSON is written
from the bill's own values with orjson: same fields, same order, money as two-place
strings, times as pydantic writes them. tests/unit/posting/test_answers.py holds it to
byte-equality with `encode(rules.answer(...))` for generated bills, postings and reasons,
so a change to the contracts that this module misses fails there.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import orjson
from pydantic import TypeAdapter

from contracts.base import format_money
from contracts.posting import Posting
from workers.posting.bill import Bill
from workers.posting.rules import Applied, Outcome

_TIME = TypeAdapter(dt.datetime)


def timestamp(at: dt.datetime) -> str:
    """`at` as the contracts write a datetime (`Z` for UTC); once per batch, not per answer."""
    return str(_TIME.dump_python(at, mode="json"))


def _money(value: Decimal | None) -> str | None:
    return None if value is None else format_money(value)


def _bill(bill: Bill) -> dict[str, Any]:
    return {
        "bill_id": bill.bill_id,
        "company_id": bill.company_id,
        "claim_id": bill.claim_id,
        "claim_date": bill.claim_date.isoformat(),
        "billed_amount": format_money(bill.billed_amount),
        "balance": format_money(bill.balance),
        "late_fee_balance": format_money(bill.late_fee_balance),
        "bad_debt": format_money(bill.bad_debt),
        "current_payer": bill.current_payer,
        "payers": [
            {
                "sequence": p.sequence,
                "payer_id": p.payer_id,
                "name": p.name,
                "payer_type": p.payer_type,
                "cash_balance": format_money(p.cash_balance),
                "contractual_balance": format_money(p.contractual_balance),
                "refunds": format_money(p.refund_total),
                "transaction_count": p.transaction_count,
            }
            for p in bill.payers
        ],
        "rejected": bill.rejected,
        "on_hold": bill.on_hold,
        "in_collections": bill.in_collections,
        "killed": bill.killed,
        "rebill_history": list(bill.rebill_history),
    }


def answer_json(posting: Posting, outcome: Outcome, at: str) -> bytes:
    """The bytes `encode(rules.answer(posting, outcome, time))` gives, for `at = timestamp(time)`."""
    if isinstance(outcome, Applied):
        return orjson.dumps(
            {
                "type": "PostingApplied",
                "schema_version": 1,
                "posting_id": posting.posting_id,
                "bill_id": posting.bill_id,
                "code": posting.code,
                "amount": _money(posting.amount),
                "ledger_code": outcome.line.ledger_code,
                "bill": _bill(outcome.bill),
                "applied_at": at,
            }
        )
    return orjson.dumps(
        {
            "type": "PostingRejected",
            "schema_version": 1,
            "posting_id": posting.posting_id,
            "bill_id": posting.bill_id,
            "code": posting.code,
            "amount": _money(posting.amount),
            "reason_code": outcome.reason_code,
            "reason": outcome.reason,
            "rejected_at": at,
        }
    )
