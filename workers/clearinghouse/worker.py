"""The clearinghouse worker's faust app: claims in, 837P interchanges out to the outbox folder.

Thin on purpose, like the other workers: workers.common.consumer reads `billing.claims` in
its own consumer group and hands each fetch to workers.common.batch, which decodes the
claims and runs workers/clearinghouse/handler.py in one transaction. A fetch is the batch
window: its claims for one receiver go out in one interchange.

The worker also watches the inbox folder for acknowledgments (999, 277CA): each file is
imported in its own transaction (workers/clearinghouse/acks.py), its Rejection postings are
published to `billing.postings` after the commit, and the file moves to inbox/done (or
inbox/failed, with the reason logged, when it is not an acknowledgment this worker reads).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import faust

from claimflow.db import make_engine, unit_of_work
from claimflow.logs import get_logger
from claimflow.settings import Settings
from contracts.codec import encode
from contracts.posting import Posting
from contracts.topics import CLAIMS, POSTINGS
from workers.clearinghouse.acks import import_ack
from workers.clearinghouse.handler import ClaimsHandler
from workers.clearinghouse.routing import load_routing
from workers.clearinghouse.storage import inbox_path, outbox_path
from workers.clearinghouse.x12_acks import AckError, parse
from workers.common.app import make_app, serve_batches
from workers.common.batch import BatchRunner
from workers.common.faults import NO_FAULTS, FaultHooks
from workers.common.messages import Outgoing
from workers.common.progress import report_progress
from workers.common.publish import publisher

#: Most claims in one interchange window (one transaction).
MAX_BATCH = 1000
#: How often the inbox is looked at, in seconds.
INBOX_INTERVAL = 5.0
log = get_logger("claimflow.clearinghouse")


def build(settings: Settings, faults: FaultHooks = NO_FAULTS) -> faust.App:
    app = make_app("clearinghouse", settings)
    engine = make_engine(settings.database_url)
    handler = ClaimsHandler(
        load_routing(settings.x12_routing), outbox_path(settings), prefix=settings.topic_prefix
    )
    publish = publisher(app)
    runner = BatchRunner(handler, engine, publish, topic_prefix=settings.topic_prefix, faults=faults)
    consumer = serve_batches(app, settings, {settings.topic(CLAIMS): runner}, max_batch=MAX_BATCH)
    report_progress(app, "clearinghouse", runner.stats, consumer)

    inbox = inbox_path(settings)
    postings_topic = settings.topic(POSTINGS)

    def import_file(path: Path) -> list[Posting] | None:
        try:
            ack = parse(path.read_text(encoding="ascii", errors="replace"))
        except AckError as exc:
            log.warning("ack_unreadable", file=path.name, error=str(exc))
            return None
        with unit_of_work(engine) as conn:
            result = import_ack(conn, ack, dt.datetime.now(dt.UTC))
        log.info("ack_imported", file=path.name, summary=result.summary())
        return result.postings

    @app.timer(interval=INBOX_INTERVAL)
    async def watch_inbox() -> None:
        if not inbox.is_dir():
            return
        for path in sorted(p for p in inbox.iterdir() if p.is_file() and not p.name.startswith(".")):
            try:
                postings = await asyncio.to_thread(import_file, path)
            except Exception as exc:  # the database is down: the file stays for the next look
                log.error("ack_import_failed", file=path.name, error=type(exc).__name__)
                return
            if postings:
                await publish([Outgoing(postings_topic, p.bill_id.encode(), encode(p)) for p in postings])
            target = inbox / ("done" if postings is not None else "failed")
            target.mkdir(exist_ok=True)
            path.replace(target / path.name)

    return app
