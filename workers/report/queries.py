"""The Failed Charges report's queries: a search turned into SQLAlchemy Core statements.

Pure: nothing here touches a connection. `storage.py` runs these statements; the API and
the CLI build a `Search` and get the same rows either way.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, get_args

from sqlalchemy import ColumnElement, Select, and_, exists, func, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import UnaryExpression

from workers.formatter import read as t

Status = Literal["open", "reprocessing", "resolved", "all"]
DateField = Literal["oldest", "last"]
GroupBy = Literal["reason", "practice", "location", "payer", "run", "procedure"]
#: Fields a charge may lack: `missing=practice` finds the charges without one (the group
#: whose key is null when grouped by practice).
Blank = Literal["practice", "location", "payer", "procedure"]

STATUSES: tuple[str, ...] = get_args(Status)
GROUPS: tuple[str, ...] = get_args(GroupBy)
BLANKS: tuple[str, ...] = get_args(Blank)
MAX_LIMIT = 500

f = t.failures
r = t.failure_reasons

#: Result columns a biller may sort by; the API names them as the response does.
SORTABLE: dict[str, Any] = {
    "charge_id": f.c.charge_id,
    "patient_name": f.c.patient_name,
    "patient_id": f.c.patient_id,
    "practice_id": f.c.practice_id,
    "location_id": f.c.location_id,
    "service_date": f.c.service_date,
    "procedure_code": f.c.procedure_code,
    "amount": f.c.amount,
    "payer_name": f.c.payer_name,
    "run_number": f.c.run_number,
    "oldest_failure_date": f.c.oldest_failure_date,
    "last_failure_date": f.c.last_failure_date,
    "failure_count": f.c.failure_count,
    "status": f.c.status,
}
DEFAULT_SORT = (("oldest_failure_date", False),)

#: The column each blankable field is stored in.
BLANK_COLUMNS: dict[str, Any] = {
    "practice": f.c.practice_id,
    "location": f.c.location_id,
    "payer": f.c.payer_name,
    "procedure": f.c.procedure_code,
}


class SearchError(ValueError):
    """A search a biller typed that cannot run (unknown sort column, reversed dates)."""


@dataclass(frozen=True)
class Search:
    """One search of the report. `company_id` is always set: callers resolve the default."""

    company_id: str
    practice_id: str | None = None
    location_id: str | None = None
    run_number: int | None = None
    failure_code: str | None = None
    payer_name: str | None = None
    procedure_code: str | None = None
    failed_from: dt.date | None = None
    failed_to: dt.date | None = None
    date_field: DateField = "oldest"
    service_from: dt.date | None = None
    service_to: dt.date | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    missing: tuple[Blank, ...] = ()
    status: Status = "open"
    charge_ids: tuple[str, ...] = ()
    sort: tuple[tuple[str, bool], ...] = DEFAULT_SORT  # (column, descending)
    limit: int = 50
    offset: int = 0

    def __post_init__(self) -> None:
        if self.failed_from and self.failed_to and self.failed_from > self.failed_to:
            raise SearchError("failed_from is after failed_to")
        if self.service_from and self.service_to and self.service_from > self.service_to:
            raise SearchError("service_from is after service_to")
        if self.amount_min is not None and self.amount_max is not None and self.amount_min > self.amount_max:
            raise SearchError("amount_min is more than amount_max")
        given = {
            "practice": self.practice_id,
            "location": self.location_id,
            "payer": self.payer_name,
            "procedure": self.procedure_code,
        }
        for blank in self.missing:
            if blank not in BLANKS:
                raise SearchError(f"missing must be among {', '.join(BLANKS)}")
            if given[blank] is not None:
                raise SearchError(f"{blank} is given and asked to be missing; choose one")
        if self.status not in STATUSES:
            raise SearchError(f"status must be one of {', '.join(STATUSES)}")
        for name, _ in self.sort:
            if name not in SORTABLE:
                raise SearchError(f"cannot sort by {name!r}; choose one of {', '.join(SORTABLE)}")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise SearchError(f"limit must be between 1 and {MAX_LIMIT}")
        if self.offset < 0:
            raise SearchError("offset must not be negative")


@dataclass(frozen=True)
class Page:
    total: int
    limit: int
    offset: int
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def next_offset(self) -> int | None:
        following = self.offset + self.limit
        return following if following < self.total else None


def parse_sort(text: str | None) -> tuple[tuple[str, bool], ...]:
    """'-amount,oldest_failure_date' -> (('amount', True), ('oldest_failure_date', False))."""
    if not text or not text.strip():
        return DEFAULT_SORT
    keys: list[tuple[str, bool]] = []
    for part in text.split(","):
        name = part.strip()
        descending = name.startswith("-")
        name = name.lstrip("+-").strip()
        if name not in SORTABLE:
            raise SearchError(f"cannot sort by {name!r}; choose one of {', '.join(SORTABLE)}")
        keys.append((name, descending))
    return tuple(keys)


def conditions(search: Search) -> list[ColumnElement[bool]]:
    """WHERE clauses over `charge_failures` for a search (the company always among them)."""
    where: list[ColumnElement[bool]] = [f.c.company_id == search.company_id]
    if search.status != "all":
        where.append(f.c.status == search.status)
    if search.practice_id is not None:
        where.append(f.c.practice_id == search.practice_id)
    if search.location_id is not None:
        where.append(f.c.location_id == search.location_id)
    if search.run_number is not None:
        where.append(f.c.run_number == search.run_number)
    if search.payer_name is not None:
        where.append(func.lower(f.c.payer_name) == search.payer_name.lower())
    if search.procedure_code is not None:
        where.append(f.c.procedure_code == search.procedure_code.upper())
    if search.failure_code is not None:
        where.append(
            exists().where(and_(r.c.charge_id == f.c.charge_id, r.c.code == search.failure_code.upper()))
        )
    date_col = f.c.oldest_failure_date if search.date_field == "oldest" else f.c.last_failure_date
    if search.failed_from is not None:
        where.append(date_col >= search.failed_from)
    if search.failed_to is not None:
        where.append(date_col <= search.failed_to)
    if search.service_from is not None:
        where.append(f.c.service_date >= search.service_from)
    if search.service_to is not None:
        where.append(f.c.service_date <= search.service_to)
    if search.amount_min is not None:
        where.append(f.c.amount >= search.amount_min)
    if search.amount_max is not None:
        where.append(f.c.amount <= search.amount_max)
    for name in dict.fromkeys(search.missing):
        where.append(BLANK_COLUMNS[name].is_(None))
    if search.charge_ids:
        where.append(f.c.charge_id.in_(search.charge_ids))
    return where


def _key(name: str, descending: bool) -> Any:
    column = SORTABLE[name]
    key = column.desc() if descending else column.asc()
    # NULLS LAST only where a NULL can be: on a NOT NULL column it changes no order, and a
    # NULLS clause that is not the database's own default for the direction keeps it from
    # reading an index in order (SQLite: ASC NULLS LAST; PostgreSQL: DESC NULLS LAST).
    return key.nulls_last() if column.nullable else key


def order_by(sort: tuple[tuple[str, bool], ...]) -> list[UnaryExpression[Any]]:
    """The sort keys, NULLs last either way (SQLite and PostgreSQL disagree otherwise), then
    charge_id so that pages never overlap or skip a row between equal keys."""
    keys = [_key(name, descending) for name, descending in sort]
    if "charge_id" not in {name for name, _ in sort}:
        keys.append(f.c.charge_id.asc())
    return keys


def rows_statement(search: Search) -> Select[Any]:
    """One page of failed charges."""
    return (
        select(f)
        .where(*conditions(search))
        .order_by(*order_by(search.sort))
        .limit(search.limit)
        .offset(search.offset)
    )


def count_statement(search: Search) -> Select[Any]:
    return select(func.count()).select_from(f).where(*conditions(search))


def totals_statement(search: Search) -> Select[Any]:
    """How many charges the whole search found and what they add up to."""
    return select(
        func.count().label("charges"), func.coalesce(func.sum(f.c.amount), 0).label("amount")
    ).where(*conditions(search))


def reasons_statement(charge_ids: list[str]) -> Select[Any]:
    return (
        select(r.c.charge_id, r.c.code, r.c.message, r.c.field, r.c.severity)
        .where(r.c.charge_id.in_(charge_ids))
        .order_by(r.c.charge_id, r.c.position)
    )


GROUP_COLUMNS: dict[str, Any] = {
    "practice": f.c.practice_id,
    "location": f.c.location_id,
    "payer": f.c.payer_name,
    "run": f.c.run_number,
    "procedure": f.c.procedure_code,
}


def group_statement(search: Search, by: GroupBy) -> Select[Any]:
    """Counts and amounts per group. Grouped by reason, a charge failing two rules counts in
    both groups, once each (a rule that failed twice on one charge is still one charge)."""
    where = conditions(search)
    if by == "reason":
        # Each (charge, code) once, by the code's first position on the charge: a probe in
        # the (charge_id, code, position) index beside the join, where a DISTINCT over the
        # pairs sorted them all (twice the time at a million failures).
        earlier = aliased(r)
        first = ~exists().where(
            earlier.c.charge_id == r.c.charge_id,
            earlier.c.code == r.c.code,
            earlier.c.position < r.c.position,
        )
        key: Any = r.c.code
        return (
            select(
                key.label("key"),
                func.count().label("charges"),
                func.coalesce(func.sum(f.c.amount), 0).label("amount"),
            )
            .select_from(f.join(r, r.c.charge_id == f.c.charge_id))
            .where(*where, first)
            .group_by(key)
            .order_by(func.count().desc(), key)
        )
    if by == "payer":
        # Payers are matched without case (the payer filter's rule), so "AETNA" and "Aetna"
        # are one group, and its drill-down filter finds exactly its rows.
        column: Any = func.lower(f.c.payer_name)
        shown: Any = func.min(f.c.payer_name)
    else:
        column = shown = GROUP_COLUMNS[by]
    return (
        select(
            shown.label("key"),
            func.count().label("charges"),
            func.coalesce(func.sum(f.c.amount), 0).label("amount"),
        )
        .where(*where)
        .group_by(column)
        .order_by(func.count().desc(), column.asc().nulls_last())
    )


def drill_filters(by: GroupBy, key: str | None) -> dict[str, Any]:
    """The search filters (the API's parameter names) that find exactly one group's rows:
    what a click on a group adds to the search it was grouped from."""
    if key is None:
        if by not in BLANKS:
            raise SearchError(f"a group by {by} has no empty key")
        return {"missing": [by]}
    return {by: int(key) if by == "run" else key}


def places_statement(company_id: str) -> Select[Any]:
    """Each (practice, location) pair the company has failures in, for the search form."""
    return (
        select(f.c.practice_id, f.c.location_id)
        .where(f.c.company_id == company_id)
        .distinct()
        .order_by(f.c.practice_id, f.c.location_id)
    )


def failure_statement(charge_id: str, companies: tuple[str, ...]) -> Select[Any]:
    """A charge's failure row, only within the caller's companies (else no row: 404)."""
    return select(f).where(f.c.charge_id == charge_id, f.c.company_id.in_(companies))


def versions_statement(charge_id: str) -> Select[Any]:
    c = t.charges
    return (
        select(c.c.version, c.c.outcome, c.c.run_number, c.c.claim_id, c.c.received_at, c.c.charge_json)
        .where(c.c.charge_id == charge_id)
        .order_by(c.c.version)
    )


def events_statement(charge_id: str) -> Select[Any]:
    e = t.failure_events
    return (
        select(e.c.version, e.c.run_number, e.c.failed_at, e.c.reasons_json)
        .where(e.c.charge_id == charge_id)
        .order_by(e.c.version)
    )


def selection_statement(company_id: str, charge_ids: list[str]) -> Select[Any]:
    """Status of the selected charges that belong to the company (others are 'not found')."""
    return select(f.c.charge_id, f.c.status).where(
        f.c.company_id == company_id, f.c.charge_id.in_(charge_ids)
    )


def attach_reasons(rows: list[dict[str, Any]], reasons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row with its list of reasons, in the order the formatter reported them."""
    by_charge: dict[str, list[dict[str, Any]]] = {}
    for reason in reasons:
        charge_id = reason["charge_id"]
        by_charge.setdefault(charge_id, []).append({k: v for k, v in reason.items() if k != "charge_id"})
    return [{**row, "reasons": by_charge.get(row["charge_id"], [])} for row in rows]
