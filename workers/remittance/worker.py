"""The remittance worker: its faust app, 835 files in, postings out, through the batch loop.

Thin on purpose: workers.common.consumer reads `billing.remittances` (and `billing.claims`,
so a parked claim payment is posted once its bill opens) in batches for
workers.common.batch, which decodes them, hands them to the handlers
(workers/remittance/handler.py) in one transaction and publishes the postings after the
commit. The posting worker applies them, like any other posting.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import faust
from sqlalchemy import Engine

from claimflow.db import make_engine
from claimflow.logs import get_logger
from claimflow.settings import Settings
from contracts.codec import encode
from contracts.remittance import RemittanceRetry
from contracts.topics import CLAIMS, REMITTANCES
from workers.common.app import make_app, serve_batches
from workers.common.batch import BatchRunner
from workers.common.faults import NO_FAULTS, FaultHooks
from workers.common.messages import Outgoing
from workers.common.progress import report_progress
from workers.common.publish import publisher
from workers.remittance import storage
from workers.remittance.handler import ClaimsWatch, RemittanceHandler

log = get_logger("claimflow.remittance")

#: Files per transaction: one 835 may hold thousands of claim payments.
MAX_BATCH = 20
#: How often parked claim payments whose bill has opened since are sent for a retry.
RETRY_SECONDS = 5.0


def build(settings: Settings, faults: FaultHooks = NO_FAULTS) -> faust.App:
    app = make_app("remittance", settings)
    engine = make_engine(settings.database_url)
    publish = publisher(app)
    prefix = settings.topic_prefix
    handler = RemittanceHandler(prefix=prefix)
    runner = BatchRunner(handler, engine, publish, topic_prefix=prefix, faults=faults)
    claims_runner = BatchRunner(ClaimsWatch(handler), engine, publish, topic_prefix=prefix, faults=faults)
    consumer = serve_batches(
        app,
        settings,
        {settings.topic(CLAIMS): claims_runner, settings.topic(REMITTANCES): runner},
        max_batch=MAX_BATCH,
    )
    remittances_topic = settings.topic(REMITTANCES)

    @app.timer(interval=RETRY_SECONDS, name="retry-parked-claim-payments")
    async def retry_parked() -> None:
        # The claim that opens a bill may reach this worker before the posting worker has
        # opened it. Parked claim payments whose bill exists now are retried through the
        # topic, so the retry has the batch loop's guarantees (publish after commit).
        try:
            ready = await asyncio.to_thread(_ready, engine)
            if ready:
                retry = RemittanceRetry(claim_ids=ready, requested_at=dt.datetime.now(dt.UTC))
                await publish([Outgoing(remittances_topic, b"retry", encode(retry))])
                log.info("parked_claim_payments_retried", count=len(ready))
        except Exception as exc:
            # An exception escaping a faust timer stops the worker: log, try at the next tick.
            log.error("parked_retry_failed", error=type(exc).__name__)

    report_progress(app, "remittance", runner.stats, consumer)
    return app


def _ready(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted({p.claim_id for p in storage.parked(conn, ready_only=True)})[:500]
