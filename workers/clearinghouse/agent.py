"""The clearinghouse worker's faust app: claims in, 837P interchanges out to the outbox folder.

Thin on purpose, like the other workers: workers.common.consumer reads `billing.claims` in
its own consumer group and hands each fetch to workers.common.batch, which decodes the
claims and runs workers/clearinghouse/handler.py in one transaction. A fetch is the batch
window: its claims for one receiver go out in one interchange.
"""

from __future__ import annotations

from pathlib import Path

import faust

from claimflow.db import make_engine
from claimflow.settings import Settings
from contracts.topics import CLAIMS
from workers.clearinghouse.handler import ClaimsHandler
from workers.clearinghouse.routing import load_routing
from workers.common.app import make_app, serve_batches
from workers.common.batch import BatchRunner
from workers.common.progress import report_progress
from workers.common.publish import publisher

#: Most claims in one interchange window (one transaction).
MAX_BATCH = 1000


def outbox_path(settings: Settings) -> Path:
    return settings.x12_outbox or settings.home / "x12" / "outbox"


def build(settings: Settings) -> faust.App:
    app = make_app("clearinghouse", settings)
    engine = make_engine(settings.database_url)
    handler = ClaimsHandler(load_routing(settings.x12_routing), outbox_path(settings))
    runner = BatchRunner(handler, engine, publisher(app), topic_prefix=settings.topic_prefix)
    consumer = serve_batches(app, settings, {settings.topic(CLAIMS): runner}, max_batch=MAX_BATCH)
    report_progress(app, "clearinghouse", runner.stats, consumer)
    return app
