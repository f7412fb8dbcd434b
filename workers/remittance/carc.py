"""Words for the codes an 835 carries: adjustment groups, CARCs, RARCs and PLB reasons.

The table is data (`data/adjustment_codes.csv`: kind, code, description), the short form
of the code lists X12 publishes, so a biller reads "CO-45: Charge exceeds fee schedule..."
on a ledger line instead of a bare number. A code missing from the table is still shown,
as itself with "(no description on file)", never dropped.
"""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources

UNKNOWN = "(no description on file)"


@cache
def table() -> dict[tuple[str, str], str]:
    text = resources.files("workers.remittance.data").joinpath("adjustment_codes.csv").read_text("utf-8")
    return {(row["kind"], row["code"]): row["description"] for row in csv.DictReader(text.splitlines())}


def describe(kind: str, code: str) -> str:
    return table().get((kind, code), UNKNOWN)


def adjustment(group: str, reason: str) -> str:
    """ "CO", "45" -> "CO-45: Charge exceeds fee schedule/maximum allowable or ..." """
    return f"{group}-{reason}: {describe('carc', reason)}"


def remark(code: str) -> str:
    return f"{code}: {describe('rarc', code)}"


def provider_adjustment(reason: str) -> str:
    return f"{reason}: {describe('plb', reason)}"
