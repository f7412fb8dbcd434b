"""Reports over bills as loaded (pure: the caller loads, these functions only select).

Which bills each report includes is the spec's "What each status means for reports".
Choices where it is vague or the seed says more:

- Aging counts whole days from `claim_date` to `as_of`; a claim dated after `as_of`
  counts as 0 days. Bills are grouped by their current payer's (payer_type, payer_id):
  one row per insurance company, and one per patient.
- Statements and warning letters select the same bills; warning letters are a separate
  function so the two can diverge (e.g. by age) without touching callers.
- Collections: the seed says a bill on hold is left out of "Collection Reports", so it is
  left out here too; a killed bill in collections stays (the seed: KB "does not remove
  the balance, so some reports may show this"). The balance is shown whatever its sign.
- Collections and bad debt: a bill in collections whose balance was written off (WB) stays
  on the list. Its Collections status still stands (only UL ends it) and the agency is still
  working it: writing the debt off is the practice's accounting, not the end of collecting,
  and money the agency recovers is posted to it (then AB). A row at 0.00 alone reads as a
  mistake, so each row also carries the bill's bad debt, and `in_collections` (balance plus
  bad debt) is what the agency is pursuing; the workspace marks such rows "written off".
- A/R ledger: the column comes from the code's registry entry (`codes.Code.category`),
  so WB and AB show as bad debt and refunds and their undo under payments (as AP).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from workers.posting.bill import ZERO, Bill
from workers.posting.codes import rule_for
from workers.posting.rules import LedgerLine

BUCKETS = ("0-30", "31-60", "61-90", "91-120", "over 120")
_BUCKET_ENDS = ((30, "0-30"), (60, "31-60"), (90, "61-90"), (120, "91-120"))


def aging_bucket(claim_date: dt.date, as_of: dt.date) -> str:
    days = (as_of - claim_date).days
    for last_day, bucket in _BUCKET_ENDS:
        if days <= last_day:
            return bucket
    return "over 120"


def is_aging(bill: Bill) -> bool:
    """Whether the bill belongs on the aging report."""
    return bill.balance > 0 and not (bill.on_hold or bill.in_collections or bill.killed)


@dataclass(frozen=True, slots=True)
class AgingRow:
    payer_type: str
    payer_id: str
    payer_name: str
    buckets: Mapping[str, Decimal]
    total: Decimal
    bill_count: int


@dataclass(frozen=True, slots=True)
class AgingReport:
    as_of: dt.date
    rows: tuple[AgingRow, ...]
    totals: Mapping[str, Decimal]
    total: Decimal


def aging(bills: Iterable[Bill], as_of: dt.date) -> AgingReport:
    """A/R aging by current payer, as of `as_of`."""
    sums: dict[tuple[str, str], dict[str, Decimal]] = {}
    names: dict[tuple[str, str], str] = {}
    counts: dict[tuple[str, str], int] = {}
    for bill in bills:
        if not is_aging(bill):
            continue
        payer = bill.current
        key = (payer.payer_type, payer.payer_id) if payer else ("", "")
        names.setdefault(key, payer.label if payer else "(no payer)")
        row = sums.setdefault(key, dict.fromkeys(BUCKETS, ZERO))
        row[aging_bucket(bill.claim_date, as_of)] += bill.balance
        counts[key] = counts.get(key, 0) + 1
    rows = tuple(
        AgingRow(key[0], key[1], names[key], buckets, sum(buckets.values(), ZERO), counts[key])
        for key, buckets in sorted(sums.items())
    )
    totals = {b: sum((r.buckets[b] for r in rows), ZERO) for b in BUCKETS}
    return AgingReport(as_of, rows, totals, sum(totals.values(), ZERO))


def statement_candidates(bills: Iterable[Bill]) -> list[Bill]:
    """Bills the patient owes now: patient is the current payer, balance > 0, active."""
    chosen = []
    for bill in bills:
        payer = bill.current
        if payer is None or payer.payer_type != "patient" or bill.balance <= 0:
            continue
        if bill.on_hold or bill.in_collections or bill.killed:
            continue
        chosen.append(bill)
    return chosen


def warning_letter_candidates(bills: Iterable[Bill]) -> list[Bill]:
    return statement_candidates(bills)


@dataclass(frozen=True, slots=True)
class CollectionsRow:
    bill_id: str
    company_id: str
    claim_id: str
    payer_name: str
    balance: Decimal
    #: Written off to bad debt (WB): still the agency's to collect.
    bad_debt: Decimal = ZERO

    @property
    def in_collections(self) -> Decimal:
        """What the agency is pursuing: the balance and what was written off."""
        return self.balance + self.bad_debt


def collections(bills: Iterable[Bill]) -> list[CollectionsRow]:
    """Bills a collection agency is working, with their balance."""
    return [
        CollectionsRow(
            bill.bill_id,
            bill.company_id,
            bill.claim_id,
            bill.current.label if bill.current else "(no payer)",
            bill.balance,
            bill.bad_debt,
        )
        for bill in bills
        if bill.in_collections and not bill.on_hold
    ]


@dataclass(frozen=True, slots=True)
class LedgerRow:
    posted_at: dt.datetime | None
    bill_id: str
    posting_id: str
    code: str
    ledger_code: str
    payer_sequence: int | None
    #: payment, contractual, revenue, bad_debt or status.
    column: str
    amount: Decimal | None
    balance_after: Decimal
    #: The posting's note, e.g. an ERA adjustment's "CO-45: Charge exceeds fee schedule...".
    note: str = ""


def ledger_rows(lines: Iterable[LedgerLine]) -> list[LedgerRow]:
    """The A/R ledger: every line, in the order given, each in its column."""
    rows = []
    for line in lines:
        rule = rule_for(line.code)
        rows.append(
            LedgerRow(
                posted_at=line.posted_at,
                bill_id=line.bill_id,
                posting_id=line.posting_id,
                code=line.code,
                ledger_code=line.ledger_code,
                payer_sequence=line.payer_sequence,
                column=rule.category if rule else "status",
                amount=line.amount,
                balance_after=line.balance_after,
                note=line.note,
            )
        )
    return rows
