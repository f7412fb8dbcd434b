"""The posting worker's faust app: claims open bills, postings change them and are answered.

Thin on purpose: workers.common.consumer reads both input topics as one consumer group and
hands each fetch's claims, then its postings, to workers.common.batch, which decodes them,
runs the topic's handler (workers/posting/handler.py) in one transaction and publishes the
answers after the commit.

Claims and postings are separate topics, so a posting may arrive before the claim that
opens its bill; it is then answered BILL_NOT_FOUND (spec/posting-rules.md), never held or
dropped. Within one fetch claims go first, so that race is rare.
"""

from __future__ import annotations

import faust

from claimflow.db import make_engine
from claimflow.settings import Settings
from contracts.topics import CLAIMS, POSTINGS
from workers.common.app import make_app, serve_batches
from workers.common.batch import BatchRunner
from workers.common.faults import NO_FAULTS, FaultHooks
from workers.common.progress import report_progress
from workers.common.publish import publisher
from workers.posting.handler import ClaimsHandler, PostingHandler

#: Most messages in one batch (one transaction). A batch never waits to fill: it is what
#: the consumer has fetched, so at low load it is small and answers come at once. 2,000
#: took 8% less CPU per posting under a backlog in alternating runs, but in the full bench
#: it bought no clear throughput and once left a 13 MB step in RSS (docs/PERFORMANCE.md).
MAX_BATCH = 500


def build(settings: Settings, faults: FaultHooks = NO_FAULTS) -> faust.App:
    app = make_app("posting", settings)
    engine = make_engine(settings.database_url)
    publish = publisher(app)
    prefix = settings.topic_prefix
    claims_runner = BatchRunner(ClaimsHandler(), engine, publish, topic_prefix=prefix, faults=faults)
    postings_runner = BatchRunner(
        PostingHandler(prefix=prefix), engine, publish, topic_prefix=prefix, faults=faults
    )

    # One loop for both topics: one batch at a time keeps each bill's postings in order.
    consumer = serve_batches(
        app,
        settings,
        {settings.topic(CLAIMS): claims_runner, settings.topic(POSTINGS): postings_runner},
        max_batch=MAX_BATCH,
    )

    report_progress(app, "posting", postings_runner.stats, consumer)
    report_progress(app, "posting-claims", claims_runner.stats, consumer)
    return app
