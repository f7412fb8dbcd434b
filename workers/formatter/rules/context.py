"""What a rule may know besides the charge: today, the rule book, and history from storage.

Rules never query the database. The formatter's storage gathers the history for a whole
batch of charges in one query per kind (the key helpers below say what to look up, and
are the only ones: storage and the run key their rows with them too) and hands it in as
plain mappings; tests fill the same dataclass from literals. `History` is the formatter's
one history type: workers/formatter/history.py builds it, and layers a run's additions
over it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import TYPE_CHECKING

from contracts.charge import Charge, ChargePayer
from workers.formatter.rules.tables import Discipline

if TYPE_CHECKING:
    from workers.formatter.rules.config import PayerRules, RuleBook

#: (company_id, patient_id, service_date, procedure_code, sorted modifiers)
ClaimKey = tuple[str, str, dt.date, str, tuple[str, ...]]
#: (company_id, patient_id, calendar year, discipline)
TherapyKey = tuple[str, str, int, Discipline]

DISCIPLINE_MODIFIERS: Mapping[str, Discipline] = MappingProxyType(
    {"GP": "PT_SLP", "GN": "PT_SLP", "GO": "OT"}
)


def _empty() -> Mapping[object, object]:
    return MappingProxyType({})


@dataclass(frozen=True)
class BillState:
    """A bill as the formatter needs to see it."""

    rejected: bool
    #: charge_id -> the last version of that charge sent on this bill.
    sent_versions: Mapping[str, int] = field(default_factory=_empty)  # type: ignore[arg-type]


@dataclass(frozen=True)
class History:
    """Facts from earlier runs. Every mapping may hold more than the batch needs."""

    #: claim_key(charge) -> the charge_id whose claim used that key (DUPLICATE_CHARGE).
    claimed_keys: Mapping[ClaimKey, str] = field(default_factory=_empty)  # type: ignore[arg-type]
    #: therapy_key(charge) -> therapy amount billed so far that year, this charge excluded
    #: (KX_MODIFIER_REQUIRED).
    therapy_ytd: Mapping[TherapyKey, Decimal] = field(default_factory=_empty)  # type: ignore[arg-type]
    #: bill_id -> its state (BILL_REJECTED, ALREADY_BILLED).
    bills: Mapping[str, BillState] = field(default_factory=_empty)  # type: ignore[arg-type]
    #: charge_id -> the bill a claim for it was sent on, for charges that do not name
    #: their bill_id themselves.
    charge_bills: Mapping[str, str] = field(default_factory=_empty)  # type: ignore[arg-type]


@dataclass(frozen=True)
class RuleContext:
    today: dt.date
    book: RuleBook
    history: History = field(default_factory=History)

    def rules(self, charge: Charge) -> PayerRules:
        """The settings that govern the charge: its primary payer's."""
        return self.book.rules_for_charge(charge)

    def rules_for_payer(self, payer: ChargePayer) -> PayerRules:
        return self.book.rules_for_payer(payer)


def normalized_modifiers(charge: Charge) -> tuple[str, ...]:
    return tuple(sorted([m.strip().upper() for m in charge.modifiers]))


def claim_key(charge: Charge) -> ClaimKey | None:
    """The DUPLICATE_CHARGE key, or None when the charge lacks a date or code to key on."""
    if charge.service_date is None or not charge.procedure_code:
        return None
    return (
        charge.company_id,
        charge.patient.id,
        charge.service_date,
        charge.procedure_code,
        normalized_modifiers(charge),
    )


_DISCIPLINE_OF: dict[str, Discipline] = dict(DISCIPLINE_MODIFIERS)


def discipline(charge: Charge) -> Discipline | None:
    """PT_SLP or OT from the line's therapy modifier; None when absent or conflicting."""
    return discipline_of(charge.modifiers)


def discipline_of(modifiers: Iterable[str]) -> Discipline | None:
    """The discipline of a line's modifiers (a charge's, or a stored claim line's); None
    when absent or conflicting."""
    found: Discipline | None = None
    for m in modifiers:
        kind = _DISCIPLINE_OF.get(m)
        if kind is not None:
            if found is not None and kind != found:
                return None
            found = kind
    return found


def therapy_key(charge: Charge) -> TherapyKey | None:
    """The KX year-to-date key, or None when the charge lacks a date or discipline."""
    kind = discipline(charge)
    if charge.service_date is None or kind is None:
        return None
    return (charge.company_id, charge.patient.id, charge.service_date.year, kind)


def bill_of(charge: Charge, history: History) -> str | None:
    """The bill the charge belongs to: the one it names, else the one it was sent on."""
    return charge.bill_id or history.charge_bills.get(charge.charge_id)
