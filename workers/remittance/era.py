"""Read an X12 835 remittance advice (005010X221A1) into plain values, and check it balances.

pyx12 parses the file and validates it against its 835 map (segments, loops, codes,
element lengths, the envelope's counts); any error it reports refuses the file whole, with
its words. The segments it walked are then read into `Era` values: one per transaction
set (ST..SE), each one payer's payment (BPR) with its trace number (TRN02), its claim
payments (CLP with their CAS, SVC and remark codes) and its provider-level adjustments
(PLB). Nothing here touches a database or the broker.

Balancing (`balance_problems`), each a reason to refuse the file:
- BPR02 = sum of CLP04 - sum of PLB amounts (PLB amounts are positive when they take
  money from the provider, negative for interest paid);
- per claim: CLP03 - CLP04 = sum of its CAS amounts (claim and service-line level);
- per service line: SVC02 - SVC03 = sum of the line's CAS amounts.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import pyx12.params
import pyx12.x12n_document

ZERO = Decimal("0.00")
CENT = Decimal("0.01")

#: pyx12 logs every validation error itself; the reasons are collected and reported here.
logging.getLogger("pyx12").setLevel(logging.CRITICAL)


class EraRefused(ValueError):
    """An 835 that is not used at all: it does not validate or does not balance."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Cas:
    """One adjustment: group (CO, PR, OA, PI), reason code (CARC) and amount."""

    group: str
    reason: str
    amount: Decimal

    @property
    def label(self) -> str:
        return f"{self.group}-{self.reason}"


@dataclass(frozen=True, slots=True)
class ServiceLine:
    procedure: str
    charge: Decimal
    paid: Decimal
    units: str
    adjustments: tuple[Cas, ...] = ()
    remarks: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ClaimPayment:
    #: Position in the ERA (1-based), which keeps a claim payment's identity stable.
    index: int
    claim_id: str
    status: str
    charge: Decimal
    paid: Decimal
    patient_responsibility: Decimal
    payer_claim_number: str
    adjustments: tuple[Cas, ...] = ()
    lines: tuple[ServiceLine, ...] = ()
    remarks: tuple[str, ...] = ()

    @property
    def all_adjustments(self) -> tuple[Cas, ...]:
        """Claim-level then service-line CAS, in file order."""
        return self.adjustments + tuple(a for line in self.lines for a in line.adjustments)

    @property
    def all_remarks(self) -> tuple[str, ...]:
        seen = dict.fromkeys(self.remarks + tuple(r for line in self.lines for r in line.remarks))
        return tuple(seen)


@dataclass(frozen=True, slots=True)
class ProviderAdjustment:
    reason: str
    reference: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Era:
    payer_id: str
    payer_name: str
    trace: str
    total: Decimal
    method: str
    paid_on: dt.date | None
    payee_id: str
    claims: tuple[ClaimPayment, ...] = ()
    provider_adjustments: tuple[ProviderAdjustment, ...] = ()

    @property
    def key(self) -> str:
        """What makes an ERA itself: the payer and its trace (check or EFT) number."""
        return f"{self.payer_id}:{self.trace}"

    @property
    def claims_paid(self) -> Decimal:
        return sum((c.paid for c in self.claims), ZERO)

    @property
    def provider_adjustment_total(self) -> Decimal:
        return sum((a.amount for a in self.provider_adjustments), ZERO)


Segment = tuple[str, str, list[Any]]  # (segment id, loop id, elements; a composite is a list)


def read_eras(text: str) -> list[Era]:
    """Every ERA in `text` (one per ST..SE), validated by pyx12 and balanced, else `EraRefused`."""
    segments = _validated_segments(text)
    eras = [_read_transaction(t) for t in _transactions(segments)]
    if not eras:
        raise EraRefused("the file holds no 835 transaction set")
    problems = [
        f"ERA {era.trace}: {p}" if len(eras) > 1 else p for era in eras for p in balance_problems(era)
    ]
    if problems:
        raise EraRefused("the 835 does not balance: " + "; ".join(problems[:10]))
    return eras


def balance_problems(era: Era) -> list[str]:
    problems: list[str] = []
    expected = era.claims_paid - era.provider_adjustment_total
    if era.total != expected:
        problems.append(
            f"BPR02 {era.total} is not the claims paid {era.claims_paid} less the provider "
            f"adjustments {era.provider_adjustment_total} (= {expected})"
        )
    for claim in era.claims:
        adjusted = sum((a.amount for a in claim.all_adjustments), ZERO)
        if claim.charge - claim.paid != adjusted:
            problems.append(
                f"claim {claim.claim_id}: charge {claim.charge} - paid {claim.paid} is not the "
                f"adjustments {adjusted}"
            )
        for n, line in enumerate(claim.lines, start=1):
            line_adjusted = sum((a.amount for a in line.adjustments), ZERO)
            if line.charge - line.paid != line_adjusted:
                problems.append(
                    f"claim {claim.claim_id} line {n} ({line.procedure}): charge {line.charge} - "
                    f"paid {line.paid} is not the adjustments {line_adjusted}"
                )
    return problems


# --- pyx12 -----------------------------------------------------------------------------------


def _validated_segments(text: str) -> list[Segment]:
    if not text.lstrip().startswith("ISA"):
        raise EraRefused("not an X12 file: it does not begin with an ISA segment")
    segments: list[Segment] = []

    def collect(seg: Any, _src: Any, node: Any, _valid: bool) -> None:
        loop = node.get_parent().id if node is not None and node.get_parent() is not None else ""
        elements = [_element(seg.get(f"{seg.get_seg_id()}{i:02d}")) for i in range(1, len(seg) + 1)]
        segments.append((seg.get_seg_id() or "", loop or "", elements))

    errors = io.StringIO()
    try:
        valid = pyx12.x12n_document.x12n_document(
            pyx12.params.ParamsBase(), io.StringIO(text), None, None, fd_json=errors, callback=collect
        )
    except Exception as exc:  # pyx12 raises on what it cannot walk at all
        raise EraRefused(f"the 835 could not be read: {type(exc).__name__}: {str(exc)[:200]}") from None
    if not valid:
        found = list(_errors(errors.getvalue()))
        detail = "; ".join(found[:8]) or "pyx12 refused the file"
        more = f" (and {len(found) - 8} more)" if len(found) > 8 else ""
        raise EraRefused(f"the 835 does not validate against 005010X221A1: {detail}{more}")
    if not any(s[0] == "ST" for s in segments) or not any(
        s[0] == "GS" and len(s[2]) >= 8 and str(s[2][7]).startswith("005010X221") for s in segments
    ):
        raise EraRefused("not an 835 remittance (GS08 is not 005010X221A1)")
    return segments


def _element(value: Any) -> Any:
    if value is None:
        return ""
    if value.is_composite():
        return [value[i].get_value() for i in range(len(value))]
    return value.get_value()


def _errors(report: str) -> Iterator[str]:
    try:
        doc = json.loads(report)
    except ValueError:
        return

    def walk(node: Any, where: str) -> Iterator[str]:
        if isinstance(node, dict):
            if node.get("seg_id"):
                where = f"{node['seg_id']} (segment {node.get('seg_count')}, line {node.get('cur_line')})"
            elif node.get("cur_line") is not None and "ele_pos" not in node:
                where = f"line {node['cur_line']}"
            for err in node.get("errors") or ():
                yield f"{where}: {err.get('err_str', '')}"
            for value in node.values():
                if isinstance(value, list | dict):
                    yield from walk(value, where)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item, where)

    yield from walk(doc, "the file")


# --- segments -> values -------------------------------------------------------------------------


def _transactions(segments: list[Segment]) -> Iterator[list[Segment]]:
    current: list[Segment] | None = None
    for seg in segments:
        if seg[0] == "ST":
            current = []
        elif seg[0] == "SE" and current is not None:
            yield current
            current = None
        elif current is not None:
            current.append(seg)


def _get(elements: list[Any], n: int) -> str:
    value = elements[n - 1] if len(elements) >= n else ""
    return value if isinstance(value, str) else ":".join(value)


def _money(text: str, what: str) -> Decimal:
    try:
        value = Decimal(text or "0")
    except InvalidOperation:
        raise EraRefused(f"{what} {text[:20]!r} is not an amount") from None
    if value != value.quantize(CENT):
        raise EraRefused(f"{what} {text} has more than two decimal places")
    return value.quantize(CENT)


def _cas(elements: list[Any]) -> list[Cas]:
    group = _get(elements, 1)
    found = []
    for start in range(2, 19, 3):  # CAS02/03, 05/06, ... 17/18
        reason = _get(elements, start)
        if reason:
            found.append(Cas(group, reason, _money(_get(elements, start + 1), f"CAS {group}-{reason}")))
    return found


@dataclass
class _Claim:
    index: int
    elements: list[Any]
    adjustments: list[Cas] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)
    lines: list[_Line] = field(default_factory=list)

    def freeze(self) -> ClaimPayment:
        e = self.elements
        return ClaimPayment(
            index=self.index,
            claim_id=_get(e, 1),
            status=_get(e, 2),
            charge=_money(_get(e, 3), "CLP03"),
            paid=_money(_get(e, 4), "CLP04"),
            patient_responsibility=_money(_get(e, 5), "CLP05"),
            payer_claim_number=_get(e, 7),
            adjustments=tuple(self.adjustments),
            lines=tuple(line.freeze() for line in self.lines),
            remarks=tuple(self.remarks),
        )


@dataclass
class _Line:
    elements: list[Any]
    adjustments: list[Cas] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)

    def freeze(self) -> ServiceLine:
        e = self.elements
        procedure = e[0] if e else ""
        code = procedure[1] if isinstance(procedure, list) and len(procedure) > 1 else str(procedure)
        return ServiceLine(
            procedure=code,
            charge=_money(_get(e, 2), "SVC02"),
            paid=_money(_get(e, 3), "SVC03"),
            units=_get(e, 5) or "1",
            adjustments=tuple(self.adjustments),
            remarks=tuple(self.remarks),
        )


def _read_transaction(segments: list[Segment]) -> Era:
    header: dict[str, list[Any]] = {}
    payer: list[Any] = []
    payee: list[Any] = []
    claims: list[_Claim] = []
    plb: list[ProviderAdjustment] = []
    for seg_id, loop, e in segments:
        if loop == "HEADER" and seg_id in ("BPR", "TRN"):
            header.setdefault(seg_id, e)
        elif loop == "1000A" and seg_id == "N1":
            payer = e
        elif loop == "1000B" and seg_id == "N1":
            payee = e
        elif seg_id == "CLP":
            claims.append(_Claim(len(claims) + 1, e))
        elif loop == "2100" and claims:
            if seg_id == "CAS":
                claims[-1].adjustments.extend(_cas(e))
            elif seg_id in ("MOA", "MIA"):
                # Remark codes: MOA03-07, MIA05 and MIA20-24 (inpatient).
                positions = range(3, 8) if seg_id == "MOA" else (5, 20, 21, 22, 23, 24)
                claims[-1].remarks.extend(c for n in positions if (c := _get(e, n)))
        elif seg_id == "SVC" and claims:
            claims[-1].lines.append(_Line(e))
        elif loop == "2110" and claims and claims[-1].lines:
            if seg_id == "CAS":
                claims[-1].lines[-1].adjustments.extend(_cas(e))
            elif seg_id == "LQ" and _get(e, 1) == "HE":
                claims[-1].lines[-1].remarks.append(_get(e, 2))
        elif seg_id == "PLB":
            plb.extend(_plb(e))
    bpr = header.get("BPR", [])
    trn = header.get("TRN", [])
    paid_on = _get(bpr, 16)
    return Era(
        payer_id=_get(payer, 4) or _get(trn, 3) or _get(payer, 2),
        payer_name=_get(payer, 2),
        trace=_get(trn, 2),
        total=_money(_get(bpr, 2), "BPR02"),
        method=_get(bpr, 4),
        paid_on=dt.datetime.strptime(paid_on, "%Y%m%d").date() if paid_on else None,
        payee_id=_get(payee, 4),
        claims=tuple(c.freeze() for c in claims),
        provider_adjustments=tuple(plb),
    )


def _plb(elements: list[Any]) -> list[ProviderAdjustment]:
    found = []
    for start in range(3, 15, 2):  # PLB03/04 .. PLB13/14
        reason = elements[start - 1] if len(elements) >= start else ""
        if not reason:
            continue
        parts = reason if isinstance(reason, list) else [reason]
        found.append(
            ProviderAdjustment(
                reason=parts[0],
                reference=parts[1] if len(parts) > 1 else "",
                amount=_money(_get(elements, start + 1), f"PLB {parts[0]}"),
            )
        )
    return found
