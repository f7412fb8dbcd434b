"""The posting worker's faust app: claims open bills, postings change them and are answered.

Thin on purpose: each agent turns faust events into batches for workers.common.batch, which
decodes them, hands them to its handler (workers/posting/handler.py) in one transaction
and publishes the answers after the commit.

Two agents, one per input topic, each with its own batch loop. Claims and postings are
separate topics, so a posting may arrive before the claim that opens its bill; it is then
answered BILL_NOT_FOUND (spec/posting-rules.md), never held or dropped.
"""

from __future__ import annotations

import faust

from claimflow.db import make_engine
from claimflow.settings import Settings
from contracts.topics import CLAIMS, POSTINGS
from workers.common.app import make_app, raw_topic
from workers.common.batch import BatchRunner
from workers.common.faust_glue import publisher, received_batches
from workers.common.progress import report_progress
from workers.posting.handler import ClaimsHandler, PostingHandler

#: A batch closes at this many messages or after this many seconds, whichever comes first.
MAX_BATCH = 500
MAX_WAIT_SECONDS = 0.5


def build(settings: Settings) -> faust.App:
    app = make_app("posting", settings)
    engine = make_engine(settings.database_url)
    publish = publisher(app)
    prefix = settings.topic_prefix
    claims_runner = BatchRunner(ClaimsHandler(), engine, publish, topic_prefix=prefix)
    postings_runner = BatchRunner(PostingHandler(prefix=prefix), engine, publish, topic_prefix=prefix)

    # concurrency=1: one batch at a time per topic keeps each bill's postings in order.
    @app.agent(raw_topic(app, settings.topic(CLAIMS)), concurrency=1, name="open-bills")
    async def open_bills(stream: faust.StreamT[bytes]) -> None:
        await claims_runner.run(received_batches(stream, MAX_BATCH, MAX_WAIT_SECONDS))

    @app.agent(raw_topic(app, settings.topic(POSTINGS)), concurrency=1, name="apply-postings")
    async def apply_postings(stream: faust.StreamT[bytes]) -> None:
        await postings_runner.run(received_batches(stream, MAX_BATCH, MAX_WAIT_SECONDS))

    report_progress(app, "posting", postings_runner.stats)
    report_progress(app, "posting-claims", claims_runner.stats)
    return app
