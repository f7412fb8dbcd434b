"""What the rules need to know about the past, loaded once per run (pure data, no I/O).

The agent fills a `History` from SQL in a few batch queries; the run updates it as charges
pass, so that two copies of one service in the same run are caught as duplicates and a
patient's therapy total grows line by line.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from contracts import Charge

DupKey = tuple[str, str, dt.date, str, tuple[str, ...]]
YtdKey = tuple[str, str, int, str]

#: Medicare's therapy threshold counts PT and speech together, OT apart.
DISCIPLINE_OF_MODIFIER = {"GP": "PT_SLP", "GN": "PT_SLP", "GO": "OT"}


def discipline(modifiers: list[str] | tuple[str, ...]) -> str | None:
    for m in modifiers:
        if m in DISCIPLINE_OF_MODIFIER:
            return DISCIPLINE_OF_MODIFIER[m]
    return None


def dup_key(charge: Charge) -> DupKey | None:
    if charge.service_date is None or not charge.procedure_code:
        return None
    return (
        charge.company_id,
        charge.patient.id,
        charge.service_date,
        charge.procedure_code,
        tuple(sorted(charge.modifiers)),
    )


@dataclass(frozen=True, slots=True)
class SentLine:
    bill_id: str
    version: int


@dataclass
class History:
    #: (company, patient, date, code, modifiers) -> the charge id that already produced a claim.
    claimed: dict[DupKey, str] = field(default_factory=dict)
    #: (company, patient, year, discipline) -> therapy billed so far that year.
    therapy_ytd: dict[YtdKey, Decimal] = field(default_factory=dict)
    #: charge_id -> the bill it was last sent on, and the version sent.
    sent: dict[str, SentLine] = field(default_factory=dict)
    #: bill_id -> whether a Rejection (J) left it in Rejected status.
    bill_rejected: dict[str, bool] = field(default_factory=dict)

    def bill_of(self, charge: Charge) -> str | None:
        if charge.bill_id:
            return charge.bill_id
        sent = self.sent.get(charge.charge_id)
        return sent.bill_id if sent else None

    def replaces_bill(self, charge: Charge) -> str | None:
        """The rejected bill this charge is a correction for, if it is one."""
        sent = self.sent.get(charge.charge_id)
        if sent and self.bill_rejected.get(sent.bill_id) and charge.version > sent.version:
            return sent.bill_id
        return None

    def record_passed(self, charge: Charge) -> None:
        """Count a charge that will be claimed in this run, before its claim exists."""
        key = dup_key(charge)
        if key is not None:
            self.claimed[key] = charge.charge_id
        kind = discipline(charge.modifiers)
        if kind and charge.service_date and charge.amount is not None:
            ytd = (charge.company_id, charge.patient.id, charge.service_date.year, kind)
            self.therapy_ytd[ytd] = self.therapy_ytd.get(ytd, Decimal("0.00")) + charge.amount

    def record_sent(self, charge_id: str, version: int, bill_id: str) -> None:
        self.sent[charge_id] = SentLine(bill_id, version)
        self.bill_rejected[bill_id] = False
