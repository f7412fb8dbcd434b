"""A correction may not point a charge at another company's practice, location, patient or bill.

Pure: storage finds which of the named ids the company owns, this decides. What "belongs to
the company" means, from the data the pipeline keeps:
- a practice, location or patient id belongs to the company when a charge of that company
  that the formatter handled (`formatter_charges`, any outcome) names it;
- a bill id belongs to it when the formatter opened a claim for that bill in the company
  (`claims`).
An id the company has never used is refused like another company's: ids are not unique
across the companies' systems, and a new practice, location, patient or bill first arrives
from the EHR, never as a biller's correction. Only a reference a correction changes is
checked, and setting one to null (no practice, no bill) names nobody's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set

from contracts import Charge
from workers.reprocess.corrections import CorrectionError

#: The references a charge makes, by the dotted path a correction names them with.
NOUNS = {
    "practice_id": "practice",
    "location_id": "location",
    "patient.id": "patient",
    "bill_id": "bill",
}

#: Per reference path, the ids (among those asked about) that the company owns.
Owned = Mapping[str, Set[str]]


def references(charge: Charge) -> dict[str, str | None]:
    return {
        "practice_id": charge.practice_id,
        "location_id": charge.location_id,
        "patient.id": charge.patient.id,
        "bill_id": charge.bill_id,
    }


def changed_references(original: Charge, corrected: Charge) -> dict[str, str]:
    """The references the correction changed to another id (whichever path changed them)."""
    before, after = references(original), references(corrected)
    return {path: value for path, value in after.items() if value is not None and value != before[path]}


def wanted(changes: Iterable[Mapping[str, str]]) -> dict[str, set[str]]:
    """Per reference path, every id to look up."""
    out: dict[str, set[str]] = {}
    for changed in changes:
        for path, value in changed.items():
            out.setdefault(path, set()).add(value)
    return out


def foreign(changed: Mapping[str, str], owned: Owned) -> list[CorrectionError]:
    """One error per changed reference the company does not own; never echoes the id."""
    return [
        CorrectionError(path, f"names a {NOUNS[path]} that is not one of this company's")
        for path, value in sorted(changed.items())
        if value not in owned.get(path, ())
    ]
