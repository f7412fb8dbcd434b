"""The floor under the formatter's ratio: the ceiling's loop doing the least a formatter must.

Each rung is `bench.ceiling.python_passthrough` (same loop, same client settings, same
collector) with one more piece of unavoidable work on every fetched batch of charges:

1. `decode`: every charge decoded as the `Charge` contract by the one codec
   (`contracts.codec.decode`, pydantic's `validate_json`): a worker can not act on a
   charge it has not validated, and bad input must become a dead letter with its reason.
2. `decode_tracking_row`: plus one row per charge in SQLite (its id, version, outcome and
   JSON), one transaction per batch in a thread, WAL and `synchronous=NORMAL` as the
   workers run it: the least a worker that answers a redelivered charge from what it
   stored ("nothing doubled") can write. Plain `sqlite3`, no SQLAlchemy.
3. `decode_rules_tracking_row`: plus the formatter's rules (`evaluate` with the default
   rule book, an empty history: no reads).

No claim is built, no claim, line or failure row written, no history read: every rung is
above what the formatter can reach, so a rung's ratio to the ceiling bounds the
formatter's from above, measured in the same run on the same broker.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiokafka import ConsumerRecord

from bench.ceiling import BatchWork, python_passthrough
from bench.common import BenchEnv
from contracts import Charge
from contracts.codec import decode

RUNGS = ("decode", "decode_tracking_row", "decode_rules_tracking_row")
LABELS = {
    "decode": "decode",
    "decode_tracking_row": "decode + tracking row",
    "decode_rules_tracking_row": "decode + rules + tracking row",
}


def _tracking_table(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(
        "CREATE TABLE tracking (charge_id TEXT, version INTEGER, outcome TEXT, charge_json TEXT,"
        " PRIMARY KEY (charge_id, version))"
    )
    return db


def _work(rung: str, db: sqlite3.Connection | None) -> BatchWork:
    check: Callable[[Charge], object] | None = None
    if rung == "decode_rules_tracking_row":
        from workers.formatter.rules import History, RuleBook, RuleContext, evaluate

        ctx = RuleContext(today=dt.date.today(), book=RuleBook.default(), history=History())

        def check(charge: Charge) -> object:
            return evaluate(charge, ctx)

    def write(rows: list[tuple[str, int, str, str]]) -> None:
        assert db is not None
        db.execute("BEGIN IMMEDIATE")
        db.executemany("INSERT INTO tracking VALUES (?, ?, ?, ?)", rows)
        db.execute("COMMIT")

    async def work(records: list[ConsumerRecord[bytes, bytes]]) -> None:
        charges = [decode(r.value, Charge) for r in records]
        outcomes = ["decoded"] * len(charges)
        if check is not None:
            outcomes = ["failed" if check(c) else "passed" for c in charges]
        if db is not None:
            rows = [
                (c.charge_id, c.version, outcome, (r.value or b"").decode())
                for c, r, outcome in zip(charges, records, outcomes, strict=True)
            ]
            await asyncio.to_thread(write, rows)

    return work


async def rung(env: BenchEnv, name: str, n: int) -> dict[str, Any]:
    """One rung of the ladder over `n` charges: the ceiling's figures, with the work named."""
    db = _tracking_table(env.sqlite_path(f"ladder-{name}")) if name != "decode" else None
    try:
        result = await python_passthrough(env, n, work=_work(name, db))
    finally:
        if db is not None:
            db.close()
    return {**result, "work": name}


async def ladder(env: BenchEnv, n: int) -> dict[str, Any]:
    return {name: await rung(env, name, n) for name in RUNGS}
