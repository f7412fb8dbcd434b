"""IN lists are padded to a few lengths, so drivers keep a few prepared statements."""

from __future__ import annotations

import sqlite3

from hypothesis import given
from hypothesis import strategies as st

from claimflow.db import in_list


@given(st.lists(st.text(max_size=5), max_size=600))
def test_padding_keeps_the_set_and_bounds_the_lengths(values: list[str]) -> None:
    padded = in_list(values)
    assert set(padded) == set(values)
    assert padded[: len(values)] == values
    assert len(padded) - len(values) < 64


def test_a_batch_of_any_size_up_to_500_has_one_of_14_lengths() -> None:
    lengths = {len(in_list(range(n))) for n in range(501)}
    assert lengths == {0, 1, 2, 4, 8, 16, *range(64, 513, 64)}


def test_sqlite_answers_a_padded_list_as_the_plain_one() -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (k TEXT PRIMARY KEY)")
    db.executemany("INSERT INTO t VALUES (?)", [(f"k{i}",) for i in range(100)])
    wanted = [f"k{i}" for i in range(0, 150, 7)]
    padded = in_list(wanted)
    rows = db.execute(f"SELECT k FROM t WHERE k IN ({','.join('?' * len(padded))})", padded).fetchall()
    assert sorted(r[0] for r in rows) == sorted(k for k in wanted if int(k[1:]) < 100)
