"""Apply one posting to a bill: pure, never mutates its input, never does I/O.

`apply` runs the checks every code shares, then the code's own handler from
`codes.REGISTRY`, and answers `Applied` (the new bill and its ledger line) or `Rejected`
(a stable reason code and a message a biller understands). The order of the shared
checks decides which reason a biller sees when several apply:

1. unknown code (the posting is well formed, so this is a rejection, not a dead letter);
2. killed bill: nothing but UK;
3. amount shape: missing, zero, negative where not allowed, present where none is taken,
   more than two places;
4. `next_payer` on a code that takes none;
5. a payer transaction on a bill without a current payer (a claim with no payers);
6. the code's own conditions, in the spec's order.

Every applied posting gives exactly one ledger line, status codes included (amount None),
so the A/R ledger shows every transaction. `payer_sequence` is the payer current when the
posting was made. After each applied posting the spec's invariant is checked; a breach is
a bug in a handler and is refused (INVARIANT_VIOLATION) rather than stored.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from contracts.base import CENT
from contracts.base import format_money as m
from contracts.posting import Posting, PostingApplied, PostingRejected
from workers.posting.bill import ZERO, Bill, evolve, to_state
from workers.posting.codes import UNDO_KILL_HINT, Amount, Code, Refusal, rule_for


@dataclass(frozen=True, slots=True)
class LedgerLine:
    bill_id: str
    code: str
    ledger_code: str
    amount: Decimal | None
    payer_sequence: int | None
    balance_after: Decimal
    #: Given by `apply_posting`; `apply` alone knows nothing of the posting message.
    posting_id: str = ""
    posted_at: dt.datetime | None = None
    #: The posting's note (an ERA posting's adjustment codes in words).
    note: str = ""


@dataclass(frozen=True, slots=True)
class Applied:
    bill: Bill
    line: LedgerLine

    @property
    def lines(self) -> tuple[LedgerLine, ...]:
        return (self.line,)


@dataclass(frozen=True, slots=True)
class Rejected:
    reason_code: str
    reason: str


Outcome = Applied | Rejected


def apply(
    bill: Bill,
    posting_code: str,
    amount: Decimal | None,
    next_payer: int | None = None,
    *,
    posting_id: str = "",
    posted_at: dt.datetime | None = None,
    note: str = "",
) -> Outcome:
    """The outcome of posting `posting_code` for `amount` to `bill` (the ledger line carries
    `posting_id` and `posted_at`)."""
    posted = posting_code.strip().upper()
    rule = rule_for(posted) if posted else None
    if rule is None:
        return Rejected("UNKNOWN_CODE", f"unknown transaction code {posted or '(blank)'!r}")
    if bill.killed and not rule.on_killed:
        return Rejected("BILL_KILLED", UNDO_KILL_HINT)
    wrong_amount = _check_amount(rule, posted, amount)
    if wrong_amount is not None:
        return wrong_amount
    if amount is not None:
        amount = amount.quantize(CENT)  # "40" and "40.00" are the same posting
    if next_payer is not None and not rule.takes_next_payer:
        return Rejected(
            "NEXT_PAYER_NOT_ALLOWED",
            f"{rule.name} ({posted}) takes no next payer; only a Rejection (J) changes the payer that way",
        )
    payer = bill.current
    if rule.payer_transaction and payer is None:
        return Rejected(
            "NO_CURRENT_PAYER",
            f"payer {bill.current_payer} is not on the bill: add a payer before posting",
        )
    try:
        new_bill = rule.handler(bill, amount if amount is not None else ZERO, next_payer)
    except Refusal as refusal:
        return Rejected(refusal.reason_code, refusal.reason)
    if rule.payer_transaction and payer is not None:
        counted = new_bill.payer(payer.sequence)
        assert counted is not None  # handlers never drop a payer
        new_bill = new_bill.with_payer(evolve(counted, transaction_count=counted.transaction_count + 1))
    problems = new_bill.invariant_violations()
    if problems:
        return Rejected(
            "INVARIANT_VIOLATION",
            f"{posted} would break the bill's balances ({'; '.join(problems)}); not posted",
        )
    line = LedgerLine(
        bill_id=bill.bill_id,
        code=posted,
        ledger_code=rule.ledger_code or posted,
        amount=amount,
        payer_sequence=bill.current_payer if bill.payers else None,
        balance_after=new_bill.balance,
        posting_id=posting_id,
        posted_at=posted_at,
        note=note,
    )
    return Applied(new_bill, line)


def apply_posting(bill: Bill, posting: Posting) -> Outcome:
    """`apply` for a `Posting` message; the ledger line carries its id and time."""
    return apply(
        bill,
        posting.code,
        posting.amount,
        posting.next_payer,
        posting_id=posting.posting_id,
        posted_at=posting.posted_at,
        note=posting.note,
    )


def bill_not_found(bill_id: str) -> Rejected:
    # Claims and postings are separate topics, so a posting can overtake the claim that
    # opens its bill. This answer is recorded like any other (the same posting_id is
    # answered the same again), so the biller posts it anew once the bill is open.
    return Rejected(
        "BILL_NOT_FOUND",
        f"no bill {bill_id} yet: the claim that opens it has not been received; post again "
        "(as a new posting) once the bill exists, and check the bill number",
    )


def answer(posting: Posting, outcome: Outcome, at: dt.datetime) -> PostingApplied | PostingRejected:
    """The message that answers `posting`."""
    if isinstance(outcome, Applied):
        return PostingApplied(
            posting_id=posting.posting_id,
            bill_id=posting.bill_id,
            code=posting.code,
            amount=posting.amount,
            ledger_code=outcome.line.ledger_code,
            bill=to_state(outcome.bill),
            applied_at=at,
        )
    return PostingRejected(
        posting_id=posting.posting_id,
        bill_id=posting.bill_id,
        code=posting.code,
        amount=posting.amount,
        reason_code=outcome.reason_code,
        reason=outcome.reason,
        rejected_at=at,
    )


def _check_amount(rule: Code, posted: str, amount: Decimal | None) -> Rejected | None:
    what = f"{rule.name} ({posted})"
    if rule.amount is Amount.NONE:
        if amount is None:
            return None
        return Rejected("AMOUNT_NOT_ALLOWED", f"{what} takes no amount; got {m(amount)}")
    if amount is None:
        return Rejected("AMOUNT_REQUIRED", f"{what} needs {rule.amount.value}")
    if not amount.is_finite() or amount != amount.quantize(CENT):
        return Rejected("AMOUNT_NOT_CENTS", f"{what}: {amount} is not an amount in cents")
    if rule.amount is Amount.NONZERO and amount == 0:
        return Rejected("AMOUNT_ZERO", f"{what} needs {rule.amount.value}")
    if rule.amount is Amount.POSITIVE and amount <= 0:
        return Rejected(
            "AMOUNT_NOT_POSITIVE",
            f"{what} needs {rule.amount.value}, got {m(amount)}; amounts are posted as "
            "positive numbers (only AR may be negative): to cancel, post the matching "
            "adjustment code",
        )
    return None
