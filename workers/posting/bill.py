"""The bill a posting applies to: opened from a claim, changed only by `rules.apply`.

A `Bill` is a frozen value. Every rule returns a new bill, so a rejected posting cannot
have changed anything and a test can keep the bill it started from.

Choices the spec leaves open (see also `codes.py`):

- `claim_date` is the day the claim was created (`Claim.created_at`), not the service
  date: aging counts from when the bill was sent, as the seed's reports do.
- A claim for a bill that already exists changes the bill only when it is a
  `replacement` (a corrected charge re-sent after a Rejection): that clears `rejected`.
  It does not change the billed amount or the payers; money on a bill moves only through
  postings, so the ledger explains every cent. An `original` claim for an existing bill
  is a duplicate delivery and changes nothing.
- A payer keeps each refund not yet undone (`refunds`) because Undo Refund must match
  "a refund of exactly a"; the contract's `BillPayerState.refunds` is their sum.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from contracts.base import CENT
from contracts.claim import Claim
from contracts.posting import BillPayerState, BillState

ZERO = Decimal("0.00")

V = TypeVar("V")
_FIELDS: dict[type, tuple[tuple[str, ...], frozenset[str]]] = {}
_set = object.__setattr__


def evolve(value: V, **changes: Any) -> V:
    """`dataclasses.replace` for the frozen values of the posting rules, at a third of its cost.

    `replace` looks the fields up and runs the frozen `__init__` (a generic setattr per
    field) on every call, and the rules make three or four new values per posting: it was a
    tenth of the posting step. None of these classes has a `__post_init__`, so copying the
    fields into a new instance gives the same value `replace` would.
    """
    cls = type(value)
    known = _FIELDS.get(cls)
    if known is None:
        if not dataclasses.is_dataclass(cls) or hasattr(cls, "__post_init__"):
            raise TypeError(f"evolve() copies plain dataclasses only, not {cls.__name__}")
        fields = tuple(f.name for f in dataclasses.fields(cls))
        known = _FIELDS[cls] = (fields, frozenset(fields))
    names, allowed = known
    if not allowed.issuperset(changes):
        unknown = changes.keys() - allowed
        raise TypeError(f"{cls.__name__} has no field {', '.join(sorted(unknown))}")
    new = object.__new__(cls)
    for name in names:
        _set(new, name, changes[name] if name in changes else getattr(value, name))
    return new


def cents(value: Decimal | str | int) -> Decimal:
    """An exact two-place amount (storage and tests hand in strings and ints too)."""
    return Decimal(value).quantize(CENT)


@dataclass(frozen=True, slots=True)
class BillPayer:
    """One payer on a bill and the money it has moved while it was current."""

    sequence: int
    payer_id: str
    name: str
    payer_type: str
    cash_balance: Decimal = ZERO
    contractual_balance: Decimal = ZERO
    #: Refunds posted and not undone, oldest first.
    refunds: tuple[Decimal, ...] = ()
    #: Payer transactions (P…, C…, AP, AC, F…, UF) posted while this payer was current.
    transaction_count: int = 0

    @property
    def label(self) -> str:
        """How a biller recognises the payer in a message."""
        return self.name or self.payer_id

    @property
    def refund_total(self) -> Decimal:
        return sum(self.refunds, ZERO)


@dataclass(frozen=True, slots=True)
class Bill:
    bill_id: str
    company_id: str
    claim_id: str
    claim_date: dt.date
    payers: tuple[BillPayer, ...]
    billed_amount: Decimal
    balance: Decimal
    current_payer: int = 1
    late_fee_balance: Decimal = ZERO
    bad_debt: Decimal = ZERO
    rejected: bool = False
    on_hold: bool = False
    in_collections: bool = False
    killed: bool = False
    #: Payer sequences left by Rebills not yet undone, newest last.
    rebill_history: tuple[int, ...] = ()

    def payer(self, sequence: int) -> BillPayer | None:
        for payer in self.payers:
            if payer.sequence == sequence:
                return payer
        return None

    @property
    def current(self) -> BillPayer | None:
        return self.payer(self.current_payer)

    def with_payer(self, payer: BillPayer, **changes: Any) -> Bill:
        """This bill with `payer` (matched by sequence) replaced, and any other `changes`."""
        payers = tuple(payer if p.sequence == payer.sequence else p for p in self.payers)
        return evolve(self, payers=payers, **changes)

    def replace(self, **changes: Any) -> Bill:
        return evolve(self, **changes)

    @property
    def total_cash(self) -> Decimal:
        return sum((p.cash_balance for p in self.payers), ZERO)

    @property
    def total_contractual(self) -> Decimal:
        return sum((p.contractual_balance for p in self.payers), ZERO)

    def invariant_violations(self) -> list[str]:
        """What is wrong with this bill's numbers; empty when the spec's invariant holds."""
        problems: list[str] = []
        expected = self.billed_amount - self.total_cash - self.total_contractual - self.bad_debt
        if self.balance != expected:
            problems.append(f"balance {self.balance} != {expected}")
        if self.late_fee_balance < 0:
            problems.append(f"late fee balance {self.late_fee_balance} < 0")
        if self.bad_debt < 0:
            problems.append(f"bad debt {self.bad_debt} < 0")
        for p in self.payers:
            if p.cash_balance < 0:
                problems.append(f"cash on payer {p.sequence} is {p.cash_balance}")
            if p.contractual_balance < 0:
                problems.append(f"contractual on payer {p.sequence} is {p.contractual_balance}")
        return problems


def open_bill(claim: Claim) -> Bill:
    """A new bill for `claim`: its payers in claim order, billed and owed the claim total."""
    payers = tuple(
        BillPayer(sequence=i, payer_id=p.payer_id, name=p.name, payer_type=p.payer_type)
        for i, p in enumerate(claim.payers, start=1)
    )
    total = cents(claim.total_amount)
    return Bill(
        bill_id=claim.bill_id,
        company_id=claim.company_id,
        claim_id=claim.claim_id,
        claim_date=claim.created_at.date(),
        payers=payers,
        billed_amount=total,
        balance=total,
    )


def reopen_from_claim(bill: Bill, claim: Claim) -> Bill:
    """The bill after `claim` was produced for it again (see the module docstring)."""
    if claim.frequency == "replacement" and bill.rejected:
        return bill.replace(rejected=False)
    return bill


def first_claims(claims: Iterable[Claim]) -> dict[str, Claim]:
    """Each claim id's first delivery, in arrival order: a claim delivered twice opens once."""
    first: dict[str, Claim] = {}
    for claim in claims:
        first.setdefault(claim.claim_id, claim)
    return first


def bills_from_claims(claims: Iterable[Claim], known: Mapping[str, Bill]) -> dict[str, Bill]:
    """The bills that claims never seen before open or change, by id, given the bills
    already `known`. In arrival order, so a re-send follows its original in one batch;
    a claim that changes nothing (an `original` for an existing bill) is left out."""
    changed: dict[str, Bill] = {}
    for claim in claims:
        current = changed.get(claim.bill_id) or known.get(claim.bill_id)
        bill = open_bill(claim) if current is None else reopen_from_claim(current, claim)
        if bill != current:
            changed[bill.bill_id] = bill
    return changed


def to_state(bill: Bill) -> BillState:
    """The bill as published in `PostingApplied`.

    Built without validation (`model_construct`): every amount of a `Bill` is already a
    Decimal kept to cents by the rules, and running `parse_money` on each again was a fifth
    of the posting step. The published JSON is the same (format_money quantises to cents).
    """
    return BillState.model_construct(
        bill_id=bill.bill_id,
        company_id=bill.company_id,
        claim_id=bill.claim_id,
        claim_date=bill.claim_date,
        billed_amount=bill.billed_amount,
        balance=bill.balance,
        late_fee_balance=bill.late_fee_balance,
        bad_debt=bill.bad_debt,
        current_payer=bill.current_payer,
        payers=[
            BillPayerState.model_construct(
                sequence=p.sequence,
                payer_id=p.payer_id,
                name=p.name,
                payer_type=p.payer_type,
                cash_balance=p.cash_balance,
                contractual_balance=p.contractual_balance,
                refunds=p.refund_total,
                transaction_count=p.transaction_count,
            )
            for p in bill.payers
        ],
        rejected=bill.rejected,
        on_hold=bill.on_hold,
        in_collections=bill.in_collections,
        killed=bill.killed,
        rebill_history=list(bill.rebill_history),
    )
