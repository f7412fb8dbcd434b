"""Where a worker's batch step spends its time: the handler on realistic batches, no broker.

    python -m bench.profile formatter            # pyinstrument tree, SQLite
    python -m bench.profile posting --db sqlite

Runs what workers/common/prepare.py does per batch (decode every message, then the handler
in one transaction, then encode the answers is part of the handler) on batches of the
worker's own size, and prints the rate of that step alone beside pyinstrument's call tree.
The difference between this rate and the worker's rate in the bench is the cost of
everything around the step (faust, the consumer, the producer, the event loop).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench import data
from contracts import Charge, Posting
from contracts.codec import decode
from workers.common.messages import Incoming, Received


def _incoming(messages: Sequence[tuple[bytes, bytes]], topic: str, model: type[Any]) -> list[Any]:
    return [
        Incoming(decode(value, model), Received(topic, 0, i, key, value))
        for i, (key, value) in enumerate(messages)
    ]


def _batches(messages: list[tuple[bytes, bytes]], size: int) -> list[list[tuple[bytes, bytes]]]:
    return [messages[i : i + size] for i in range(0, len(messages), size)]


def _step(
    engine: Any, handler: Any, batches: list[list[tuple[bytes, bytes]]], topic: str, model: type[Any]
) -> Callable[[], int]:
    from claimflow.db import unit_of_work

    def step() -> int:
        for raw in batches:
            items = _incoming(raw, topic, model)
            with unit_of_work(engine) as conn:
                handler.handle(conn, items)
        return sum(len(b) for b in batches)

    return step


def formatter_step(database_url: str, n: int, batch: int | None = None) -> Callable[[], int]:
    """The formatter's step on runs of `batch` charges (the worker's run size by default)."""
    from claimflow.db import create_all, make_engine
    from claimflow.settings import Settings
    from workers.formatter.handler import FormatterHandler
    from workers.formatter.rules import RuleBook

    engine = make_engine(database_url)
    create_all(engine)
    batches = _batches(list(data.charge_messages(n)), batch or Settings().run_max_charges)
    return _step(engine, FormatterHandler(RuleBook.default()), batches, "billing.charges", Charge)


def posting_step(database_url: str, n: int, batch: int | None = None) -> Callable[[], int]:
    """Posting's step on batches of `batch` postings (the worker's batch size by default)."""
    from claimflow.db import make_engine
    from workers.posting.handler import PostingHandler
    from workers.posting.worker import MAX_BATCH

    data.seed_bills(database_url, data.cycles_for(n))
    batches = _batches(list(data.posting_messages(n)), batch or MAX_BATCH)
    return _step(make_engine(database_url), PostingHandler(), batches, "billing.postings", Posting)


def main(argv: list[str] | None = None) -> int:
    from pyinstrument import Profiler

    from workers.common.collector import tune_gc

    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("worker", choices=("formatter", "posting"))
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=None, help="also write the tree to this file")
    args = parser.parse_args(argv)

    server = None
    with tempfile.TemporaryDirectory(prefix="claimflow-profile-") as tmp:
        if args.db == "postgres":
            from devtools.testing.postgres import start_postgres

            server = start_postgres("profile")
            url = server.url
        else:
            url = f"sqlite:///{tmp}/profile.db"
        try:
            make = formatter_step if args.worker == "formatter" else posting_step
            step = make(url, args.n)
            tune_gc()  # as the worker does once it is built: the step's own garbage only
            profiler = Profiler(interval=0.001)
            started = time.perf_counter()
            profiler.start()
            done = step()
            profiler.stop()
            seconds = time.perf_counter() - started
        finally:
            if server is not None:
                server.stop()
    text = profiler.output_text(unicode=False, color=False, show_all=False)
    header = (
        f"{args.worker} on {args.db}: {done} messages in {seconds:.2f}s under the profiler "
        f"= {done / seconds:,.0f} msg/s for decode + handler + commit alone\n"
    )
    print(header + text)
    if args.out:
        args.out.write_text(header + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
