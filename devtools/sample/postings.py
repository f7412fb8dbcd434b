"""A seeded stream of postings for bills the pipeline has opened.

Each bill gets one scenario: a short, realistic script of transactions (an ERA payment
with its contractual allowance, a copay, a rebill to the secondary, an overpayment and its
refund...). A share of the bills get a script with one posting the rules refuse (a refund
larger than the cash, a rebill before any payment), so rejections show up. Each posting
records what spec/posting-rules.md says must happen to it, so a test can hold the posting
worker to it. Some postings are delivered twice with the same posting_id, as Kafka may.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Literal, NamedTuple

from contracts import Posting

Outcome = Literal["applied", "rejected"]
CENT = Decimal("0.01")
#: Posting times are made from this unless the caller gives a start; nothing reads the clock.
DEFAULT_START = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)


class BillSummary(NamedTuple):
    """What the stream needs to know about an open bill (a plain 4-tuple works too)."""

    bill_id: str
    billed_amount: Decimal
    payer_count: int
    payer_names: Sequence[str]


@dataclass(frozen=True)
class SamplePosting:
    posting: Posting
    expected: Outcome
    scenario: str


@dataclass(frozen=True)
class _Step:
    code: str
    amount: Decimal | None = None
    expected: Outcome = "applied"
    next_payer: int | None = None
    note: str = ""


def _part(total: Decimal, share: float) -> Decimal:
    return max(CENT, (total * Decimal(str(share))).quantize(CENT, rounding=ROUND_DOWN))


def _payer(bill: BillSummary, sequence: int) -> str:
    names = list(bill.payer_names)
    return names[sequence - 1] if 0 < sequence <= len(names) else f"payer {sequence}"


# Valid scripts. Each leaves the bill consistent under the posting rules; amounts are
# fractions of the billed amount, so a bill must be at least 1.00 for them to fit.


def _paid_with_contractual(bill: BillSummary, rng: random.Random) -> list[_Step]:
    paid = _part(bill.billed_amount, rng.uniform(0.55, 0.75))
    return [
        _Step("PI", paid, note=f"ERA payment from {_payer(bill, 1)}"),
        _Step("C", bill.billed_amount - paid, note="contractual allowance per ERA"),
    ]


def _copay_then_insurance(bill: BillSummary, rng: random.Random) -> list[_Step]:
    copay = min(Decimal(rng.choice(("20.00", "25.00", "40.00"))), _part(bill.billed_amount, 0.3))
    paid = _part(bill.billed_amount - copay, 0.6)
    return [
        _Step("PC", copay, note="copay collected at check-in"),
        _Step("PI", paid, note=f"ERA payment from {_payer(bill, 1)}"),
        _Step("C", bill.billed_amount - copay - paid, note="contractual allowance per ERA"),
    ]


def _rebill_to_next(bill: BillSummary, rng: random.Random) -> list[_Step]:
    paid = _part(bill.billed_amount, 0.5)
    allowance = _part(bill.billed_amount, 0.3)
    rest = bill.billed_amount - paid - allowance
    return [
        _Step("PI", paid, note=f"ERA payment from {_payer(bill, 1)}"),
        _Step("C", allowance, note="contractual allowance per ERA"),
        _Step("RB", note=f"rebill the remainder to {_payer(bill, 2)}"),
        _Step("PK", rest, note=f"check from {_payer(bill, 2)}"),
    ]


def _overpayment_refund(bill: BillSummary, rng: random.Random) -> list[_Step]:
    steps = _paid_with_contractual(bill, rng)
    extra = Decimal(rng.choice(("10.00", "15.00", "30.00")))
    return [
        *steps,
        _Step("PI", extra, note=f"duplicate ERA payment from {_payer(bill, 1)}"),
        _Step("F", extra, note=f"refund of the overpayment to {_payer(bill, 1)}"),
    ]


def _rejection_to_next_payer(bill: BillSummary, rng: random.Random) -> list[_Step]:
    paid = _part(bill.billed_amount, 0.7)
    return [
        _Step("J", next_payer=2, note=f"{_payer(bill, 1)} denied: not the primary payer"),
        _Step("PI", paid, note=f"ERA payment from {_payer(bill, 2)}"),
        _Step("C", bill.billed_amount - paid, note="contractual allowance per ERA"),
    ]


def _hold_then_pay(bill: BillSummary, rng: random.Random) -> list[_Step]:
    return [
        _Step("HA", note="hold: waiting for the patient's new insurance card"),
        *_paid_with_contractual(bill, rng),
        _Step("TH", note="hold released"),
    ]


def _collections_write_off(bill: BillSummary, rng: random.Random) -> list[_Step]:
    paid = _part(bill.billed_amount, 0.3)
    return [
        _Step("PK", paid, note="partial payment by the patient"),
        _Step("SL", note="sent to collections after three statements"),
        _Step("WB", bill.billed_amount - paid, note="written off to bad debt"),
    ]


def _late_fee_paid(bill: BillSummary, rng: random.Random) -> list[_Step]:
    fee = Decimal("5.00")
    return [
        _Step("AR", fee, note="late fee"),
        _Step("PK", bill.billed_amount + fee, note="paid in full with the late fee"),
    ]


# Scripts with exactly one posting the rules refuse; the rest of the script applies.


def _refund_exceeds_cash(bill: BillSummary, rng: random.Random) -> list[_Step]:
    paid = _part(bill.billed_amount, 0.3)
    return [
        _Step("PI", paid, note=f"ERA payment from {_payer(bill, 1)}"),
        _Step("F", paid + Decimal("30.00"), "rejected", note="refund keyed against the wrong payer"),
    ]


def _rebill_without_payment(bill: BillSummary, rng: random.Random) -> list[_Step]:
    return [_Step("RB", expected="rejected", note="rebill before the primary answered")]


def _contractual_over_balance(bill: BillSummary, rng: random.Random) -> list[_Step]:
    too_much = bill.billed_amount + Decimal("10.00")
    return [_Step("C", too_much, "rejected", note="allowance keyed with the wrong amount")]


def _unknown_code(bill: BillSummary, rng: random.Random) -> list[_Step]:
    return [_Step("ZZ", Decimal("10.00"), "rejected", note="mistyped transaction code")]


def _kill_with_balance(bill: BillSummary, rng: random.Random) -> list[_Step]:
    return [_Step("KB", expected="rejected", note="kill bill with a balance still owed")]


def _rejection_after_payment(bill: BillSummary, rng: random.Random) -> list[_Step]:
    return [
        _Step("PI", _part(bill.billed_amount, 0.4), note=f"ERA payment from {_payer(bill, 1)}"),
        _Step("J", expected="rejected", note="denial keyed after the payment"),
    ]


def _undo_rebill_without_rebill(bill: BillSummary, rng: random.Random) -> list[_Step]:
    return [_Step("UR", expected="rejected", note="undo rebill with no rebill")]


def _negative_late_fee(bill: BillSummary, rng: random.Random) -> list[_Step]:
    return [_Step("AR", Decimal("-5.00"), "rejected", note="AR used as a correction")]


Script = Callable[[BillSummary, random.Random], list[_Step]]
#: (script, needs a second payer)
VALID_SCRIPTS: tuple[tuple[Script, bool], ...] = (
    (_paid_with_contractual, False),
    (_copay_then_insurance, False),
    (_rebill_to_next, True),
    (_overpayment_refund, False),
    (_rejection_to_next_payer, True),
    (_hold_then_pay, False),
    (_collections_write_off, False),
    (_late_fee_paid, False),
)
INVALID_SCRIPTS: tuple[tuple[Script, bool], ...] = (
    (_refund_exceeds_cash, False),
    (_rebill_without_payment, False),
    (_contractual_over_balance, False),
    (_unknown_code, False),
    (_kill_with_balance, False),
    (_rejection_after_payment, False),
    (_undo_rebill_without_rebill, False),
    (_negative_late_fee, False),
)


def generate_posting_samples(
    bills: Iterable[BillSummary | tuple[str, Decimal, int, Sequence[str]]],
    seed: int,
    start: dt.datetime = DEFAULT_START,
    invalid_share: float = 0.15,
    unposted_share: float = 0.1,
    redelivery_share: float = 0.05,
    spread: dt.timedelta = dt.timedelta(days=1),
) -> list[SamplePosting]:
    """Postings for `bills`, one bill's in order, bills interleaved as an ERA feed would.

    A bill's first posting comes 0-20 `spread`s after `start`, each next one 1-14 later: with
    the default, weeks of a billing office's mail; `make run` passes its claims' time and
    seconds, so its postings are dated just after the claims they pay.
    A bill under 1.00 only gets a payment in full: the scripts split amounts in cents.
    """
    rng = random.Random(seed)
    ids: set[str] = set()
    per_bill: list[list[SamplePosting]] = []
    for raw in bills:
        bill = BillSummary(*raw)
        if bill.billed_amount <= 0 or rng.random() < unposted_share:
            continue
        scenario, steps = _script(bill, rng, invalid_share)
        posted = start + spread * rng.randint(0, 20) + spread / 144 * rng.randint(0, 60)
        samples = []
        for step in steps:
            posted += spread * rng.randint(1, 14) + spread / 288 * rng.randint(0, 60)
            posting = Posting(
                posting_id=_posting_id(rng, ids),
                bill_id=bill.bill_id,
                code=step.code,
                amount=step.amount,
                next_payer=step.next_payer,
                posted_at=posted,
                posted_by="era-835" if step.code in ("PI", "C") else "biller-01",
                note=step.note,
            )
            samples.append(SamplePosting(posting, step.expected, scenario))
            if rng.random() < redelivery_share:
                # Kafka delivers at least once: the same posting again must change nothing.
                samples.append(SamplePosting(posting, step.expected, f"{scenario} (redelivered)"))
        per_bill.append(samples)
    return _interleave(rng, per_bill)


def generate_postings(
    bills: Iterable[BillSummary | tuple[str, Decimal, int, Sequence[str]]],
    seed: int,
    start: dt.datetime = DEFAULT_START,
    invalid_share: float = 0.15,
    spread: dt.timedelta = dt.timedelta(days=1),
) -> list[Posting]:
    return [s.posting for s in generate_posting_samples(bills, seed, start, invalid_share, spread=spread)]


def _script(bill: BillSummary, rng: random.Random, invalid_share: float) -> tuple[str, list[_Step]]:
    if bill.billed_amount < Decimal("1.00"):
        return "paid_in_full", [_Step("PK", bill.billed_amount, note="paid in full")]
    scripts = INVALID_SCRIPTS if rng.random() < invalid_share else VALID_SCRIPTS
    fitting = [script for script, needs_two in scripts if bill.payer_count >= 2 or not needs_two]
    script = rng.choice(fitting)
    steps = [s for s in script(bill, rng) if s.amount is None or s.amount != 0]
    return script.__name__.lstrip("_"), steps


def _posting_id(rng: random.Random, taken: set[str]) -> str:
    posting_id = f"pst-{rng.getrandbits(48):012x}"
    while posting_id in taken:
        posting_id = f"pst-{rng.getrandbits(48):012x}"
    taken.add(posting_id)
    return posting_id


def _interleave(rng: random.Random, streams: list[list[SamplePosting]]) -> list[SamplePosting]:
    """Merge the bills' postings at random while keeping each bill's own order."""
    queues = [list(reversed(s)) for s in streams if s]
    out: list[SamplePosting] = []
    while queues:
        i = rng.randrange(len(queues))
        out.append(queues[i].pop())
        if not queues[i]:
            queues.pop(i)
    return out
