"""Every transaction code, each in one place: its metadata and what it does to a bill.

A code is registered with `@code(...)` on its handler; that decorator is the only place a
code exists. Its tests are the rows for that code in `tests/unit/posting/test_codes.py`.
Handlers are pure: they return a new `Bill` or raise `Refusal` with a stable reason code
and a message a biller understands. `rules.apply` runs the checks every code shares
(unknown code, killed bill, amount shape, current payer) before a handler is called.

Choices the spec leaves open or that contradict the seed (the product's choice):

- KB (Kill Bill) follows the spec's table to the letter: refused while the balance, the
  late fee, or any payer's cash or contractual balance is not zero, and unless the first
  payer is current. The seed says the same ("can only be posted if no balances exist on
  the bill"). A claim created in error is therefore written off (WB) or adjusted to zero
  before it is killed; the bad debt stays on the killed bill ("it does not remove the
  balance, so some reports may show this"), and Undo Kill Bill brings it back as it was.
- AB (Bad-debt adjustment) cancels what was posted after a write-off. It is refused when
  there is no bad debt, when `a` exceeds the bad debt (bad debt never goes below zero),
  and unless the balance is a credit of at least `a` (balance <= -a): AB may bring a
  credit back to zero, never make the bill owe more.
- RB needs a payment or contractual allowance standing on the current payer: its cash or
  contractual balance is above zero (a payment cancelled by AP does not count). Checks run
  in the spec's order: balance, next payer, payment. RB from the last payer is refused
  ("add a payer to the bill before posting").
- J is refused while a payment or contractual allowance *stands* on the current payer
  (its cash or contractual balance is not zero), the amended row of the spec. It used to be
  refused after any payer transaction, which trapped a bill: on a bill with two payers,
  `P 20; AP 20` left RB refused (no payment stands) and J refused (transactions were
  posted), so nothing could move the payer. The two conditions are now exact complements:
  every bill with a balance and a next payer can change payer by RB or by J. A reversed
  835 claim payment (CLP02 = 22) reaches exactly that state.
- J with `next_payer`: rebill history is kept as is (UR still undoes Rebills only).
  `next_payer` on any other code is refused rather than ignored: the sender meant
  something the code cannot do.
- UF removes the newest matching refund, so repeated equal refunds undo one at a time.
- SL on a bill whose balance is zero or a credit is refused ("balance <= 0").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any

from contracts.base import format_money as m
from workers.posting.bill import Bill, BillPayer, evolve

Handler = Callable[[Bill, Decimal, int | None], Bill]

UNDO_KILL_HINT = "bill is killed: post Undo Kill Bill (UK) first"


class Amount(Enum):
    """What amount a code takes."""

    POSITIVE = "an amount above zero"
    NONZERO = "an amount other than zero"
    NONE = "no amount"


class Refusal(Exception):
    """A posting the rules refuse; `rules.apply` turns it into a `Rejected`."""

    def __init__(self, reason_code: str, reason: str) -> None:
        super().__init__(reason)
        self.reason_code = reason_code
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Code:
    code: str
    name: str
    amount: Amount
    handler: Handler
    #: A family matches every code starting with its letter (P, PC, PK, PI ...).
    family: bool = False
    #: Counts on the current payer (and so blocks a Rejection on it).
    payer_transaction: bool = False
    #: What the ledger shows when it is not the code as posted (refunds post as AP).
    ledger_code: str | None = None
    #: A/R ledger column: payment, contractual, revenue, bad_debt or status.
    category: str = "status"
    #: Takes the optional `next_payer` (Rejections only).
    takes_next_payer: bool = False
    #: May be posted to a killed bill (Undo Kill Bill only).
    on_killed: bool = False


POSITIVE = Amount.POSITIVE

REGISTRY: dict[str, Code] = {}


def code(
    key: str,
    name: str,
    *,
    amount: Amount = Amount.NONE,
    family: bool = False,
    payer_transaction: bool = False,
    ledger_code: str | None = None,
    category: str = "status",
    takes_next_payer: bool = False,
    on_killed: bool = False,
) -> Callable[[Handler], Handler]:
    """Register the decorated handler as transaction code (or family) `key`."""

    def register(handler: Handler) -> Handler:
        if key in REGISTRY:
            raise ValueError(f"transaction code {key} is registered twice")
        REGISTRY[key] = Code(
            key,
            name,
            amount,
            handler,
            family=family,
            payer_transaction=payer_transaction,
            ledger_code=ledger_code,
            category=category,
            takes_next_payer=takes_next_payer,
            on_killed=on_killed,
        )
        return handler

    return register


def rule_for(posted_code: str) -> Code | None:
    """The code's rule: a fixed code first, else the family of its first letter."""
    exact = REGISTRY.get(posted_code)
    if exact is not None:
        return exact
    family = REGISTRY.get(posted_code[:1])
    return family if family is not None and family.family else None


def _current(bill: Bill) -> BillPayer:
    payer = bill.current
    if payer is None:  # rules.apply refuses payer transactions without a current payer
        raise Refusal("NO_CURRENT_PAYER", f"payer {bill.current_payer} is not on the bill")
    return payer


def _on(payer: BillPayer) -> str:
    return f"on the current payer ({payer.label})"


# --- payer transactions -------------------------------------------------------------


@code("P", "payment", amount=POSITIVE, family=True, payer_transaction=True, category="payment")
def payment(bill: Bill, a: Decimal, _next: int | None) -> Bill:
    payer = _current(bill)
    return _on_payer(bill, -a, payer, cash_balance=payer.cash_balance + a)


@code(
    "C", "contractual allowance", amount=POSITIVE, family=True, payer_transaction=True, category="contractual"
)
def contractual(bill: Bill, a: Decimal, _next: int | None) -> Bill:
    if a > bill.balance:
        raise Refusal(
            "CONTRACTUAL_EXCEEDS_BALANCE",
            f"contractual allowance {m(a)} exceeds the balance {m(bill.balance)}; "
            "a contractual allowance may reduce the balance to zero, not below",
        )
    payer = _current(bill)
    return _on_payer(bill, -a, payer, contractual_balance=payer.contractual_balance + a)


@code("AP", "payment adjustment", amount=POSITIVE, payer_transaction=True, category="payment")
def payment_adjustment(bill: Bill, a: Decimal, _next: int | None) -> Bill:
    payer = _current(bill)
    if a > payer.cash_balance:
        raise Refusal(
            "PAYMENT_ADJUSTMENT_EXCEEDS_CASH",
            f"payment adjustment {m(a)} exceeds the cash balance {m(payer.cash_balance)} "
            f"{_on(payer)}; the cash is not on the current payer: use Undo Rebill (UR) to "
            "move back to the previous payer",
        )
    return _on_payer(bill, a, payer, cash_balance=payer.cash_balance - a)


@code(
    "AC", "contractual allowance adjustment", amount=POSITIVE, payer_transaction=True, category="contractual"
)
def contractual_adjustment(bill: Bill, a: Decimal, _next: int | None) -> Bill:
    payer = _current(bill)
    if a > payer.contractual_balance:
        raise Refusal(
            "CONTRACTUAL_ADJUSTMENT_EXCEEDS_CONTRACTUAL",
            f"contractual adjustment {m(a)} exceeds the contractual allowance "
            f"{m(payer.contractual_balance)} {_on(payer)}; no such cont/allow on the current "
            "payer: use Undo Rebill (UR) to move back to the previous payer",
        )
    return _on_payer(bill, a, payer, contractual_balance=payer.contractual_balance - a)


@code(
    "F", "refund", amount=POSITIVE, family=True, payer_transaction=True, ledger_code="AP", category="payment"
)
def refund(bill: Bill, a: Decimal, _next: int | None) -> Bill:
    payer = _current(bill)
    if a > payer.cash_balance:
        raise Refusal(
            "REFUND_EXCEEDS_CASH",
            f"refund {m(a)} exceeds the cash balance {m(payer.cash_balance)} {_on(payer)}; "
            "probably not the correct payer: see Undo Rebill (UR)",
        )
    refunds = (*payer.refunds, a)
    return _on_payer(bill, a, payer, cash_balance=payer.cash_balance - a, refunds=refunds)


@code("UF", "undo refund", amount=POSITIVE, payer_transaction=True, ledger_code="AP", category="payment")
def undo_refund(bill: Bill, a: Decimal, _next: int | None) -> Bill:
    payer = _current(bill)
    if a not in payer.refunds:
        standing = ", ".join(m(r) for r in payer.refunds) or "none"
        raise Refusal(
            "NO_SUCH_REFUND",
            f"no refund of {m(a)} {_on(payer)} that is not already undone (refunds: "
            f"{standing}); post Undo Refund for the same amount, to the payer where the "
            "refund was posted",
        )
    newest = len(payer.refunds) - 1 - payer.refunds[::-1].index(a)
    refunds = payer.refunds[:newest] + payer.refunds[newest + 1 :]
    return _on_payer(bill, -a, payer, cash_balance=payer.cash_balance + a, refunds=refunds)


# --- adjustments that are not a payer's -------------------------------------------------


@code("AR", "revenue adjustment", amount=Amount.NONZERO, category="revenue")
def revenue_adjustment(bill: Bill, a: Decimal, _next: int | None) -> Bill:
    late_fee = bill.late_fee_balance + a
    if late_fee < 0:
        raise Refusal(
            "LATE_FEE_NEGATIVE",
            f"revenue adjustment {m(a)} would leave the late fee balance at {m(late_fee)} "
            f"(it is {m(bill.late_fee_balance)}); there cannot be a negative amount in the "
            "Late Fee Balance. Never use AR to correct posting mistakes",
        )
    return bill.replace(
        late_fee_balance=late_fee,
        billed_amount=bill.billed_amount + a,
        balance=bill.balance + a,
    )


@code("WB", "write-off to bad debt", amount=POSITIVE, category="bad_debt")
def write_off(bill: Bill, a: Decimal, _next: int | None) -> Bill:
    if a > bill.balance:
        raise Refusal(
            "WRITE_OFF_EXCEEDS_BALANCE",
            f"write-off {m(a)} exceeds the balance {m(bill.balance)}; write off all or some "
            "of the balance, not more",
        )
    return bill.replace(balance=bill.balance - a, bad_debt=bill.bad_debt + a)


@code("AB", "bad-debt adjustment", amount=POSITIVE, category="bad_debt")
def bad_debt_adjustment(bill: Bill, a: Decimal, _next: int | None) -> Bill:
    why = "AB only cancels what was posted after a write-off (WB)"
    if bill.bad_debt == 0:
        raise Refusal("NO_BAD_DEBT", f"there is no bad debt on the bill; {why}")
    if a > bill.bad_debt:
        raise Refusal(
            "BAD_DEBT_ADJUSTMENT_EXCEEDS_BAD_DEBT",
            f"bad-debt adjustment {m(a)} exceeds the bad debt {m(bill.bad_debt)}; {why}",
        )
    if bill.balance > -a:
        raise Refusal(
            "BALANCE_NOT_A_CREDIT",
            f"bad-debt adjustment {m(a)} needs a credit of at least {m(a)} on the bill but "
            f"the balance is {m(bill.balance)}; {why}",
        )
    return bill.replace(balance=bill.balance + a, bad_debt=bill.bad_debt - a)


# --- statuses and the current payer -------------------------------------------------------


@code("J", "rejection", family=True, takes_next_payer=True)
def rejection(bill: Bill, _a: Decimal, next_payer: int | None) -> Bill:
    payer = bill.current
    if payer is not None and (payer.cash_balance != 0 or payer.contractual_balance != 0):
        raise Refusal(
            "REJECTION_WITH_TRANSACTIONS",
            f"a payment or contractual allowance stands {_on(payer)} (cash "
            f"{m(payer.cash_balance)}, contractual {m(payer.contractual_balance)}); a rejection "
            "cannot be posted with other transactions on the current payer: use Rebill (RB)",
        )
    if next_payer is None:
        return bill.replace(rejected=True)
    if bill.payer(next_payer) is None:
        on_bill = ", ".join(str(p.sequence) for p in bill.payers) or "none"
        raise Refusal(
            "NO_SUCH_PAYER",
            f"next payer {next_payer} is not on the bill (payers: {on_bill})",
        )
    return bill.replace(rejected=True, current_payer=next_payer)


@code("SL", "send to collections")
def send_to_collections(bill: Bill, _a: Decimal, _next: int | None) -> Bill:
    if bill.in_collections:
        raise Refusal("ALREADY_IN_COLLECTIONS", "the bill is already in collections")
    if bill.balance <= 0:
        raise Refusal(
            "NOTHING_TO_COLLECT",
            f"nothing to send to collections: the balance is {m(bill.balance)}",
        )
    return bill.replace(in_collections=True)


@code("UL", "undo collections")
def undo_collections(bill: Bill, _a: Decimal, _next: int | None) -> Bill:
    if not bill.in_collections:
        raise Refusal("NOT_IN_COLLECTIONS", "the bill is not in collections")
    return bill.replace(in_collections=False)


@code("RB", "rebill")
def rebill(bill: Bill, _a: Decimal, _next: int | None) -> Bill:
    if bill.balance <= 0:
        raise Refusal("NOTHING_TO_REBILL", f"nothing to rebill: the balance is {m(bill.balance)}")
    following = bill.current_payer + 1
    if bill.payer(following) is None:
        raise Refusal(
            "NO_NEXT_PAYER",
            f"there is no payer after payer {bill.current_payer}: add a payer to the bill before posting",
        )
    payer = _current(bill)
    if payer.cash_balance == 0 and payer.contractual_balance == 0:
        raise Refusal(
            "NO_PAYMENT_ON_CURRENT",
            f"no payment or contractual allowance {_on(payer)}: use a Rejection (J) to change the payer",
        )
    return bill.replace(current_payer=following, rebill_history=(*bill.rebill_history, bill.current_payer))


@code("UR", "undo rebill")
def undo_rebill(bill: Bill, _a: Decimal, _next: int | None) -> Bill:
    if not bill.rebill_history:
        raise Refusal(
            "NO_REBILL_TO_UNDO",
            "there is no Rebill to undo: Undo Rebill only follows a Rebill (RB)",
        )
    *rest, previous = bill.rebill_history
    return bill.replace(current_payer=previous, rebill_history=tuple(rest))


@code("HA", "hold account")
def hold(bill: Bill, _a: Decimal, _next: int | None) -> Bill:
    if bill.on_hold:
        raise Refusal("ALREADY_ON_HOLD", "the bill is already on hold")
    return bill.replace(on_hold=True)


@code("TH", "take off hold")
def take_off_hold(bill: Bill, _a: Decimal, _next: int | None) -> Bill:
    if not bill.on_hold:
        raise Refusal("NOT_ON_HOLD", "the bill is not on hold")
    return bill.replace(on_hold=False)


@code("KB", "kill bill")
def kill(bill: Bill, _a: Decimal, _next: int | None) -> Bill:
    standing = [
        f"{what} {m(amount)}"
        for what, amount in (
            ("balance", bill.balance),
            ("late fee", bill.late_fee_balance),
            *((f"cash on {p.label}", p.cash_balance) for p in bill.payers),
            *((f"contractual on {p.label}", p.contractual_balance) for p in bill.payers),
        )
        if amount != 0
    ]
    if standing:
        raise Refusal(
            "BILL_HAS_BALANCES",
            f"the bill has balances ({', '.join(standing)}); Kill Bill can only be posted "
            "when no balances exist and is not a way to remove transactions posted in error",
        )
    if bill.current_payer != 1:
        raise Refusal(
            "NOT_FIRST_PAYER",
            f"the current payer is payer {bill.current_payer}; Kill Bill only applies while "
            "the first payer is current",
        )
    return bill.replace(killed=True)


@code("UK", "undo kill bill", on_killed=True)
def undo_kill(bill: Bill, _a: Decimal, _next: int | None) -> Bill:
    if not bill.killed:
        raise Refusal("NOT_KILLED", "the bill is not killed")
    return bill.replace(killed=False)


def _on_payer(bill: Bill, owed: Decimal, payer: BillPayer, **changes: Any) -> Bill:
    """`bill` with `payer` changed and the balance moved by `owed`."""
    return bill.with_payer(evolve(payer, **changes), balance=bill.balance + owed)


__all__ = ["REGISTRY", "UNDO_KILL_HINT", "Amount", "Code", "Refusal", "rule_for"]
