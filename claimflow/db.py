"""Storage plumbing shared by the workers: one MetaData, engines, one unit of work.

Each worker declares its own tables (in its `storage.py`) on this `metadata`; alembic
migrations in `claimflow/migrations/` create them. SQLite in a file is the default;
PostgreSQL is one URL away. Workers call storage from a thread (`asyncio.to_thread`) once
per batch, so a blocking engine costs nothing on the event loop and keeps storage code
plain and testable.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import orjson
from sqlalchemy import BindParameter, Connection, Engine, MetaData, bindparam, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection, QueuePool

from claimflow.logs import get_logger

log = get_logger("claimflow.db")
#: How long a SQLite writer waits for another's transaction before it fails.
BUSY_TIMEOUT_MS = 30_000

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


T = TypeVar("T")


def ids_param(name: str = "ids") -> BindParameter[Any]:
    """The `IN` list of a batch query built once, its values given at each run (`in_list`).

    A statement built per batch around its list of ids is a reference cycle holding that
    list (and builds and coerces the list each time): hundreds of ids per batch waited for
    a full collection, and the posting worker's RSS climbed by tens of MB before the first
    one came (docs/PERFORMANCE.md).
    """
    return bindparam(name, expanding=True)


def in_list(values: Iterable[T]) -> list[T]:
    """`values` padded to one of a few lengths, for an `IN (...)` list of a batch's keys.

    Each length of an IN list is a different SQL text, and drivers keep prepared
    statements by text (sqlite3 up to 128 per connection, psycopg once a text has run five
    times). Batches of every size from 1 to 500 kept a statement of up to ~80 KB for each
    size: a 25 MB climb in the posting worker's RSS over its first 400k postings, and
    every new size prepared anew. Padding by repeating the last value changes no answer
    (IN is a set test); at most 63 repeats, below 16 values a power of two.
    """
    items = list(values)
    n = len(items)
    if n == 0:
        return items
    size = 1 << (n - 1).bit_length() if n <= 16 else -(-n // 64) * 64
    return items + [items[-1]] * (size - n)


def safe_url(url: str) -> str:
    """The database URL with its password masked: the only form a log or message shows."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except exc.ArgumentError:
        return "(a database URL that does not parse)"


def connect_problem(error: BaseException, url: str) -> str:
    """One line for a database that would not let us in (refused, TLS, password)."""
    orig = getattr(error, "orig", None) or error
    first = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    return f"cannot connect to the database at {safe_url(url)}: {first}"


def make_engine(url: str, **kwargs: Any) -> Engine:
    # JSON columns through orjson, not the standard library (a tenth of a posting batch).
    kwargs.setdefault("json_serializer", _json_dumps)
    kwargs.setdefault("json_deserializer", orjson.loads)
    if url.startswith("sqlite"):
        # Several worker processes share one SQLite file: WAL lets readers run beside the
        # writer, and busy_timeout makes a writer wait its turn instead of failing.
        # Connections are pooled: opening one per batch cost its PRAGMAs, and closing the
        # last one made SQLite checkpoint and delete the WAL every batch (~14 ms each).
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
            poolclass=QueuePool,
            pool_size=5,
            max_overflow=10,
            **kwargs,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, record: ConnectionPoolEntry) -> None:
            record.info["pid"] = os.getpid()
            # Let SQLAlchemy, not pysqlite, say when a transaction begins (see _sqlite_begin).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            _use_wal(cur)
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cur.close()

        @event.listens_for(engine, "checkout")
        def _not_across_fork(_dbapi: Any, record: ConnectionPoolEntry, proxy: PoolProxiedConnection) -> None:
            # A SQLite handle must never be used (nor closed) by a forked child: it opens
            # its own (SQLAlchemy's recipe for pools and multiprocessing).
            if record.info.get("pid") != os.getpid():
                record.dbapi_connection = None  # type: ignore[misc]
                proxy.dbapi_connection = None  # type: ignore[misc]
                raise exc.DisconnectionError("connection belongs to another process")

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            # Take the write lock at BEGIN so two writers never deadlock upgrading a read lock.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _use_wal(cur: Any) -> None:
    """Put the database file in WAL mode (it stays so), waiting for other openers.

    Turning WAL on takes an exclusive lock and SQLite answers "database is locked" at once,
    without its busy handler, while another connection holds any lock: workers started
    together on a fresh file (docker compose, a scaled-out group) failed at start.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if cur.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


#: WAL pages after which a commit checkpoints: SQLite's default, and the one for a backlog.
CHECKPOINT_PAGES = 1_000
BACKLOG_CHECKPOINT_PAGES = 10_000
#: A batch of this many messages means the worker is working through a backlog.
BACKLOG_BATCH = 100


def pace_checkpoints(conn: Connection, messages: int) -> None:
    """Checkpoint SQLite's WAL less often while a batch of `messages` says there is a backlog.

    A full batch dirties thousands of pages at random (one per B-tree a row touches), so
    checkpointing every 1,000 pages (4 MB, SQLite's default) copied pages back about once a
    batch, and a page written by several batches once per batch. Every 10,000 pages: 5-18%
    more postings a second over 1M postings. But the commit that checkpoints waits for it,
    and at low load a 40 MB checkpoint every few seconds put 170-300 ms answers at the p99.9
    (docs/PERFORMANCE.md); small batches keep the default. Called in each batch's
    transaction; a PRAGMA runs only when the pace changes. No-op on PostgreSQL.
    """
    if conn.dialect.name != "sqlite":
        return
    pages = BACKLOG_CHECKPOINT_PAGES if messages >= BACKLOG_BATCH else CHECKPOINT_PAGES
    info = conn.info  # the DBAPI connection's: it outlives this checkout
    if info.get("wal_autocheckpoint", CHECKPOINT_PAGES) != pages:
        conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={pages}")
        info["wal_autocheckpoint"] = pages


#: Past this size, a worker's batch checkpoints SQLite's whole WAL and truncates it.
WAL_LIMIT_BYTES = 256 * 1024 * 1024
#: How long that checkpoint waits for a reader (the report service) before giving up.
WAL_TRUNCATE_WAIT_MS = 2_000


def bound_wal(engine: Engine) -> None:
    """Keep SQLite's WAL bounded when several processes write one file; call between batches.

    A WAL starts over from its first frame only when a writer begins while every frame has
    been copied back to the database. Two workers that always have a batch to write each
    begin before the other's checkpoint is done, so it never starts over and grows with
    every commit: two formatters on one file, 400k charges, left a 3.5 GB WAL beside a
    1.1 GB database, every read slower and each process's RSS climbing with the WAL index
    it maps (docs/PERFORMANCE.md, "Why the current settings"). Past WAL_LIMIT_BYTES this
    checkpoints all of it and truncates it; the other writers wait meanwhile, as for any
    transaction. A worker writing alone stays far below the limit (its WAL starts over at
    each checkpoint), so it only pays a stat() per batch. No-op on PostgreSQL and in memory.
    """
    if engine.dialect.name != "sqlite" or not engine.url.database or engine.url.database == ":memory:":
        return
    try:
        size = os.stat(f"{engine.url.database}-wal").st_size
    except OSError:
        return
    if size <= WAL_LIMIT_BYTES:
        return
    try:
        with engine.connect() as conn:
            # The driver's own connection: it is in autocommit (isolation_level None), and
            # a checkpoint can not run inside the transaction SQLAlchemy would begin.
            raw = conn.connection.driver_connection
            assert raw is not None
            raw.execute(f"PRAGMA busy_timeout={WAL_TRUNCATE_WAIT_MS}")
            try:
                busy, frames, copied = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    except Exception as exc:
        # Upkeep, not the batch's work (already committed): the next batch tries again.
        log.warning("wal_truncate_failed", wal_mb=round(size / 2**20), error=type(exc).__name__)
        return
    # Every few seconds while two writers share a backlog: a detail, unless a reader kept
    # the WAL from being truncated.
    (log.info if busy else log.debug)(
        "wal_truncated", wal_mb=round(size / 2**20), frames=frames, copied=copied, busy=bool(busy)
    )


@contextmanager
def unit_of_work(engine: Engine) -> Iterator[Connection]:
    """One transaction: committed when the block ends, rolled back if it raises."""
    with engine.begin() as conn:
        yield conn


def create_all(engine: Engine) -> None:
    """Bring the schema to the newest migration (used by tests, `make run` and workers)."""
    from claimflow.migrate import upgrade

    upgrade(engine)
