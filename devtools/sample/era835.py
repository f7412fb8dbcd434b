"""835 remittance files (005010X221A1) of real-world shape, for the tests and the bench.

A test states what the payer paid (claims, their service lines and adjustments, provider
level adjustments); `build` writes the X12 a payer's clearinghouse sends, with the
envelope, the payer and payee loops and BPR02 computed so the file balances. `unbalanced`
breaks that on purpose.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

Adjustment = tuple[str, str, str]  # (group, CARC, amount), e.g. ("CO", "45", "20.00")


@dataclass(frozen=True)
class Line:
    procedure: str
    charge: str
    paid: str
    units: int = 1
    adjustments: tuple[Adjustment, ...] = ()
    rarcs: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClaimPayment:
    claim_id: str
    status: str  # CLP02: 1 primary, 2 secondary, 4 denied, 22 reversal
    charge: str
    paid: str
    patient_responsibility: str = "0"
    payer_claim_number: str = ""
    adjustments: tuple[Adjustment, ...] = ()  # claim-level CAS
    lines: tuple[Line, ...] = ()
    rarcs: tuple[str, ...] = ()  # MOA (claim-level remarks)
    patient: tuple[str, str] = ("DOE", "PAT")
    service_date: dt.date = dt.date(2026, 11, 2)


@dataclass(frozen=True)
class ProviderAdjustment:
    reason: str  # PLB03-1: L6 interest, FB forward balance, WO overpayment recovery, ...
    reference: str
    amount: str  # positive takes money from the provider, negative gives it (interest)


@dataclass(frozen=True)
class Remittance:
    trace: str
    claims: tuple[ClaimPayment, ...]
    payer_id: str = "AET"
    payer_name: str = "AETNA"
    payee_npi: str = "1234567893"
    payee_tin: str = "123456789"
    paid_on: dt.date = dt.date(2026, 12, 1)
    provider_adjustments: tuple[ProviderAdjustment, ...] = field(default=())
    #: Used instead of the computed BPR02 (an unbalanced file).
    bpr_amount: str | None = None

    @property
    def total(self) -> Decimal:
        paid = sum((Decimal(c.paid) for c in self.claims), Decimal(0))
        plb = sum((Decimal(a.amount) for a in self.provider_adjustments), Decimal(0))
        return paid - plb


def _amount(value: str | Decimal) -> str:
    text = f"{Decimal(value).quantize(Decimal('0.01')):f}"
    # X12 decimals drop trailing zeros after the point ("80", "80.5"), as payers send them.
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def _cas(adjustments: tuple[Adjustment, ...]) -> list[str]:
    by_group: dict[str, list[str]] = {}
    for group, carc, amount in adjustments:
        by_group.setdefault(group, []).extend([carc, _amount(amount), ""])
    segments = []
    for group, parts in by_group.items():
        # Up to six reasons per CAS; the trailing empty quantity is dropped.
        for start in range(0, len(parts), 18):
            chunk = parts[start : start + 18]
            while chunk and chunk[-1] == "":
                chunk.pop()
            segments.append("*".join(["CAS", group, *chunk]))
    return segments


def build(era: Remittance, *, control: int = 1) -> str:
    """The 835 text for `era`: one interchange, one group, one transaction set."""
    d8 = era.paid_on.strftime("%Y%m%d")
    body = [
        f"BPR*I*{_amount(era.bpr_amount or era.total)}*C*ACH*CCP*01*999999992*DA*123456*"
        f"1{era.payee_tin}**01*999988880*DA*98765*{d8}",
        f"TRN*1*{era.trace}*1{era.payee_tin}",
        f"DTM*405*{d8}",
        f"N1*PR*{era.payer_name}*XV*{era.payer_id}",
        "N3*PO BOX 981106",
        "N4*EL PASO*TX*799981106",
        "PER*BL*PROVIDER SERVICES*TE*8005551234",
        f"N1*PE*CLAIMFLOW THERAPY*XX*{era.payee_npi}",
        f"REF*TJ*{era.payee_tin}",
    ]
    if era.claims:
        body.append("LX*1")
    for claim in era.claims:
        body.append(
            "*".join(
                [
                    "CLP",
                    claim.claim_id,
                    claim.status,
                    _amount(claim.charge),
                    _amount(claim.paid),
                    _amount(claim.patient_responsibility) if Decimal(claim.patient_responsibility) else "",
                    "12",
                    claim.payer_claim_number or f"PCN{claim.claim_id}",
                    "11",
                    "1",
                ]
            ).rstrip("*")
        )
        body.extend(_cas(claim.adjustments))
        last, first = claim.patient
        body.append(f"NM1*QC*1*{last}*{first}****MI*MEMBER01")
        if claim.rarcs:
            body.append("*".join(["MOA", "", "", *claim.rarcs]))
        body.append(f"DTM*232*{claim.service_date.strftime('%Y%m%d')}")
        for line in claim.lines:
            body.append(f"SVC*HC:{line.procedure}*{_amount(line.charge)}*{_amount(line.paid)}**{line.units}")
            body.append(f"DTM*472*{claim.service_date.strftime('%Y%m%d')}")
            body.extend(_cas(line.adjustments))
            body.extend(f"LQ*HE*{rarc}" for rarc in line.rarcs)
    if era.provider_adjustments:
        year_end = f"{era.paid_on.year}1231"
        parts = ["PLB", era.payee_npi, year_end]
        for adj in era.provider_adjustments:
            parts += [f"{adj.reason}:{adj.reference}", _amount(adj.amount)]
        body.append("*".join(parts))
    st_control = f"{control:04d}"
    transaction = [f"ST*835*{st_control}", *body]
    transaction.append(f"SE*{len(transaction) + 1}*{st_control}")
    isa_control = f"{control:09d}"
    now = dt.datetime(2026, 12, 1, 12, 0)
    segments = [
        f"ISA*00*          *00*          *ZZ*{era.payer_id:<15}*ZZ*{'CLAIMFLOW':<15}*"
        f"{now:%y%m%d}*{now:%H%M}*^*00501*{isa_control}*0*P*:",
        f"GS*HP*{era.payer_id}*CLAIMFLOW*{now:%Y%m%d}*{now:%H%M}*{control}*X*005010X221A1",
        *transaction,
        f"GE*1*{control}",
        f"IEA*1*{isa_control}",
    ]
    return "~\n".join(segments) + "~\n"
