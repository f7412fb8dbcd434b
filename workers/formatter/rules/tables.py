"""The code tables the rules read: MUE limits, place of service, therapy codes, KX thresholds.

They are data because CMS republishes them (MUE quarterly, the therapy code list and the
KX threshold yearly); a practice drops a new file in instead of waiting for a release.
Each loader takes the file's text, so the same parser serves package data and a path.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Literal

Discipline = Literal["PT_SLP", "OT"]
DISCIPLINES: tuple[Discipline, ...] = ("PT_SLP", "OT")

DATA_PACKAGE = "workers.formatter.data"


class TableError(ValueError):
    """A reference table that cannot be read; raised at load time, never while evaluating."""


@dataclass(frozen=True)
class MueLimit:
    code: str
    limit: int
    #: 1 = line edit, 2 = date-of-service edit (policy), 3 = date-of-service edit (clinical).
    adjudication_indicator: int
    rationale: str


@dataclass(frozen=True)
class TherapyCode:
    code: str
    timed: bool
    description: str


@dataclass(frozen=True)
class Tables:
    mue: Mapping[str, MueLimit] = field(default_factory=lambda: MappingProxyType({}))
    place_of_service: frozenset[str] = frozenset()
    therapy_codes: Mapping[str, TherapyCode] = field(default_factory=lambda: MappingProxyType({}))
    kx_thresholds: Mapping[tuple[int, Discipline], Decimal] = field(
        default_factory=lambda: MappingProxyType({})
    )
    #: kx_threshold's answers; the tables are immutable, so they never go stale.
    _kx_found: dict[tuple[int, Discipline], Decimal | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def kx_threshold(self, year: int, discipline: Discipline) -> Decimal | None:
        """The threshold for the year; a year not yet published uses the latest one before it.

        CMS publishes the next year's amount late in the year; carrying the last known
        amount forward is closer to the truth than switching the rule off on 1 January.
        """
        key = (year, discipline)
        if key in self._kx_found:
            return self._kx_found[key]
        known = [y for (y, d) in self.kx_thresholds if d == discipline and y <= year]
        found = self.kx_thresholds[(max(known), discipline)] if known else None
        self._kx_found[key] = found
        return found


def read_data_text(name: str) -> str:
    return resources.files(DATA_PACKAGE).joinpath(name).read_text(encoding="utf-8")


def read_text(name: str, base: Path | None) -> str:
    """A table named in a rule book: relative to the book's folder, else package data."""
    if base is not None:
        path = Path(name) if Path(name).is_absolute() else base / name
        return path.read_text(encoding="utf-8")
    return read_data_text(name)


def _rows(text: str, first_header: str) -> list[dict[str, str]]:
    """Rows after the header line whose first cell starts with `first_header`.

    CMS files open with copyright and notice lines before the header, so skip to it.
    """
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    rows: list[dict[str, str]] = []
    for cells in reader:
        if header is None:
            if cells and cells[0].strip().lower().startswith(first_header.lower()):
                header = [c.strip() for c in cells]
            continue
        if not any(c.strip() for c in cells):
            continue
        rows.append({h: (cells[i].strip() if i < len(cells) else "") for i, h in enumerate(header)})
    if header is None:
        raise TableError(f"no header row starting with {first_header!r}")
    return rows


def parse_mue(text: str) -> Mapping[str, MueLimit]:
    """Parse the CMS practitioner MUE layout: code, MUE value, adjudication indicator, rationale."""
    table: dict[str, MueLimit] = {}
    for row in _rows(text, "HCPCS"):
        values = list(row.values())
        code = values[0].upper()
        try:
            limit = int(values[1])
            indicator = int(values[2].split()[0]) if values[2] else 1
        except (ValueError, IndexError):
            raise TableError(f"MUE row for {code!r} has no whole-number limit/indicator") from None
        table[code] = MueLimit(code, limit, indicator, values[3] if len(values) > 3 else "")
    return MappingProxyType(table)


def parse_place_of_service(text: str) -> frozenset[str]:
    codes = {row["code"] for row in _rows(text, "code")}
    bad = sorted(c for c in codes if not (len(c) == 2 and c.isdigit()))
    if bad:
        raise TableError(f"place-of-service codes must be two digits: {bad}")
    return frozenset(codes)


def parse_therapy_codes(text: str) -> Mapping[str, TherapyCode]:
    table: dict[str, TherapyCode] = {}
    for row in _rows(text, "code"):
        code = row["code"].upper()
        timed = row.get("timed", "").upper()
        if timed not in ("Y", "N"):
            raise TableError(f"therapy code {code}: timed must be Y or N")
        table[code] = TherapyCode(code, timed == "Y", row.get("description", ""))
    return MappingProxyType(table)


def parse_kx_thresholds(text: str) -> Mapping[tuple[int, Discipline], Decimal]:
    table: dict[tuple[int, Discipline], Decimal] = {}
    for row in _rows(text, "year"):
        discipline = row["discipline"]
        if discipline not in DISCIPLINES:
            raise TableError(f"KX discipline must be one of {DISCIPLINES}, not {discipline!r}")
        try:
            year, amount = int(row["year"]), Decimal(row["threshold"])
        except (ValueError, InvalidOperation):
            raise TableError(f"KX row {row} has a bad year or threshold") from None
        table[(year, discipline)] = amount
    return MappingProxyType(table)


DEFAULT_TABLE_FILES: Mapping[str, str] = MappingProxyType(
    {
        "mue": "mue_practitioner.csv",
        "place_of_service": "place_of_service.csv",
        "therapy_codes": "therapy_codes.csv",
        "kx_thresholds": "kx_thresholds.csv",
    }
)


def load_tables(files: Mapping[str, str] | None = None, base: Path | None = None) -> Tables:
    """Load every table; a name missing from `files` falls back to the shipped one."""
    names = dict(DEFAULT_TABLE_FILES)
    unknown = set(files or {}) - set(names)
    if unknown:
        raise TableError(f"unknown tables {sorted(unknown)}; known: {sorted(names)}")
    names.update(files or {})

    def text(key: str) -> str:
        # A table the book does not override comes from the package, wherever the book is.
        if files is None or key not in files:
            return read_data_text(names[key])
        return read_text(names[key], base)

    return Tables(
        mue=parse_mue(text("mue")),
        place_of_service=parse_place_of_service(text("place_of_service")),
        therapy_codes=parse_therapy_codes(text("therapy_codes")),
        kx_thresholds=parse_kx_thresholds(text("kx_thresholds")),
    )
