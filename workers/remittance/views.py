"""What a payment poster reads: each ERA's totals beside what was posted, and the parked
claim payments (the unmatched remittances) with their reasons. Shared by the CLI and the
report API; read only.

Reconciling an ERA against the bank deposit: BPR02 (the deposit) equals the claim
payments (CLP04) less the provider-level adjustments (PLB). `posted` is the sum of CLP04
over claim payments posted to bills, `parked` over those waiting in the unmatched store,
`other` over duplicates and those resolved by hand; the three add up to the claims paid.
`applied`/`refused`/`pending` count the ERA's postings by the posting worker's answers.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Connection, select

from workers.posting.read import bills, posting_answers
from workers.remittance.storage import PARKED, POSTED
from workers.remittance.tables import era_claim_payments, era_provider_adjustments, eras

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class EraTotals:
    era_key: str
    payer_id: str
    payer_name: str
    trace: str
    paid_on: dt.date | None
    file_name: str
    times_received: int
    deposit: Decimal
    claims_paid: Decimal
    provider_adjustments: Decimal
    claim_count: int
    posted: Decimal = ZERO
    parked: Decimal = ZERO
    other: Decimal = ZERO
    outcomes: dict[str, int] = field(default_factory=dict)
    postings: dict[str, int] = field(default_factory=dict)
    provider_adjustment_lines: list[dict[str, Any]] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return self.deposit == self.claims_paid - self.provider_adjustments


@dataclass(frozen=True)
class ParkedClaim:
    id: int
    era_key: str
    claim_index: int
    claim_id: str
    bill_id: str | None
    status: str
    charge: Decimal
    paid: Decimal
    reason_code: str
    reason: str
    received_at: dt.datetime


def era_totals(conn: Connection, companies: set[str] | None = None) -> list[EraTotals]:
    """Every ERA, newest first. With `companies`, only ERAs with a claim payment on their bills
    (an ERA none of whose claims matched a bill is shown to no biller but an operator's CLI)."""
    rows = conn.execute(select(eras).order_by(eras.c.received_at.desc(), eras.c.era_key)).all()
    claims = conn.execute(
        select(
            era_claim_payments.c.era_key,
            era_claim_payments.c.outcome,
            era_claim_payments.c.paid,
            era_claim_payments.c.postings,
            bills.c.company_id,
        ).outerjoin(bills, bills.c.bill_id == era_claim_payments.c.bill_id)
    ).all()
    by_era: dict[str, list[Any]] = {}
    for c in claims:
        by_era.setdefault(c.era_key, []).append(c)
    ids = [p["posting_id"] for c in claims for p in c.postings]
    answers: dict[str, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for posting_id, text in conn.execute(
            select(posting_answers.c.posting_id, posting_answers.c.answer_json).where(
                posting_answers.c.posting_id.in_(chunk)
            )
        ):
            answers[posting_id] = str(orjson.loads(text).get("type", ""))
    plb: dict[str, list[dict[str, Any]]] = {}
    for a in conn.execute(select(era_provider_adjustments).order_by(era_provider_adjustments.c.position)):
        plb.setdefault(a.era_key, []).append(
            {"reason": a.reason, "reference": a.reference, "amount": a.amount, "description": a.description}
        )
    out = []
    for r in rows:
        mine = by_era.get(r.era_key, [])
        if companies is not None and not any(c.company_id in companies for c in mine):
            continue
        sums = {POSTED: ZERO, PARKED: ZERO, "other": ZERO}
        outcomes: Counter[str] = Counter()
        postings: Counter[str] = Counter()
        for c in mine:
            outcomes[c.outcome] += 1
            sums[c.outcome if c.outcome in (POSTED, PARKED) else "other"] += Decimal(c.paid)
            for p in c.postings:
                kind = answers.get(p["posting_id"])
                postings[
                    "applied"
                    if kind == "PostingApplied"
                    else "refused"
                    if kind == "PostingRejected"
                    else "pending"
                ] += 1
        out.append(
            EraTotals(
                era_key=r.era_key,
                payer_id=r.payer_id,
                payer_name=r.payer_name,
                trace=r.trace,
                paid_on=r.paid_on,
                file_name=r.file_name,
                times_received=r.times_received,
                deposit=Decimal(r.total),
                claims_paid=Decimal(r.claims_paid),
                provider_adjustments=Decimal(r.provider_adjustments),
                claim_count=r.claim_count,
                posted=sums[POSTED],
                parked=sums[PARKED],
                other=sums["other"],
                outcomes=dict(outcomes),
                postings=dict(postings),
                provider_adjustment_lines=plb.get(r.era_key, []),
            )
        )
    return out


def parked_claims(conn: Connection, companies: set[str] | None = None) -> list[ParkedClaim]:
    """The unmatched remittances: parked claim payments, oldest first.

    With `companies`, only those on a bill of theirs: a claim payment with no bill belongs
    to no company yet, so it is listed to operators (the CLI), not through the API.
    """
    query = (
        select(era_claim_payments, eras.c.received_at, bills.c.company_id)
        .join(eras, eras.c.era_key == era_claim_payments.c.era_key)
        .outerjoin(bills, bills.c.bill_id == era_claim_payments.c.bill_id)
        .where(era_claim_payments.c.outcome == PARKED)
        .order_by(era_claim_payments.c.id)
    )
    out = []
    for r in conn.execute(query):
        if companies is not None and r.company_id not in companies:
            continue
        out.append(
            ParkedClaim(
                id=int(r.id),
                era_key=r.era_key,
                claim_index=r.claim_index,
                claim_id=r.claim_id,
                bill_id=r.bill_id,
                status=r.status,
                charge=Decimal(r.charge),
                paid=Decimal(r.paid),
                reason_code=r.reason_code,
                reason=r.reason,
                received_at=r.received_at,
            )
        )
    return out
