"""Claims and bills for the posting tests, built the way production builds them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from contracts.charge import ChargePayer, Patient, Provider
from contracts.claim import Claim, ClaimLine
from workers.posting.bill import Bill, open_bill
from workers.posting.rules import Applied, Outcome, apply

CREATED = dt.datetime(2024, 3, 1, 9, 30, tzinfo=dt.UTC)

PAYERS = (
    ("MCR", "Medicare", "medicare"),
    ("AET", "Aetna", "commercial"),
    ("PAT-1", "Pat Doe", "patient"),
)


def make_claim(
    bill_id: str = "B1",
    *,
    claim_id: str | None = None,
    payers: tuple[tuple[str, str, str], ...] = PAYERS,
    total: str = "100.00",
    frequency: str = "original",
    created_at: dt.datetime = CREATED,
    company_id: str = "CO1",
) -> Claim:
    return Claim.model_validate(
        {
            "claim_id": claim_id or f"CL-{bill_id}",
            "bill_id": bill_id,
            "frequency": frequency,
            "run_number": 1,
            "company_id": company_id,
            "patient": Patient(id="PAT-1", first_name="Pat", last_name="Doe"),
            "payers": [
                ChargePayer.model_validate({"payer_id": i, "name": n, "payer_type": t}) for i, n, t in payers
            ],
            "billing_provider": Provider(npi="1234567893", name="Clinic"),
            "rendering_provider": Provider(npi="1234567893", name="Dr Who"),
            "service_date": dt.date(2024, 2, 20),
            "diagnoses": ["M54.5"],
            "lines": [
                ClaimLine(
                    line_number=1,
                    charge_id="CH1",
                    charge_version=1,
                    procedure_code="97110",
                    units=1,
                    amount=Decimal(total),
                    diagnosis_pointers=[1],
                    place_of_service="11",
                )
            ],
            "total_amount": Decimal(total),
            "created_at": created_at,
        }
    )


def parse(posting: str) -> tuple[str, Decimal | None, int | None]:
    """ "P 40.00" / "J >2" / "KB" -> (code, amount, next_payer)."""
    code, *rest = posting.split()
    amount: Decimal | None = None
    next_payer: int | None = None
    for token in rest:
        if token.startswith(">"):
            next_payer = int(token[1:])
        else:
            amount = Decimal(token)
    return code, amount, next_payer


def post(bill: Bill, posting: str) -> Outcome:
    return apply(bill, *parse(posting))


def bill_after(*postings: str, **claim: object) -> Bill:
    """A bill opened from `make_claim(**claim)` with `postings` applied (each must apply)."""
    bill = open_bill(make_claim(**claim))  # type: ignore[arg-type]
    for posting in postings:
        outcome = post(bill, posting)
        assert isinstance(outcome, Applied), f"{posting}: {outcome}"
        bill = outcome.bill
    return bill
