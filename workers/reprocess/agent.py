"""The reprocess worker's faust app: reprocess requests in, through the batch loop.

Thin on purpose: the agent turns faust events into batches for workers.common.batch, which
decodes them, hands them to ReprocessHandler in one transaction and publishes the replayed
charges and the results after the commit.
"""

from __future__ import annotations

import faust

from claimflow.db import make_engine
from claimflow.settings import Settings
from contracts.topics import REPROCESS_REQUESTS
from workers.common.app import make_app, raw_topic
from workers.common.batch import BatchRunner
from workers.common.faust_glue import publisher, received_batches
from workers.common.progress import report_progress
from workers.reprocess.handler import ReprocessHandler

#: Requests per transaction: one request may select thousands of charges, so keep it small.
MAX_REQUESTS = 20


def build(settings: Settings) -> faust.App:
    app = make_app("reprocess", settings)
    engine = make_engine(settings.database_url)
    handler = ReprocessHandler(prefix=settings.topic_prefix)
    runner = BatchRunner(handler, engine, publisher(app), topic_prefix=settings.topic_prefix)

    @app.agent(raw_topic(app, settings.topic(REPROCESS_REQUESTS)), concurrency=1, name="reprocess-requests")
    async def reprocess_requests(stream: faust.StreamT[bytes]) -> None:
        await runner.run(received_batches(stream, MAX_REQUESTS, settings.run_max_seconds))

    report_progress(app, "reprocess", runner.stats)
    return app
