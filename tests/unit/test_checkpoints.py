"""A worker's SQLite connection checkpoints less often only while its batches are large."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection

from claimflow.db import (
    BACKLOG_BATCH,
    BACKLOG_CHECKPOINT_PAGES,
    CHECKPOINT_PAGES,
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
