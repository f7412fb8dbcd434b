"""The test 835 files under tests/x12/835/, as `Remittance` values.

`python -m tests.x12.samples` writes them again; tests/unit/remittance/test_samples.py
checks the files on disk are these and that pyx12 validates every one.

The claims they pay are the bills of `tests/unit/remittance/builders.py`: each bill is
100.00 with payers AET (Aetna), then MCS (a supplement), then the patient.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from contracts.claim import Claim
from devtools.sample.era835 import ClaimPayment, Line, ProviderAdjustment, Remittance, build

HERE = Path(__file__).parent / "835"
CENT = Decimal("0.01")

#: One payer paying several claims: in full, partly (CO-45 + PR-2), all deductible (PR-1).
SEVERAL = Remittance(
    trace="EFT0001",
    claims=(
        ClaimPayment("CLM-A", "1", "100", "100", lines=(Line("97110", "100", "100"),)),
        ClaimPayment(
            "CLM-B",
            "1",
            "100",
            "60",
            "15",
            lines=(
                Line("97110", "60", "40", adjustments=(("CO", "45", "10"), ("PR", "2", "10"))),
                Line(
                    "97140", "40", "20", adjustments=(("CO", "45", "15"), ("PR", "2", "5")), rarcs=("N130",)
                ),
            ),
        ),
        ClaimPayment("CLM-C", "1", "100", "0", "100", adjustments=(("PR", "1", "100"),), rarcs=("MA01",)),
    ),
)

DENIAL = Remittance(
    trace="EFT0002",
    claims=(
        ClaimPayment(
            "CLM-D",
            "4",
            "100",
            "0",
            lines=(Line("97110", "100", "0", adjustments=(("CO", "50", "100"),), rarcs=("N115",)),),
        ),
    ),
)

#: A payment, then its reversal and the corrected payment in a later ERA.
FIRST_PAYMENT = Remittance(
    trace="EFT0003",
    claims=(
        ClaimPayment(
            "CLM-E", "1", "100", "70", "10", "PCN-E1", adjustments=(("CO", "45", "20"), ("PR", "2", "10"))
        ),
    ),
)
REVERSAL = Remittance(
    trace="EFT0004",
    claims=(
        ClaimPayment(
            "CLM-E",
            "22",
            "-100",
            "-70",
            "-10",
            "PCN-E1",
            adjustments=(("CO", "45", "-20"), ("PR", "2", "-10")),
        ),
        ClaimPayment(
            "CLM-E", "1", "100", "80", "10", "PCN-E2", adjustments=(("CO", "45", "10"), ("PR", "2", "10"))
        ),
    ),
)

#: Provider-level adjustments: interest paid to the provider, an overpayment recouped.
PROVIDER_ADJUSTMENTS = Remittance(
    trace="EFT0005",
    claims=(ClaimPayment("CLM-F", "1", "100", "80", adjustments=(("CO", "45", "20"),)),),
    provider_adjustments=(
        ProviderAdjustment("L6", "INT2026", "-2.50"),
        ProviderAdjustment("WO", "PCN-OLD9", "30"),
    ),
)

#: One claim payment no bill matches.
UNMATCHED = Remittance(
    trace="EFT0006",
    claims=(ClaimPayment("CLM-NOPE", "1", "100", "80", adjustments=(("CO", "45", "20"),)),),
)

#: The secondary's ERA after the primary's: OA-23 is the primary's adjudication.
SECONDARY = Remittance(
    trace="EFT0007",
    payer_id="MCS",
    payer_name="MEDICARE SUPPLEMENT",
    claims=(
        ClaimPayment("CLM-B", "2", "100", "12", "3", adjustments=(("OA", "23", "85"), ("PR", "2", "3"))),
    ),
)

SAMPLES = {
    "several_claims.835": SEVERAL,
    "denial.835": DENIAL,
    "payment_to_reverse.835": FIRST_PAYMENT,
    "reversal_and_correction.835": REVERSAL,
    "provider_adjustments.835": PROVIDER_ADJUSTMENTS,
    "unmatched.835": UNMATCHED,
    "secondary.835": SECONDARY,
}


def paying_four_ways(
    claims: Sequence[Claim], trace: str, payer_id: str, payer_name: str
) -> tuple[Remittance, dict[str, tuple[Decimal, int, bool]], int]:
    """An 835 paying `claims` four ways (in full; partly with CO-45 and PR-2; all PR-1
    deductible; denied), for bills whose second payer is the patient; with the bills'
    expected (balance, current payer, rejected) and the number of postings it makes."""
    payments = []
    adjustments: tuple[tuple[str, str, str], ...]
    expected: dict[str, tuple[Decimal, int, bool]] = {}
    postings = 0
    for k, c in enumerate(claims):
        total = c.total_amount
        kind = k % 4
        if kind == 0:  # paid in full
            payments.append(ClaimPayment(c.claim_id, "1", str(total), str(total)))
            expected[c.bill_id] = (Decimal("0.00"), 1, False)
            postings += 1
        elif kind == 1:  # paid 70%, CO-45 20%, PR-2 the rest: rebilled to the patient
            paid = (total * Decimal("0.7")).quantize(CENT)
            co = (total * Decimal("0.2")).quantize(CENT)
            pr = total - paid - co
            adjustments = (("CO", "45", str(co)), ("PR", "2", str(pr)))
            payments.append(
                ClaimPayment(c.claim_id, "1", str(total), str(paid), str(pr), adjustments=adjustments)
            )
            expected[c.bill_id] = (pr, 2, False)
            postings += 3
        elif kind == 2:  # all deductible: J to the patient
            adjustments = (("PR", "1", str(total)),)
            payments.append(
                ClaimPayment(c.claim_id, "1", str(total), "0", str(total), adjustments=adjustments)
            )
            expected[c.bill_id] = (total, 2, True)
            postings += 1
        else:  # denied
            adjustments = (("CO", "50", str(total)),)
            payments.append(
                ClaimPayment(c.claim_id, "4", str(total), "0", adjustments=adjustments, rarcs=("N115",))
            )
            expected[c.bill_id] = (total, 1, True)
            postings += 1
    era = Remittance(trace=trace, payer_id=payer_id, payer_name=payer_name, claims=tuple(payments))
    return era, expected, postings


def texts() -> dict[str, str]:
    return {name: build(era, control=n) for n, (name, era) in enumerate(SAMPLES.items(), start=1)}


if __name__ == "__main__":
    HERE.mkdir(exist_ok=True)
    for name, text in texts().items():
        (HERE / name).write_text(text)
