"""The formatter's history as a run uses it: built from storage, layered, changed. Pure.

There is one history type, the rules' `History` (rules/context.py): what earlier runs
claimed, the therapy billed so far each year, each bill's state and the bill each charge
was sent on. Storage builds it with `history_of`; a run never changes it. While a run
decides, its rules see `layered(history, changes)`: the stored history with what the run
has passed so far on top, so two copies of one service in one run are caught as
duplicates and a patient's therapy total grows line by line. The run returns its
`HistoryChanges`; `applied` gives the history they lead to.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from contracts import Charge
from workers.formatter.rules.context import BillState, ClaimKey, History, TherapyKey, claim_key, therapy_key

__all__ = [
    "History",
    "HistoryChanges",
    "SentLine",
    "applied",
    "history_of",
    "layered",
    "record_passed",
    "record_sent",
    "replaces_bill",
]

ZERO = Decimal("0.00")

K = TypeVar("K")
V = TypeVar("V")
_MISSING: Any = object()


class _Layered(Mapping[K, V]):
    """`top` over `base`, read-only and live. Not a ChainMap: its `in` and `get` go
    through a generator over its maps, a third of a run's time in the rules' look-ups."""

    __slots__ = ("base", "top")

    def __init__(self, top: Mapping[K, V], base: Mapping[K, V]) -> None:
        self.top = top
        self.base = base

    def __getitem__(self, key: K) -> V:
        found = self.top.get(key, _MISSING)
        return self.base[key] if found is _MISSING else found

    def get(self, key: K, default: Any = None) -> Any:
        found = self.top.get(key, _MISSING)
        return self.base.get(key, default) if found is _MISSING else found

    def __contains__(self, key: object) -> bool:
        return key in self.top or key in self.base

    def __iter__(self) -> Iterator[K]:
        return iter(self.top.keys() | self.base.keys())

    def __len__(self) -> int:
        return len(self.top.keys() | self.base.keys())


@dataclass(frozen=True, slots=True)
class SentLine:
    bill_id: str
    version: int


@dataclass
class HistoryChanges:
    """What a run adds to the history."""

    #: claim_key -> the charge id passed with it in this run.
    claimed: dict[ClaimKey, str] = field(default_factory=dict)
    #: therapy_key -> the year's total once this run's lines are counted.
    therapy_ytd: dict[TherapyKey, Decimal] = field(default_factory=dict)
    #: charge_id -> the bill and version it was sent on in this run (that bill is no
    #: longer rejected: a replacement claim clears a Rejection).
    sent: dict[str, SentLine] = field(default_factory=dict)


def history_of(
    claimed: Mapping[ClaimKey, str],
    therapy_ytd: Mapping[TherapyKey, Decimal],
    sent: Mapping[str, SentLine],
    rejected: Mapping[str, bool],
) -> History:
    """The history of stored facts: lines sent (charge -> bill and version) and bills'
    Rejected status, keyed as the rules look them up."""
    lines: dict[str, dict[str, int]] = {}
    for charge_id, line in sent.items():
        lines.setdefault(line.bill_id, {})[charge_id] = line.version
    bills = {
        bill_id: BillState(rejected=rejected.get(bill_id, False), sent_versions=lines.get(bill_id, {}))
        for bill_id in lines.keys() | rejected.keys()
    }
    return History(
        claimed_keys=claimed,
        therapy_ytd=therapy_ytd,
        bills=bills,
        charge_bills={charge_id: line.bill_id for charge_id, line in sent.items()},
    )


def layered(history: History, changes: HistoryChanges) -> History:
    """`history` with `changes` on top, live: it sees what is added to `changes` later."""
    return History(
        claimed_keys=_Layered(changes.claimed, history.claimed_keys),
        therapy_ytd=_Layered(changes.therapy_ytd, history.therapy_ytd),
        bills=history.bills,
        charge_bills=history.charge_bills,
    )


def replaces_bill(history: History, charge: Charge) -> str | None:
    """The rejected bill this charge is a correction for, if it is one: a newer version
    of a charge sent on a bill now in Rejected status."""
    bill_id = history.charge_bills.get(charge.charge_id)
    if bill_id is None:
        return None
    state = history.bills.get(bill_id)
    if state is None or not state.rejected:
        return None
    sent = state.sent_versions.get(charge.charge_id)
    return bill_id if sent is not None and charge.version > sent else None


def record_passed(changes: HistoryChanges, seen: History, charge: Charge) -> None:
    """Count a charge that will be claimed in this run, before its claim exists (`seen`
    is the run's layered history)."""
    key = claim_key(charge)
    if key is not None:
        changes.claimed[key] = charge.charge_id
    ytd = therapy_key(charge)
    if ytd is not None and charge.amount is not None:
        changes.therapy_ytd[ytd] = seen.therapy_ytd.get(ytd, ZERO) + charge.amount


def record_sent(changes: HistoryChanges, charge_id: str, version: int, bill_id: str) -> None:
    changes.sent[charge_id] = SentLine(bill_id, version)


def applied(history: History, changes: HistoryChanges) -> History:
    """The history after `changes`: a line sent on another bill moves there, and a bill a
    line was sent on is not rejected."""
    charge_bills = dict(history.charge_bills)
    lines = {bill_id: dict(state.sent_versions) for bill_id, state in history.bills.items()}
    rejected = {bill_id: state.rejected for bill_id, state in history.bills.items()}
    emptied: set[str] = set()
    for charge_id, line in changes.sent.items():
        old = charge_bills.get(charge_id)
        if old is not None and old != line.bill_id and old in lines:
            lines[old].pop(charge_id, None)
            if not lines[old]:
                emptied.add(old)
        charge_bills[charge_id] = line.bill_id
        lines.setdefault(line.bill_id, {})[charge_id] = line.version
        rejected[line.bill_id] = False
    bills = {
        bill_id: BillState(rejected=rejected.get(bill_id, False), sent_versions=sent)
        for bill_id, sent in lines.items()
        if sent or bill_id not in emptied or rejected.get(bill_id, False)
    }
    return History(
        claimed_keys={**history.claimed_keys, **changes.claimed},
        therapy_ytd={**history.therapy_ytd, **changes.therapy_ytd},
        bills=bills,
        charge_bills=charge_bills,
    )
