"""What other workers may read of posting's state: read-only, never written.

Posting owns bills, their payers, the ledger, its answers and the claims that opened bills
(workers/posting/tables.py) and is the only writer: everyone else changes a bill by
publishing a posting to `billing.postings`.
- the formatter reads whether a bill is Rejected (`bill_rejected`), for BILL_REJECTED and
  replacement claims;
- remittance reads which bill a claim opened (`opened_claims`), the bill itself
  (`load_bills`), and which of its postings posting has answered (`find_answers`,
  `posting_answers`); its ERA views join `bills` for the company;
- the report reads bills, their ledger and answers for the bill pages and reports.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, select

from claimflow.db import ids_param, in_list
from workers.posting.storage import find_answers, load_all_bills, load_bill_answers, load_bills, load_ledger
from workers.posting.tables import bills, opened_claims, posting_answers

__all__ = [
    "bill_rejected",
    "bills",
    "find_answers",
    "load_all_bills",
    "load_bill_answers",
    "load_bills",
    "load_ledger",
    "opened_claims",
    "posting_answers",
]

_BILLS_REJECTED = select(bills.c.bill_id, bills.c.rejected).where(bills.c.bill_id.in_(ids_param()))


def bill_rejected(conn: Connection, bill_ids: Iterable[str]) -> dict[str, bool]:
    """Rejected status of these bills (a bill not opened yet is absent)."""
    ids = list(bill_ids)
    if not ids:
        return {}
    rows = conn.execute(_BILLS_REJECTED, {"ids": in_list(ids)})
    return {bid: bool(rejected) for bid, rejected in rows}
