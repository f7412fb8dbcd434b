"""A worker's SQLite connection checkpoints less often only while its batches are large, and
its WAL stays bounded when several processes write one file."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine

from claimflow.db import (
    BACKLOG_BATCH,
    BACKLOG_CHECKPOINT_PAGES,
    CHECKPOINT_PAGES,
    bound_wal,
    make_engine,
    pace_checkpoints,
    unit_of_work,
)


def _pages(conn: Connection) -> int:
    return int(conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one())


def test_large_batches_checkpoint_less_often_and_small_ones_as_sqlite_does(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    try:
        with unit_of_work(engine) as conn:
            assert _pages(conn) == CHECKPOINT_PAGES  # SQLite's own default until a batch says
            pace_checkpoints(conn, BACKLOG_BATCH)
            assert _pages(conn) == BACKLOG_CHECKPOINT_PAGES
        with unit_of_work(engine) as conn:  # the same pooled connection keeps its pace
            assert _pages(conn) == BACKLOG_CHECKPOINT_PAGES
            pace_checkpoints(conn, BACKLOG_BATCH - 1)
            assert _pages(conn) == CHECKPOINT_PAGES
    finally:
        engine.dispose()


def _wal_bytes(path: Path) -> int:
    wal = Path(f"{path}-wal")
    return wal.stat().st_size if wal.exists() else 0


def _write_without_checkpoints(engine: Engine, rows: int) -> None:
    # As when two writers take turns and the WAL never starts over: nothing copies it back.
    with unit_of_work(engine) as conn:
        conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (n INTEGER, pad TEXT)")
        conn.exec_driver_sql(
            "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ?)"
            " INSERT INTO t SELECT n, printf('%.500c', 'x') FROM s",
            (rows,),
        )


def test_a_wal_past_its_limit_is_checkpointed_and_truncated_between_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "w.db"
    engine = make_engine(f"sqlite:///{path}")
    monkeypatch.setattr("claimflow.db.WAL_LIMIT_BYTES", 256 * 1024)
    try:
        _write_without_checkpoints(engine, 100)
        below = _wal_bytes(path)
        assert 0 < below <= 256 * 1024
        bound_wal(engine)
        assert _wal_bytes(path) == below, "a WAL under the limit is left to SQLite"
        _write_without_checkpoints(engine, 2_000)
        assert _wal_bytes(path) > 256 * 1024
        bound_wal(engine)
        assert _wal_bytes(path) == 0
        with engine.connect() as conn:  # everything reached the database file
            assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar_one() == 2_100
    finally:
        engine.dispose()


def test_bounding_the_wal_never_fails_a_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "w.db"
    engine = make_engine(f"sqlite:///{path}")
    monkeypatch.setattr("claimflow.db.WAL_LIMIT_BYTES", 0)
    warned: list[str] = []
    monkeypatch.setattr("claimflow.db.log.warning", lambda event, **_: warned.append(event))
    try:
        _write_without_checkpoints(engine, 10)
        monkeypatch.setattr(engine, "connect", _refuse)
        bound_wal(engine)  # logged, not raised: the next batch tries again
        assert warned == ["wal_truncate_failed"]
    finally:
        engine.dispose()


def _refuse() -> None:
    raise OSError("disk unplugged")
