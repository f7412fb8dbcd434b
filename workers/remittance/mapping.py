"""One 835 claim payment -> the transaction codes a payment poster would post: pure.

`plan` takes the bill as it stands (with this worker's own postings not yet applied laid
over it), the ERA, the claim payment, what this worker posted for the claim payment a
reversal undoes, and the configuration. It answers a `Plan`: the postings, in order, with
the words for the ledger, or the reason the claim payment is parked for a biller instead.

Every plan is checked by running its postings through the posting rules themselves
(`workers.posting.rules.apply`) on that bill: a plan any of whose postings the posting
worker would refuse is parked with that refusal, not published half-applied.

The mapping, one row per 835 case (docs/X12.md holds the same table with its reasons):

| 835 | postings |
|---|---|
| CLP04 paid > 0 | P family: `payment_code` (PI, insurance payment) for CLP04 |
| CAS CO-n | C family: `contractual_code` for the amount, note "CO-n: words" |
| CAS PR-1/2/3 | nothing: it stays on the balance; then RB to the next payer when a balance remains |
| PR and RB refused (no payment or allowance stands, e.g. all PR-1 deductible) | J with next_payer |
| CAS OA | by configuration; default: recorded, not posted (OA-23 is the prior payer's adjudication) |
| CAS PI | by configuration; default: contractual (the patient cannot be billed for it) |
| CLP02 = 4 denied | J (no next payer), note with the CARC/RARC words |
| CLP02 = 22 reversal | UR if our RB moved the payer; AP per payment, AC per allowance we posted |
| CLP02 = 23/25 or anything else | parked (not a payment to post) |
| PLB | not a bill's: recorded with the ERA and shown beside its totals |
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from workers.posting.bill import Bill, BillPayer
from workers.posting.rules import Applied, apply
from workers.remittance import carc
from workers.remittance.era import ClaimPayment, Era

ZERO = Decimal("0.00")
PAID_STATUSES = frozenset({"1", "2", "3", "19", "20", "21"})
DENIED = "4"
REVERSAL = "22"
STATUS_WORDS = {
    "1": "processed as primary",
    "2": "processed as secondary",
    "3": "processed as tertiary",
    "4": "denied",
    "19": "processed as primary, forwarded",
    "20": "processed as secondary, forwarded",
    "21": "processed as tertiary, forwarded",
    "22": "reversal of previous payment",
    "23": "not our claim, forwarded to additional payer(s)",
    "25": "predetermination pricing only, no payment",
}

#: What an adjustment group (or one group-reason pair) becomes.
CONTRACTUAL = "contractual"
RECORD = "record"
ACTIONS = (CONTRACTUAL, RECORD)


@dataclass(frozen=True)
class MappingConfig:
    payment_code: str = "PI"
    contractual_code: str = "C"
    rejection_code: str = "J"
    #: Group -> action for the groups the issue leaves to configuration (CO and PR are fixed).
    groups: Mapping[str, str] = field(default_factory=lambda: {"OA": RECORD, "PI": CONTRACTUAL})
    #: "GROUP-CARC" -> action, over the group's: OA-23 stays recorded whatever OA does.
    overrides: Mapping[str, str] = field(default_factory=lambda: {"OA-23": RECORD})

    def action(self, group: str, reason: str) -> str:
        if group == "CO":
            return CONTRACTUAL
        if group == "PR":
            return RECORD
        return self.overrides.get(f"{group}-{reason}") or self.groups.get(group, RECORD)


@dataclass(frozen=True, slots=True)
class Planned:
    code: str
    amount: Decimal | None
    note: str
    next_payer: int | None = None


@dataclass(frozen=True)
class Plan:
    postings: tuple[Planned, ...] = ()
    #: Set when nothing is posted: why, in words a biller acts on.
    parked: str | None = None
    #: What the ERA says that is not a posting (patient responsibility, recorded OA...).
    notes: tuple[str, ...] = ()
    #: The bill after the postings (the posting rules' own result), when not parked.
    bill_after: Bill | None = None
    payer_sequence: int | None = None


def era_ref(era: Era) -> str:
    """A short stable id for an ERA (payer + trace), the stem of its posting ids."""
    return "era-" + hashlib.sha256(era.key.encode()).hexdigest()[:20]


def posting_id(era: Era, claim: ClaimPayment, n: int) -> str:
    return f"{era_ref(era)}-{claim.index}-{n}"


def payer_on_bill(bill: Bill, era: Era) -> BillPayer | None:
    """The bill's payer the ERA is from: by payer id, else by name."""
    for payer in bill.payers:
        if payer.payer_id.strip().upper() == era.payer_id.strip().upper():
            return payer
    for payer in bill.payers:
        if payer.name and payer.name.strip().upper() == era.payer_name.strip().upper():
            return payer
    return None


def plan(
    bill: Bill,
    era: Era,
    claim: ClaimPayment,
    config: MappingConfig,
    reversed_postings: tuple[Planned, ...] | None = None,
    reversed_payer: int | None = None,
) -> Plan:
    """The postings for `claim` on `bill` (see the module docstring)."""
    payer = payer_on_bill(bill, era)
    if payer is None:
        on_bill = ", ".join(f"{p.sequence} {p.label} ({p.payer_id})" for p in bill.payers) or "none"
        return Plan(
            parked=f"the ERA's payer {era.payer_name} ({era.payer_id}) is not on bill {bill.bill_id} "
            f"(payers: {on_bill})"
        )
    if claim.status == REVERSAL:
        return _checked(bill, _reversal(bill, claim, payer, reversed_postings, reversed_payer), payer)
    if payer.sequence != bill.current_payer:
        current = bill.current
        return Plan(
            parked=f"the ERA's payer {payer.label} is payer {payer.sequence} on bill {bill.bill_id}, but "
            f"the current payer is {bill.current_payer} ({current.label if current else 'none'}): "
            "move the payer first (UR or RB) or post it by hand",
            payer_sequence=payer.sequence,
        )
    if claim.status == DENIED:
        return _checked(bill, _denial(claim, config), payer)
    if claim.status not in PAID_STATUSES:
        words = STATUS_WORDS.get(claim.status, "an unknown status")
        return Plan(
            parked=f"claim status {claim.status} ({words}) is not a payment to post",
            payer_sequence=payer.sequence,
        )
    return _payment(bill, claim, config, payer)


def _payment(bill: Bill, claim: ClaimPayment, config: MappingConfig, payer: BillPayer) -> Plan:
    if claim.paid < 0:
        return Plan(
            parked=f"claim payment {claim.paid} is negative but the status is {claim.status}, not a "
            "reversal (22)",
            payer_sequence=payer.sequence,
        )
    postings: list[Planned] = []
    notes: list[str] = []
    if claim.paid > 0:
        postings.append(Planned(config.payment_code, claim.paid, f"ERA payment, {_claim_words(claim)}"))
    patient_owes = ZERO
    for (group, reason), amount in _by_reason(claim).items():
        words = carc.adjustment(group, reason)
        if amount == 0:
            continue
        if group == "PR":
            patient_owes += amount
        if config.action(group, reason) == CONTRACTUAL:
            if amount > 0:
                postings.append(Planned(config.contractual_code, amount, words))
            else:
                postings.append(Planned("AC", -amount, f"{words} (negative adjustment)"))
        else:
            notes.append(f"{words}: {amount} stays on the balance")
    checked = _checked(bill, tuple(postings), payer, notes)
    if checked.parked is not None or checked.bill_after is None or patient_owes <= 0:
        return checked
    after = checked.bill_after
    following = after.current_payer + 1
    if after.balance <= 0 or after.payer(following) is None:
        return checked
    # A balance remains that the patient or the next payer owes: move it there. RB needs a
    # payment or allowance standing on the payer; a claim paid 0.00, all deductible, has
    # none, and J (with the next payer) is the one code the rules leave to move it.
    rebill = Planned("RB", None, f"patient responsibility {patient_owes}: rebill to the next payer")
    moved = apply(after, "RB", None)
    if not isinstance(moved, Applied):
        rebill = Planned(
            config.rejection_code,
            None,
            f"patient responsibility {patient_owes} and nothing paid or allowed: moved to the next "
            "payer by a Rejection (Rebill needs a payment or allowance on the payer)",
            next_payer=following,
        )
    return _checked(bill, (*postings, rebill), payer, notes)


def _denial(claim: ClaimPayment, config: MappingConfig) -> tuple[Planned, ...] | str:
    if claim.paid != 0:
        return f"a denied claim (status 4) that pays {claim.paid}: post it by hand"
    reasons = [carc.adjustment(g, r) for (g, r), _amount in _by_reason(claim).items()]
    reasons += [carc.remark(code) for code in claim.all_remarks]
    note = "denied: " + ("; ".join(reasons) or "no reason given")
    return (Planned(config.rejection_code, None, note[:500]),)


def _reversal(
    bill: Bill,
    claim: ClaimPayment,
    payer: BillPayer,
    earlier: tuple[Planned, ...] | None,
    earlier_payer: int | None,
) -> tuple[Planned, ...] | str:
    if earlier is None or earlier_payer is None:
        return (
            f"a reversal (status 22) of payer claim {claim.payer_claim_number}, but no earlier payment "
            "of it was posted from an ERA: undo it by hand"
        )
    paid = sum((p.amount or ZERO for p in earlier if p.code[:1] == "P"), ZERO)
    if claim.paid != -paid:
        return f"the reversal takes back {-claim.paid} but the payment posted from the ERA was {paid}"
    if any(p.next_payer is not None for p in earlier):
        return (
            "the reversed payment moved the payer by a Rejection (J), which no code undoes: undo it by hand"
        )
    undo: list[Planned] = []
    if bill.current_payer != earlier_payer:
        if not (bill.rebill_history and bill.rebill_history[-1] == earlier_payer):
            return (
                f"the reversed payment is on payer {earlier_payer} but the current payer is "
                f"{bill.current_payer}, not by its Rebill: move the payer back by hand"
            )
        undo.append(Planned("UR", None, "reversal: back to the payer that paid"))
    for p in earlier:
        if p.code[:1] == "P" and p.amount:
            undo.append(Planned("AP", p.amount, f"reversal of payment {p.amount}"))
        elif p.code[:1] == "C" and p.amount:
            undo.append(Planned("AC", p.amount, f"reversal of {p.note}"[:500]))
    return tuple(undo)


def _checked(
    bill: Bill,
    postings: tuple[Planned, ...] | str,
    payer: BillPayer,
    notes: list[str] | None = None,
) -> Plan:
    """`postings` run through the posting rules on `bill`; parked at the first refusal."""
    if isinstance(postings, str):
        return Plan(parked=postings, payer_sequence=payer.sequence)
    current = bill
    for p in postings:
        outcome = apply(current, p.code, p.amount, p.next_payer)
        if not isinstance(outcome, Applied):
            amount = f" {p.amount}" if p.amount is not None else ""
            return Plan(
                parked=f"{p.code}{amount} would be refused on bill {bill.bill_id}: {outcome.reason}",
                payer_sequence=payer.sequence,
                notes=tuple(notes or ()),
            )
        current = outcome.bill
    return Plan(tuple(postings), None, tuple(notes or ()), current, payer.sequence)


def _by_reason(claim: ClaimPayment) -> dict[tuple[str, str], Decimal]:
    """Adjustments summed per (group, CARC), claim level and every line, in file order."""
    totals: dict[tuple[str, str], Decimal] = {}
    for cas in claim.all_adjustments:
        key = (cas.group, cas.reason)
        totals[key] = totals.get(key, ZERO) + cas.amount
    return totals


def _claim_words(claim: ClaimPayment) -> str:
    words = STATUS_WORDS.get(claim.status, claim.status)
    remarks = "; ".join(carc.remark(code) for code in claim.all_remarks)
    text = f"claim {claim.claim_id} {words}, payer claim {claim.payer_claim_number}"
    return (f"{text}; remarks: {remarks}" if remarks else text)[:500]
