"""The remittance worker's faust app: 835 files in, postings out, through the batch loop.

Thin on purpose: workers.common.consumer reads `billing.remittances` (and `billing.claims`,
so a parked claim payment is posted once its bill opens) in batches for
workers.common.batch, which decodes them, hands them to the handlers
(workers/remittance/handler.py) in one transaction and publishes the postings after the
commit. The posting worker applies them, like any other posting.
"""

from __future__ import annotations

import faust

from claimflow.db import make_engine
from claimflow.settings import Settings
from contracts.topics import CLAIMS, REMITTANCES
from workers.common.app import make_app, serve_batches
from workers.common.batch import BatchRunner
from workers.common.progress import report_progress
from workers.common.publish import publisher
from workers.remittance.handler import ClaimsWatch, RemittanceHandler

#: Files per transaction: one 835 may hold thousands of claim payments.
MAX_BATCH = 20


def build(settings: Settings) -> faust.App:
    app = make_app("remittance", settings)
    engine = make_engine(settings.database_url)
    publish = publisher(app)
    prefix = settings.topic_prefix
    handler = RemittanceHandler(prefix=prefix)
    runner = BatchRunner(handler, engine, publish, topic_prefix=prefix)
    claims_runner = BatchRunner(ClaimsWatch(handler), engine, publish, topic_prefix=prefix)
    consumer = serve_batches(
        app,
        settings,
        {settings.topic(CLAIMS): claims_runner, settings.topic(REMITTANCES): runner},
        max_batch=MAX_BATCH,
    )
    report_progress(app, "remittance", runner.stats, consumer)
    return app
