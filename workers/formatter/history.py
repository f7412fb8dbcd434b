"""What the rules need to know about the past, loaded once per run (pure data, no I/O).

The handler fills a `History` from SQL in a few batch queries; the run updates it as charges
pass, so that two copies of one service in the same run are caught as duplicates and a
patient's therapy total grows line by line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from contracts import Charge
from workers.formatter.rules import context as rules_context

DupKey = tuple[str, str, dt.date, str, tuple[str, ...]]
YtdKey = tuple[str, str, int, str]

ZERO = Decimal("0.00")

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
    #: bill_id -> {charge_id: version} of `sent`, so a bill's lines are found without a
    #: scan of every sent line. Kept in step by `set_sent`; change `sent` only through it.
    by_bill: dict[str, dict[str, int]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.by_bill = {}
        for charge_id, line in self.sent.items():
            self.by_bill.setdefault(line.bill_id, {})[charge_id] = line.version

    def set_sent(self, charge_id: str, line: SentLine) -> None:
        old = self.sent.get(charge_id)
        if old is not None and old.bill_id != line.bill_id:
            lines = self.by_bill.get(old.bill_id)
            if lines is not None:
                lines.pop(charge_id, None)
                if not lines:
                    del self.by_bill[old.bill_id]
        self.sent[charge_id] = line
        lines = self.by_bill.get(line.bill_id)
        if lines is None:
            self.by_bill[line.bill_id] = {charge_id: line.version}
        else:
            lines[charge_id] = line.version

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
            self.therapy_ytd[ytd] = self.therapy_ytd.get(ytd, ZERO) + charge.amount

    def record_sent(self, charge_id: str, version: int, bill_id: str) -> None:
        self.set_sent(charge_id, SentLine(bill_id, version))
        self.bill_rejected[bill_id] = False


class _BillView(Mapping[str, "rules_context.BillState"]):
    """The rules' view of bills, computed from the run's live history on each look-up, so
    charges claimed earlier in the same run count."""

    def __init__(self, history: History) -> None:
        self._h = history

    def __getitem__(self, bill_id: str) -> rules_context.BillState:
        found = self.get(bill_id)
        if found is None:
            raise KeyError(bill_id)
        return found

    def get(self, bill_id: str, default: Any = None) -> Any:
        # Mapping.get would go through __getitem__ and a KeyError for every unknown bill.
        lines = self._h.by_bill.get(bill_id)
        rejected = self._h.bill_rejected
        if bill_id not in rejected and not lines:
            return default
        return rules_context.BillState(rejected=rejected.get(bill_id, False), sent_versions=dict(lines or {}))

    def __iter__(self) -> Iterator[str]:
        return iter({b for b, lines in self._h.by_bill.items() if lines} | set(self._h.bill_rejected))

    def __len__(self) -> int:
        return len(set(self))


class _ChargeBills(Mapping[str, str]):
    def __init__(self, history: History) -> None:
        self._h = history

    def __getitem__(self, charge_id: str) -> str:
        return self._h.sent[charge_id].bill_id

    def get(self, charge_id: str, default: Any = None) -> Any:
        # Mapping.get would raise and catch a KeyError for every charge never sent.
        line = self._h.sent.get(charge_id)
        return default if line is None else line.bill_id

    def __iter__(self) -> Iterator[str]:
        return iter(self._h.sent)

    def __len__(self) -> int:
        return len(self._h.sent)


def rule_history(history: History) -> rules_context.History:
    """The rules' read-only view of this run's history (live: it sees later updates)."""
    return rules_context.History(
        claimed_keys=history.claimed,
        therapy_ytd=history.therapy_ytd,  # type: ignore[arg-type]
        bills=_BillView(history),
        charge_bills=_ChargeBills(history),
    )
