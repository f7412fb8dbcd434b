"""The reprocess worker's faust app: reprocess requests in, through the batch loop.

Thin on purpose: workers.common.consumer reads requests in batches for workers.common.batch,
which decodes them, hands them to ReprocessHandler in one transaction and publishes the
replayed charges and the results after the commit.
"""

from __future__ import annotations

import faust

from claimflow.db import make_engine
from claimflow.settings import Settings
from contracts.topics import REPROCESS_REQUESTS
from workers.common.app import make_app, serve_batches
from workers.common.batch import BatchRunner
from workers.common.faults import NO_FAULTS, FaultHooks
from workers.common.progress import report_progress
from workers.common.publish import publisher
from workers.reprocess.handler import ReprocessHandler

#: Requests per transaction: one request may select thousands of charges, so keep it small.
MAX_REQUESTS = 20


def build(settings: Settings, faults: FaultHooks = NO_FAULTS) -> faust.App:
    app = make_app("reprocess", settings)
    engine = make_engine(settings.database_url)
    handler = ReprocessHandler(prefix=settings.topic_prefix)
    runner = BatchRunner(handler, engine, publisher(app), topic_prefix=settings.topic_prefix, faults=faults)

    topic = settings.topic(REPROCESS_REQUESTS)
    consumer = serve_batches(app, settings, {topic: runner}, max_batch=MAX_REQUESTS)
    report_progress(app, "reprocess", runner.stats, consumer)
    return app
