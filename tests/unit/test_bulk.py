"""claimflow.bulk writes what SQLAlchemy's own insert writes, repeated stamps included."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Column, Date, DateTime, Integer, MetaData, Table, create_engine, insert, text

from claimflow.bulk import BulkInsert, _repeats_last

_zones = st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=-5)), dt.timezone(dt.timedelta(hours=9))])
_stamps = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=_zones)


def test_repeats_last_answers_each_object_as_the_processor_does() -> None:
    calls: list[object] = []

    def process(value: object) -> str:
        calls.append(value)
        return repr(value)

    repeat = _repeats_last(process)
    now = dt.datetime(2026, 11, 23, 4, 0, tzinfo=dt.UTC)
    same_instant = now.astimezone(dt.timezone(dt.timedelta(hours=-5)))  # equal, not the same object
    assert [repeat(v) for v in (now, now, same_instant, now)] == [
        repr(now),
        repr(now),
        repr(same_instant),
        repr(now),
    ]
    assert calls == [now, same_instant, now]  # only a repeat of the very same object is skipped


@given(st.lists(st.tuples(_stamps, st.dates()), min_size=1, max_size=20), st.data())
def test_bulk_insert_writes_what_sqlalchemy_writes(
    pairs: list[tuple[dt.datetime, dt.date]], data: st.DataObject
) -> None:
    # Rows reuse earlier rows' objects, as a batch's rows share its `now`.
    rows: list[tuple[int, dt.datetime, dt.date]] = []
    for i, (stamp, day) in enumerate(pairs):
        reuse: bool = data.draw(st.booleans())
        if rows and reuse:
            stamp = rows[data.draw(st.integers(0, len(rows) - 1))][1]
        rows.append((i, stamp, day))
    md = MetaData()
    table = Table(
        "stamps",
        md,
        Column("id", Integer, primary_key=True),
        Column("at", DateTime(timezone=True)),
        Column("day", Date),
    )
    engine = create_engine("sqlite://")
    md.create_all(engine)
    bulk = BulkInsert(table, ("id", "at", "day"))
    with engine.begin() as conn:
        bulk(conn, rows)
        ours = conn.execute(text("SELECT id, at, day FROM stamps ORDER BY id")).all()
        conn.execute(text("DELETE FROM stamps"))
        conn.execute(insert(table), [{"id": i, "at": at, "day": day} for i, at, day in rows])
        theirs = conn.execute(text("SELECT id, at, day FROM stamps ORDER BY id")).all()
    assert ours == theirs
