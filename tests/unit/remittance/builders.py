"""Bills for the remittance tests: 100.00 each, payers Aetna, a supplement, the patient."""

from __future__ import annotations

from tests.unit.posting.builders import make_claim
from workers.posting.bill import Bill, open_bill

PAYERS = (
    ("AET", "Aetna", "commercial"),
    ("MCS", "Medicare Supplement", "commercial"),
    ("PAT-1", "Pat Doe", "patient"),
)


def bill(claim_id: str, total: str = "100.00", payers: tuple[tuple[str, str, str], ...] = PAYERS) -> Bill:
    return open_bill(make_claim(claim_id, claim_id=claim_id, payers=payers, total=total))
