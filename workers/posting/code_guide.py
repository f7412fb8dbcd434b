"""What each transaction code is for, in the seed's words, grouped as the seed groups them.

`codes.REGISTRY` says what a code does to a bill; this module says when a biller uses it
("Transaction Types Explained", shared/seeds/003). The workspace's code picker shows these
families as groups and each explanation as the code's help text. Every registered code has
exactly one entry here (tests/unit/posting/test_code_guide.py), so a code added to the
registry without its explanation fails a test rather than reaching a biller unexplained.
"""

from __future__ import annotations

from dataclasses import dataclass

from workers.posting.codes import REGISTRY, Amount, Code


@dataclass(frozen=True, slots=True)
class CodeHelp:
    code: str
    name: str
    #: What amount the code takes, in words ("an amount above zero", "no amount").
    amount: str
    takes_amount: bool
    takes_next_payer: bool
    #: A family matches every code starting with its letter (PK, PI ... post as payments).
    family: bool
    explanation: str


@dataclass(frozen=True, slots=True)
class Family:
    title: str
    codes: tuple[CodeHelp, ...]


_EXPLAINED: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Payments (start with P)",
        (("P", "Money that is paid from a patient or insurance company."),),
    ),
    (
        "Contractual Allowances (start with C)",
        (
            (
                "C",
                "If the amount of the bill cannot be balance-billed to another payer (including the "
                "patient), a Contractual Allowance zeroes the balance or reduces it to the contractual "
                "or EOB amount; then the bill can be sent to another payer, including the patient. "
                "Often also called a write-off, adjustment or contractual.",
            ),
        ),
    ),
    (
        "Adjustments (start with A)",
        (
            (
                "AR",
                "Posts fees or interest without affecting the true balance owed: adds the amount to "
                "the late fee balance and the balance (a negative amount subtracts it; the late fee "
                "balance cannot go below zero). Never use AR to correct posting mistakes.",
            ),
            (
                "AP",
                "Cancels a Payment. Post it only when that cash is showing on the current payer; if "
                "it is not there, use Undo Rebill (UR) to move back to the previous payer.",
            ),
            (
                "AB",
                "Zeroes out balances that were written off as bad debt but then had payments or "
                "other transactions posted afterward, keeping the write-off's balance.",
            ),
            (
                "AC",
                "Cancels a posted Contractual Allowance. Post it only when that Cont/Allow exists on "
                "the current payer; otherwise Undo Rebill to move back to the previous payer.",
            ),
        ),
    ),
    (
        "Refunds (start with F)",
        (
            (
                "F",
                "Removes a payment when the money is returned to, or demanded back by, the payer (a "
                "Medicare take back). Posts as AP on the ledger. If the refund is more than the cash "
                "balance, this is probably not the right payer (see Undo Rebill).",
            ),
            (
                "UF",
                "Corrects a posted refund: post it for the same amount as the refund, to the payer "
                "where the refund was posted. Posts as AP on the ledger.",
            ),
        ),
    ),
    (
        "Rejections (start with J)",
        (
            (
                "J",
                "Allows editing the bill or changing the current payer after it was sent: when a "
                "payer refuses the claim, needs more information, or was the wrong payer. No amount. "
                "Cannot be posted with other transactions on the current payer.",
            ),
        ),
    ),
    (
        "Collections",
        (
            (
                "SL",
                "Shows that a collection agency is working the bill. Its balance is on collections "
                "reports; it leaves statements, warning letters and aging.",
            ),
            ("UL", "Removes the Collections status and restores the bill's normal activities."),
        ),
    ),
    (
        "Write-offs",
        (
            (
                "WB",
                "For a balance not expected to be paid after efforts to collect it: moves all or "
                "some of the balance to bad debt. Not a contractual allowance; never for corrections.",
            ),
        ),
    ),
    (
        "Other",
        (
            (
                "RB",
                "Moves the balance to the next payer after the current one paid (or had a contractual "
                "allowance). Needs a balance; with no payment or allowance, post a Rejection instead.",
            ),
            ("UR", "Corrects a Rebill by moving the responsibility back to the previous payer."),
            (
                "HA",
                "Places the bill on hold: it leaves statements, warning letters, aging and "
                "collection reports. Transactions can still be posted.",
            ),
            ("TH", "Takes the bill off hold, back to its normal activities."),
            (
                "KB",
                "Removes a bill created in error (usually a duplicate). Only when no balances exist "
                "on the bill and the first payer is current.",
            ),
            ("UK", "Restores a bill killed in error, with its balances."),
        ),
    ),
)


def _help(rule: Code, explanation: str) -> CodeHelp:
    return CodeHelp(
        code=rule.code,
        name=rule.name,
        amount=rule.amount.value,
        takes_amount=rule.amount is not Amount.NONE,
        takes_next_payer=rule.takes_next_payer,
        family=rule.family,
        explanation=explanation,
    )


FAMILIES: tuple[Family, ...] = tuple(
    Family(title, tuple(_help(REGISTRY[key], text) for key, text in entries)) for title, entries in _EXPLAINED
)

BY_CODE: dict[str, CodeHelp] = {h.code: h for family in FAMILIES for h in family.codes}
