"""State from earlier runs: duplicate charges, and the bill the charge would go out on.

Bill semantics (the product's choice): the charge's bill is the one it names
(`charge.bill_id`), else the one its charge_id was sent on before. On a rejected bill, a
charge already sent on it with a lower version is a correction and passes (it goes out as
a replacement claim that clears the rejection); anything else fails BILL_REJECTED. On a
bill that is not rejected, a charge_id already sent on it (any version) fails
ALREADY_BILLED: a correction needs a Rejection (J) posted on the bill first.
"""

from __future__ import annotations

from contracts.charge import Charge
from workers.formatter.rules.context import RuleContext, bill_of, claim_key
from workers.formatter.rules.results import PASS, Results, error


def check_duplicate_charge(charge: Charge, ctx: RuleContext) -> Results:
    key = claim_key(charge)
    if key is None:
        return PASS
    other = ctx.history.claimed_keys.get(key)
    if other is None or other == charge.charge_id:
        return PASS
    modifiers = "+".join(key[4]) or "no modifiers"
    return [
        error(
            "DUPLICATE_CHARGE",
            f"charge {other} already produced a claim for this patient on {key[2].isoformat()} "
            f"with {key[3]} ({modifiers}); delete this charge, or add a modifier (e.g. 59, 76) "
            "if the service really was repeated",
            "procedure_code",
        )
    ]


def check_bill_rejected(charge: Charge, ctx: RuleContext) -> Results:
    bill_id = bill_of(charge, ctx.history)
    bill = ctx.history.bills.get(bill_id) if bill_id else None
    if bill is None or not bill.rejected:
        return PASS
    sent = bill.sent_versions.get(charge.charge_id)
    if sent is not None and sent < charge.version:
        return PASS  # a correction of a line on the bill: it re-sends the bill
    if sent is None:
        fix = "resend the bill by correcting and reprocessing a charge already on it, then add this one"
    else:
        fix = "correct the charge and reprocess it to resend the bill"
    return [
        error(
            "BILL_REJECTED",
            f"bill {bill_id} is in Rejected status (a Rejection was posted); {fix}",
            "bill_id",
        )
    ]


def check_already_billed(charge: Charge, ctx: RuleContext) -> Results:
    bill_id = bill_of(charge, ctx.history)
    bill = ctx.history.bills.get(bill_id) if bill_id else None
    if bill is None or bill.rejected or charge.charge_id not in bill.sent_versions:
        return PASS
    return [
        error(
            "ALREADY_BILLED",
            f"charge already went out on bill {bill_id}; post a Rejection (J) on the bill before "
            "sending a correction",
            "bill_id",
        )
    ]
