"""One realistic example of every message type, for docs/CONTRACTS.md and tests.

Built from the seeded sample generator with a fixed seed and date, so the examples are
the same on every run (the contracts reference is checked for drift).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pydantic import BaseModel

from contracts import (
    BillPayerState,
    BillState,
    Charge,
    ChargeFailed,
    ChargeFailureResolved,
    Claim,
    ClaimLine,
    DeadLetter,
    Posting,
    PostingApplied,
    PostingRejected,
    RemittanceFile,
    RemittanceRetry,
    ReplayedCharge,
    ReprocessRequest,
    ReprocessResult,
    RuleResult,
    SkippedCharge,
)
from devtools.sample.charges import generate_samples

EXAMPLE_SEED = 20260302
EXAMPLE_TODAY = dt.date(2026, 3, 2)
_AT = dt.datetime(2026, 3, 2, 14, 30, tzinfo=dt.UTC)


def example_messages() -> dict[str, BaseModel]:
    """An example of each top-level message, by its `type`."""
    samples = generate_samples(150, EXAMPLE_SEED, EXAMPLE_TODAY, bad_share=0.2)
    charges = [s.charge for s in samples if s.is_valid]
    visit = _insured_visit(charges)
    failed = next(s for s in samples if s.expected_failure_code == "REQUIRED_FIELD")
    claim = _claim(visit)
    posting = Posting(
        posting_id="pst-3f1c0a9e27b4",
        bill_id=claim.bill_id,
        code="PI",
        amount=(claim.total_amount * Decimal("0.6")).quantize(Decimal("0.01")),
        posted_at=_AT,
        posted_by="era-835",
        note=f"ERA payment from {claim.payers[0].name}",
    )
    examples: list[BaseModel] = [
        visit[0],
        claim,
        _failure(failed.charge),
        ChargeFailureResolved(
            charge_id=failed.charge.charge_id,
            charge_version=2,
            company_id=failed.charge.company_id,
            run_number=8,
            claim_id="clm-000815",
            resolved_at=_AT + dt.timedelta(days=1),
        ),
        posting,
        _applied(claim, posting),
        PostingRejected(
            posting_id="pst-77a0e3d15c62",
            bill_id=claim.bill_id,
            code="F",
            amount=Decimal("50.00"),
            reason_code="REFUND_EXCEEDS_CASH",
            reason=(
                f"refund 50.00 exceeds the cash balance 20.00 on the current payer "
                f"({claim.payers[0].name}); check the payer or use Undo Rebill"
            ),
            rejected_at=_AT,
        ),
        ReprocessRequest(
            request_id="rpr-0001",
            requested_by="biller-jordan",
            company_id=failed.charge.company_id,
            charge_ids=[failed.charge.charge_id],
            corrections={failed.charge.charge_id: _correction(failed.charge)},
            requested_at=_AT,
        ),
        ReprocessResult(
            request_id="rpr-0001",
            company_id=failed.charge.company_id,
            requested_by="biller-jordan",
            replayed=[ReplayedCharge(charge_id=failed.charge.charge_id, new_version=2)],
            skipped=[SkippedCharge(charge_id="chg-5e0b9d2a4c11", reason="already claimed")],
            completed_at=_AT + dt.timedelta(seconds=2),
        ),
        RemittanceFile(
            x12=_example_835(claim),
            file_name="aetna-2026-12-01.835",
            submitted_at=_AT,
            submitted_by="poster-sam",
        ),
        RemittanceRetry(claim_ids=[claim.claim_id], requested_at=_AT),
        DeadLetter(
            source_topic="billing.charges",
            partition=3,
            offset=1842,
            error_kind="invalid",
            error="patient.id: Field required",
            worker="formatter",
            dead_lettered_at=_AT,
        ),
    ]
    return {type(m).__name__: m for m in examples}  # the class name is the `type` literal


def _example_835(claim: Claim) -> str:
    """A one-claim 835 paying `claim` 60%, the rest a CO-45 allowance."""
    from devtools.sample.era835 import ClaimPayment, Remittance, build

    total = claim.total_amount
    paid = (total * Decimal("0.6")).quantize(Decimal("0.01"))
    payment = ClaimPayment(
        claim.claim_id, "1", str(total), str(paid), adjustments=(("CO", "45", str(total - paid)),)
    )
    payer = claim.payers[0]
    return build(
        Remittance(trace="EFT20261201", claims=(payment,), payer_id=payer.payer_id, payer_name=payer.name)
    )


def _insured_visit(charges: list[Charge]) -> list[Charge]:
    """The first visit with several lines, billed to insurance with a second payer."""
    for first in charges:
        visit = [
            c for c in charges if (c.patient.id, c.service_date) == (first.patient.id, first.service_date)
        ]
        if len(visit) > 1 and len(first.payers) > 1 and first.payers[0].payer_type != "patient":
            return visit
    raise LookupError("the example seed has no multi-line insured visit")


def _claim(visit: list[Charge]) -> Claim:
    first = visit[0]
    assert first.service_date is not None
    lines = [
        ClaimLine(
            line_number=n,
            charge_id=c.charge_id,
            charge_version=c.version,
            procedure_code=c.procedure_code or "",
            modifiers=list(c.modifiers),
            units=c.units or 0,
            amount=c.amount or Decimal("0.00"),
            diagnosis_pointers=list(c.diagnosis_pointers),
            place_of_service=c.place_of_service or "",
        )
        for n, c in enumerate(visit, start=1)
    ]
    return Claim(
        claim_id="clm-000814",
        bill_id="bill-000814",
        run_number=7,
        company_id=first.company_id,
        practice_id=first.practice_id,
        location_id=first.location_id,
        patient=first.patient,
        payers=list(first.payers),
        billing_provider=first.billing_provider,
        rendering_provider=first.rendering_provider,
        service_date=first.service_date,
        diagnoses=list(first.diagnoses),
        lines=lines,
        total_amount=sum((line.amount for line in lines), Decimal("0.00")),
        created_at=_AT,
    )


def _correction(charge: Charge) -> dict[str, object]:
    if charge.patient.birth_date is None:
        return {"patient.birth_date": "1950-02-01"}
    return {"patient.sex": "F"}


def _failure(charge: Charge) -> ChargeFailed:
    return ChargeFailed(
        charge_id=charge.charge_id,
        charge_version=charge.version,
        company_id=charge.company_id,
        practice_id=charge.practice_id,
        location_id=charge.location_id,
        run_number=7,
        reasons=[
            RuleResult(
                code="REQUIRED_FIELD",
                message="patient birth date is missing: add it in the patient's demographics",
                field="patient.birth_date",
            )
            if charge.patient.birth_date is None
            else RuleResult(
                code="REQUIRED_FIELD",
                message="patient sex is missing: add it in the patient's demographics",
                field="patient.sex",
            )
        ],
        oldest_failure_date=EXAMPLE_TODAY - dt.timedelta(days=3),
        failure_count=2,
        failed_at=_AT,
        service_date=charge.service_date,
        procedure_code=charge.procedure_code,
        amount=charge.amount,
        payer_name=charge.payers[0].name if charge.payers else None,
    )


def _applied(claim: Claim, posting: Posting) -> PostingApplied:
    assert posting.amount is not None
    zero = Decimal("0.00")
    payers = [
        BillPayerState(
            sequence=n,
            payer_id=p.payer_id,
            name=p.name,
            payer_type=p.payer_type,
            cash_balance=posting.amount if n == 1 else zero,
            contractual_balance=zero,
            refunds=zero,
            transaction_count=1 if n == 1 else 0,
        )
        for n, p in enumerate(claim.payers, start=1)
    ]
    bill = BillState(
        bill_id=claim.bill_id,
        company_id=claim.company_id,
        claim_id=claim.claim_id,
        claim_date=claim.created_at.date(),
        billed_amount=claim.total_amount,
        balance=claim.total_amount - posting.amount,
        late_fee_balance=zero,
        bad_debt=zero,
        current_payer=1,
        payers=payers,
        rejected=False,
        on_hold=False,
        in_collections=False,
        killed=False,
        rebill_history=[],
    )
    return PostingApplied(
        posting_id=posting.posting_id,
        bill_id=posting.bill_id,
        code=posting.code,
        amount=posting.amount,
        ledger_code=posting.code,
        bill=bill,
        applied_at=_AT + dt.timedelta(seconds=1),
    )
