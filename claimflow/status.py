"""`claimflow status`: what an on-call engineer asks first. Is the broker up, how far
behind is each worker (consumer-group lag per topic), and what has the pipeline done."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, inspect, text

from claimflow.settings import Settings
from contracts import topics

#: worker -> the topics its consumer group reads
CONSUMES = {
    "formatter": (topics.CHARGES,),
    "posting": (topics.CLAIMS, topics.POSTINGS),
    "reprocess": (topics.REPROCESS_REQUESTS,),
    "clearinghouse": (topics.CLAIMS,),
    "remittance": (topics.CLAIMS, topics.REMITTANCES),
}


@dataclass(frozen=True)
class Lag:
    worker: str
    topic: str
    committed: int
    end: int

    @property
    def behind(self) -> int:
        return max(self.end - self.committed, 0)


async def consumer_lag(settings: Settings) -> list[Lag]:
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    from claimflow.broker.security import client_kwargs

    kwargs = client_kwargs(settings)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers, **kwargs)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers, **kwargs)
    await admin.start()
    await consumer.start()
    try:
        wanted = [settings.topic(n) for names in CONSUMES.values() for n in names]
        partitions = {
            t["topic"]: sorted(p["partition"] for p in t.get("partitions", []))
            for t in await admin.describe_topics(wanted)
        }
        out = []
        for worker, names in CONSUMES.items():
            group = f"{settings.topic_prefix}claimflow-{worker}"
            committed = await admin.list_consumer_group_offsets(group)
            for name in names:
                topic = settings.topic(name)
                tps = [TopicPartition(topic, p) for p in partitions.get(topic, [])]
                ends = await consumer.end_offsets(tps) if tps else {}
                done = sum(max(committed[tp].offset, 0) for tp in tps if tp in committed)
                out.append(Lag(worker, topic, done, sum(ends.values())))
        return out
    finally:
        await consumer.stop()
        await admin.close()


#: (label, SQL, table that must exist)
COUNTS = (
    (
        "charges handled",
        "SELECT COUNT(*) FROM formatter_charges WHERE outcome <> 'held'",
        "formatter_charges",
    ),
    ("charges held", "SELECT COUNT(*) FROM held_charges WHERE released_at IS NULL", "held_charges"),
    ("formatter runs", "SELECT COUNT(*) FROM formatter_runs", "formatter_runs"),
    ("claims", "SELECT COUNT(*) FROM claims", "claims"),
    ("open failures", "SELECT COUNT(*) FROM charge_failures WHERE status = 'open'", "charge_failures"),
    ("reprocessing", "SELECT COUNT(*) FROM charge_failures WHERE status = 'reprocessing'", "charge_failures"),
    ("bills", "SELECT COUNT(*) FROM bills", "bills"),
    ("postings answered", "SELECT COUNT(*) FROM posting_answers", "posting_answers"),
    ("reprocess requests", "SELECT COUNT(*) FROM reprocess_requests", "reprocess_requests"),
)


def pipeline_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        have = set(inspect(conn).get_table_names())
        return {
            label: int(conn.execute(text(sql)).scalar() or 0) for label, sql, table in COUNTS if table in have
        }


def gather(settings: Settings, engine: Engine) -> dict[str, Any]:
    from claimflow.broker import cluster_status

    broker = cluster_status(settings)
    lag: list[Lag] = []
    lag_error = None
    access_error = None
    if not broker.running and settings.security_protocol != "PLAINTEXT":
        from claimflow.broker import run_sync
        from claimflow.broker.security import access_problem

        # "Down" and "refused us" need different fixes: say which.
        access_error = run_sync(access_problem(settings))
    if broker.running:
        try:
            lag = asyncio.run(asyncio.wait_for(consumer_lag(settings), timeout=20))
        except Exception as exc:  # the status page must still show the database side
            lag_error = f"{type(exc).__name__}: {exc}"
    return {
        "broker": {
            "running": broker.running,
            "bootstrap": broker.bootstrap,
            "external": broker.external,
            "error": access_error,
        },
        "lag": [
            {"worker": x.worker, "topic": x.topic, "committed": x.committed, "end": x.end, "behind": x.behind}
            for x in lag
        ],
        "lag_error": lag_error,
        "counts": pipeline_counts(engine),
    }
