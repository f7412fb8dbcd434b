"""The formatter's faust app: charges in, runs through the batch loop, holds released.

Thin on purpose: workers.common.consumer reads charges in batches (each batch is one
numbered run) and hands them to workers.common.batch, which decodes them, runs
FormatterHandler in one transaction and publishes the answers. The same loop reads
reprocess's results (workers/formatter/replays.py), before the charges of each fetch, so
that a failure is `reprocessing` before its replayed version is answered.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import faust
from sqlalchemy import Engine

from claimflow.db import make_engine
from claimflow.logs import get_logger
from claimflow.settings import Settings
from contracts.topics import CHARGES, REPROCESS_RESULTS
from workers.common.app import make_app, serve_batches
from workers.common.batch import BatchRunner
from workers.common.faults import NO_FAULTS, FaultHooks
from workers.common.messages import Outgoing
from workers.common.progress import report_progress
from workers.common.publish import publisher
from workers.formatter import storage
from workers.formatter.handler import FormatterHandler, utcnow
from workers.formatter.replays import ReplayAnnouncements
from workers.formatter.rules import RuleBook

log = get_logger("claimflow.formatter")


def build(settings: Settings, book: RuleBook | None = None, faults: FaultHooks = NO_FAULTS) -> faust.App:
    app = make_app("formatter", settings)
    engine = make_engine(settings.database_url)
    handler = FormatterHandler(book or RuleBook.default(), prefix=settings.topic_prefix)
    publish = publisher(app)
    runner = BatchRunner(handler, engine, publish, topic_prefix=settings.topic_prefix, faults=faults)
    replays = BatchRunner(
        ReplayAnnouncements(), engine, publish, topic_prefix=settings.topic_prefix, faults=faults
    )
    charges_topic = settings.topic(CHARGES)

    consumer = serve_batches(
        app,
        settings,
        {settings.topic(REPROCESS_RESULTS): replays, charges_topic: runner},
        max_batch=settings.run_max_charges,
    )

    @app.timer(interval=30.0, name="release-held-charges")
    async def release_held_charges() -> None:
        # A held charge goes back on the charges topic on its date; the run that takes it
        # treats it as new (its tracking row says "held", not final).
        try:
            due = await asyncio.to_thread(_due_holds, engine, utcnow().date())
            if due:
                await publish([Outgoing(charges_topic, key.encode(), raw) for key, raw in due])
                log.info("held_charges_released", count=len(due))
        except Exception as exc:
            # An exception escaping a faust timer crashes the whole worker (mode's task
            # supervisor), so a database or broker outage longer than the interval would
            # kill the formatter. The holds are still due at the next tick: log and wait.
            log.error("held_charges_release_failed", error=type(exc).__name__)

    report_progress(app, "formatter", runner.stats, consumer)
    return app


def _due_holds(engine: Engine, today: dt.date) -> list[tuple[str, bytes]]:
    with engine.connect() as conn:
        return storage.due_holds(conn, today)
