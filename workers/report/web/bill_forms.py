"""What a biller types on the bill pages, checked before anything is read or published (pure).

`find_bills` is the Bills search: one text box over bill id, claim id and payer names (the
patient is a payer), a status, and the current payer. `check_posting` is the posting form:
it says what is wrong field by field, in words, so a mistyped amount never reaches the
broker; what only the bill can decide (a refund over the cash balance) is the posting
worker's answer, shown on the bill page.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from workers.posting.bill import Bill
from workers.posting.codes import Amount, rule_for
from workers.posting.reports import is_aging

#: No single posting moves a million: a typo (an extra digit) rather than an amount.
MAX_AMOUNT = Decimal("999999.99")
MAX_NOTE = 500
MAX_QUERY = 100
_AMOUNT = re.compile(r"^-?[0-9]{1,9}(\.[0-9]{1,2})?$")
_POSTING_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")

#: The status filter's choices: (value, label).
STATUSES: tuple[tuple[str, str], ...] = (
    ("", "Any status"),
    ("open", "Open (owes, no other status)"),
    ("hold", "On hold"),
    ("collections", "In collections"),
    ("rejected", "Rejected"),
    ("killed", "Killed"),
    ("bad-debt", "Has bad debt"),
    ("aging", "Aging (owes; not on hold, in collections or killed)"),
    ("paid", "Paid (balance 0.00)"),
    ("credit", "Credit (balance below 0)"),
)
STATUS_VALUES = frozenset(v for v, _ in STATUSES)


def statuses(bill: Bill) -> list[str]:
    """The bill's statuses as a biller names them; empty for a plain open bill."""
    found = []
    if bill.on_hold:
        found.append("on hold")
    if bill.in_collections:
        found.append("in collections")
    if bill.rejected:
        found.append("rejected")
    if bill.killed:
        found.append("killed")
    if bill.bad_debt > 0:
        found.append("bad debt")
    return found


def _has_status(bill: Bill, status: str) -> bool:
    match status:
        case "":
            return True
        case "open":
            return bill.balance > 0 and not statuses(bill)
        case "hold":
            return bill.on_hold
        case "collections":
            return bill.in_collections
        case "rejected":
            return bill.rejected
        case "killed":
            return bill.killed
        case "bad-debt":
            return bill.bad_debt > 0
        case "aging":
            return is_aging(bill)
        case "paid":
            return bill.balance == 0
        case "credit":
            return bill.balance < 0
    return False


def find_bills(
    bills: Iterable[Bill],
    text: str = "",
    status: str = "",
    payer: str = "",
    patients: Mapping[str, str] | None = None,
) -> list[Bill]:
    """The bills matching every filter given: `text` in the bill id, claim id, patient (by
    bill id in `patients`) or a payer's name or id; `status` one of STATUSES; `payer` in the
    current payer's name or id."""
    whose = patients or {}
    words = text.strip().lower()
    current = payer.strip().lower()
    chosen = []
    for bill in bills:
        if not _has_status(bill, status):
            continue
        if words:
            haystack = [bill.bill_id, bill.claim_id, *(p.name for p in bill.payers)]
            haystack += [p.payer_id for p in bill.payers]
            haystack.append(whose.get(bill.bill_id, ""))
            if not any(words in h.lower() for h in haystack):
                continue
        if current:
            now = bill.current
            if now is None or not (current in now.name.lower() or current in now.payer_id.lower()):
                continue
        chosen.append(bill)
    return chosen


@dataclass
class PostingForm:
    """The posting form as typed, and what is wrong with it (by field name)."""

    posting_id: str = ""
    code: str = ""
    amount_text: str = ""
    next_payer_text: str = ""
    note: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    amount: Decimal | None = None
    next_payer: int | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


def parse_amount(text: str) -> Decimal:
    """A typed amount: digits, an optional minus and up to two places (commas allowed)."""
    cleaned = text.strip().replace(",", "")
    if not _AMOUNT.match(cleaned):
        raise ValueError("Enter an amount in dollars and cents, e.g. 40.00 (at most two decimal places).")
    try:
        value = Decimal(cleaned)
    except InvalidOperation as exc:  # the pattern makes this unreachable; kept for safety
        raise ValueError("Enter an amount such as 40.00.") from exc
    if abs(value) > MAX_AMOUNT:
        raise ValueError(f"That amount is over {MAX_AMOUNT:,}: check the number of digits.")
    return value.quantize(Decimal("0.01"))


def check_posting(
    posting_id: str,
    code: str,
    amount: str,
    next_payer: str,
    note: str,
    payer_sequences: Sequence[int],
) -> PostingForm:
    """The form, with `amount` and `next_payer` parsed when they are right, and a message
    per field that is not (the code's amount rule decides whether an amount is wanted)."""
    form = PostingForm(posting_id.strip(), code.strip().upper(), amount.strip(), next_payer.strip(), note)
    errors = form.errors
    if not _POSTING_ID.match(form.posting_id):
        errors["form"] = "This form has no valid posting id. Reload the page and post again."
    rule = rule_for(form.code) if form.code else None
    if not form.code:
        errors["code"] = "Choose a transaction code."
    elif rule is None or len(form.code) > 6 or not form.code.isalnum():
        errors["code"] = f"{form.code[:12]!r} is not a transaction code. Choose one from the list."
    if rule is not None and "code" not in errors:
        label = f"{rule.name.capitalize()} ({form.code})"
        if rule.amount is Amount.NONE:
            if form.amount_text:
                errors["amount"] = f"{label} takes no amount: leave Amount empty."
        elif not form.amount_text:
            errors["amount"] = f"{label} needs {rule.amount.value}."
        else:
            try:
                value = parse_amount(form.amount_text)
            except ValueError as exc:
                errors["amount"] = str(exc)
            else:
                if rule.amount is Amount.POSITIVE and value <= 0:
                    errors["amount"] = (
                        f"{label} needs an amount above zero. Only AR may be negative; "
                        "to cancel a posting, post its adjustment code."
                    )
                elif rule.amount is Amount.NONZERO and value == 0:
                    errors["amount"] = f"{label} needs an amount other than zero."
                else:
                    form.amount = value
        if form.next_payer_text:
            if not rule.takes_next_payer:
                errors["next_payer"] = f"Only a Rejection (J) takes a next payer; {label} does not."
            elif not re.fullmatch(r"[0-9]{1,2}", form.next_payer_text) or (
                int(form.next_payer_text) not in payer_sequences
            ):
                listed = ", ".join(map(str, payer_sequences)) or "none"
                errors["next_payer"] = f"Next payer is a payer's number on this bill ({listed})."
            else:
                form.next_payer = int(form.next_payer_text)
    if len(note) > MAX_NOTE:
        errors["note"] = f"A note is at most {MAX_NOTE} characters (this one is {len(note)})."
    return form
