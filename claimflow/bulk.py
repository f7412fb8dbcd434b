"""Many-row INSERT and UPDATE statements without SQLAlchemy's per-row parameter work.

`conn.execute(insert(table), rows)` builds a parameter dict per row and runs each value
through its type on every call; for a batch of hundreds of rows that was a large part of
the workers' storage time. Here the statement is compiled once per dialect, the columns
that need a bind processor are known in advance, and the rows go to the driver's
`executemany` as they are. What reaches the database is the same: the processors are the
columns' own (SQLite stores dates as text and money as REAL, PostgreSQL takes Decimals).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Date, DateTime, Table, bindparam, insert, update
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.dml import UpdateBase

Row = Sequence[Any]
Processor = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _Plan:
    sql: str
    #: Bind names in the driver's order (positional styles) or by name (named styles).
    names: tuple[str, ...]
    positional: bool
    #: (index into the row, processor) for the columns whose values need converting.
    processors: tuple[tuple[int, Processor], ...]


class _Statement:
    """A statement over `columns` of `table`, compiled lazily for each dialect it meets."""

    def __init__(self, table: Table, columns: Sequence[str]) -> None:
        self.table = table
        self.columns = tuple(columns)
        self._plans: weakref.WeakKeyDictionary[Dialect, _Plan] = weakref.WeakKeyDictionary()

    def _statement(self) -> UpdateBase:
        raise NotImplementedError

    def _bind_columns(self) -> tuple[str, ...]:
        return self.columns

    def _plan(self, dialect: Dialect) -> _Plan:
        plan = self._plans.get(dialect)
        if plan is None:
            plan = self._plans[dialect] = self._compile(dialect)
        return plan

    def _compile(self, dialect: Dialect) -> _Plan:
        binds = self._bind_columns()
        compiled = self._statement().compile(dialect=dialect, column_keys=list(self.columns))
        positional = bool(compiled.positional)
        names = tuple(compiled.positiontup or ()) if positional else binds
        if sorted(names) != sorted(binds):
            raise ValueError(f"statement binds {names}, expected {binds}")
        # Values are given in `binds` order; a positional driver may want another order.
        order = {name: i for i, name in enumerate(binds)}
        processors: list[tuple[int, Processor]] = []
        for name in binds:
            column = self.table.c[name if name in self.table.c else self._column_of(name)]
            process = column.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                immutable = isinstance(column.type, Date | DateTime)
                processors.append((order[name], _repeats_last(process) if immutable else process))
        return _Plan(str(compiled), names, positional, tuple(processors))

    def _column_of(self, bind: str) -> str:
        return bind

    def __call__(self, conn: Connection, rows: Sequence[Row]) -> None:
        """Run the statement once per row; each row's values are in `binds` order."""
        if not rows:
            return
        plan = self._plan(conn.dialect)
        binds = self._bind_columns()
        if plan.processors:
            converted = []
            for row in rows:
                values = list(row)
                for i, process in plan.processors:
                    values[i] = process(values[i])
                converted.append(values)
            rows = converted
        params: list[Any]
        if plan.positional:
            if plan.names == binds:
                params = [tuple(r) for r in rows]
            else:
                where = [binds.index(n) for n in plan.names]
                params = [tuple(r[i] for i in where) for r in rows]
        else:
            params = [dict(zip(binds, r, strict=True)) for r in rows]
        conn.exec_driver_sql(plan.sql, params)


def _repeats_last(process: Processor) -> Processor:
    """`process` that returns its last answer again when given the very same object.

    A batch stamps every row with one `now` (and a claim's lines share its dates), and
    SQLite's date and datetime processors format text in Python for every row: a few
    percent of a batch. Only for dates and datetimes, which are immutable, so one object is
    always one text; the (value, text) pair is replaced in one assignment, so threads
    sharing a plan never see one's value with another's text.
    """
    last: list[tuple[Any, Any]] = [(object(), None)]

    def repeat(value: Any) -> Any:
        seen, text = last[0]
        if value is seen:
            return text
        text = process(value)
        last[0] = (value, text)
        return text

    return repeat


class BulkInsert(_Statement):
    """INSERT INTO table (columns) VALUES (...), one row per values tuple."""

    def _statement(self) -> UpdateBase:
        return insert(self.table)


class BulkUpdate(_Statement):
    """UPDATE table SET columns WHERE key = ? [AND key2 = ?], one row per values tuple
    (the key values last, in `key` order)."""

    def __init__(self, table: Table, columns: Sequence[str], key: str | Sequence[str]) -> None:
        super().__init__(table, columns)
        self.keys = (key,) if isinstance(key, str) else tuple(key)
        self._where = {f"where_{k}": k for k in self.keys}

    def _statement(self) -> UpdateBase:
        c = self.table.c
        return update(self.table).where(*(c[k] == bindparam(w) for w, k in self._where.items()))

    def _bind_columns(self) -> tuple[str, ...]:
        return (*self.columns, *self._where)

    def _column_of(self, bind: str) -> str:
        return self._where.get(bind, bind)
