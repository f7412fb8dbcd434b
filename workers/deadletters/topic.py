"""Reading the dead-letter topic from its start to its current end, and publishing replays.

No consumer group: an operator's read commits nothing and moves no one's offsets. A client
per command, as the report's reprocess action does: these are people's actions, and the
report service holds no broker connection while idle.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from claimflow.broker.security import client_kwargs
from claimflow.settings import Settings
from contracts.topics import DEAD_LETTER
from workers.common.messages import Outgoing
from workers.deadletters.letters import Letter, parse


class BrokerUnavailable(RuntimeError):
    """The broker could not be read or did not take the replays; said in words."""


async def read_letters(settings: Settings, timeout_ms: int = 15000) -> list[Letter]:
    """Every dead letter on the topic now, in topic order (records that are not dead
    letters, which only a stray producer could write, are left out)."""
    topic = settings.topic(DEAD_LETTER)
    consumer = AIOKafkaConsumer(
        topic,  # given here, so start() loads its metadata and assigns every partition
        bootstrap_servers=settings.bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=timeout_ms,
        **client_kwargs(settings),
    )
    try:
        await consumer.start()
    except Exception as exc:
        raise BrokerUnavailable(f"cannot reach the broker: {type(exc).__name__}") from exc
    try:
        tps = sorted(consumer.assignment(), key=lambda tp: tp.partition)
        if not tps:
            return []
        ends = await consumer.end_offsets(tps)
        await consumer.seek_to_beginning(*tps)
        letters: list[Letter] = []
        pending = {tp for tp in tps if ends[tp] > 0}
        deadline = time.monotonic() + timeout_ms / 1000 * 4
        while pending:
            if time.monotonic() > deadline:
                raise BrokerUnavailable(f"reading {topic} did not reach its end in time")
            fetched = await consumer.getmany(*pending, timeout_ms=1000, max_records=5000)
            for tp, records in fetched.items():
                for r in records:
                    if r.offset < ends[tp]:
                        letter = parse(r.partition, r.offset, r.key, r.value, tuple(r.headers or ()))
                        if letter is not None:
                            letters.append(letter)
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
        letters.sort(key=lambda x: (x.meta.dead_lettered_at, x.partition, x.offset))
        return letters
    except BrokerUnavailable:
        raise
    except Exception as exc:
        raise BrokerUnavailable(f"reading {topic} failed: {type(exc).__name__}") from exc
    finally:
        await consumer.stop()


async def publish(settings: Settings, out: Sequence[Outgoing], timeout_ms: int = 15000) -> None:
    """Send every message and wait until the broker has each one (acks=all)."""
    if not out:
        return
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        request_timeout_ms=timeout_ms,
        max_request_size=4 * 1024 * 1024,
        **client_kwargs(settings),
    )
    try:
        await producer.start()
    except Exception as exc:
        raise BrokerUnavailable(f"cannot reach the broker: {type(exc).__name__}") from exc
    try:
        sent = [await producer.send(o.topic, o.value, key=o.key, headers=list(o.headers)) for o in out]
        for future in sent:
            await future
    except Exception as exc:
        raise BrokerUnavailable(f"the broker did not take the replays: {type(exc).__name__}") from exc
    finally:
        await producer.stop()
