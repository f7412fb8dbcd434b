"""Talk to a running cluster with aiokafka's admin client: readiness, topics.

Every function takes the client's security options as keyword arguments
(`claimflow.broker.security.client_kwargs(settings)`).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Mapping
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from claimflow.logs import get_logger
from contracts.topics import PARTITIONS

log = get_logger(__name__)

#: Kafka error codes create_topics may answer per topic that mean "nothing to do".
TOPIC_ALREADY_EXISTS = 36


class TopicError(RuntimeError):
    """The cluster refused to create a topic for a reason other than 'already exists'."""


def topic_names(prefix: str = "", partitions: Mapping[str, int] = PARTITIONS) -> dict[str, int]:
    return {f"{prefix}{name}": count for name, count in partitions.items()}


async def _admin(bootstrap: str, request_timeout_ms: int, **kwargs: Any) -> AIOKafkaAdminClient:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=request_timeout_ms, **kwargs)
    try:
        await admin.start()
    except BaseException:
        await admin.close()
        raise
    return admin


def port_open(bootstrap: str, timeout: float = 1.0) -> bool:
    """A plain TCP connect to the first bootstrap address; cheap and quiet, unlike a client
    that logs an ERROR for every refused connection while the JVM is still starting."""
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


async def ping(bootstrap: str, timeout: float = 5.0, **kwargs: Any) -> bool:
    """True if a Kafka broker answers a metadata request at `bootstrap`."""
    if not port_open(bootstrap, timeout=min(timeout, 2.0)):
        return False
    try:
        async with asyncio.timeout(timeout):
            admin = await _admin(bootstrap, int(timeout * 1000), **kwargs)
            try:
                await admin.describe_cluster()
            finally:
                await admin.close()
    except (KafkaError, OSError, TimeoutError):
        return False
    return True


async def wait_until_ready(bootstrap: str, timeout: float = 90.0, **kwargs: Any) -> None:
    deadline = time.monotonic() + timeout
    while not await ping(bootstrap, timeout=min(5.0, max(1.0, deadline - time.monotonic())), **kwargs):
        if time.monotonic() >= deadline:
            raise TimeoutError(f"no Kafka broker answered at {bootstrap} within {timeout:.0f}s")
        await asyncio.sleep(0.5)


async def warm_up_groups(bootstrap: str, timeout: float = 30.0, **kwargs: Any) -> None:
    """Ask for a group coordinator once, so the broker creates __consumer_offsets now
    rather than making the first worker log GroupCoordinatorNotAvailable and retry."""
    admin = await _admin(bootstrap, 30_000, **kwargs)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                await admin.find_coordinator("claimflow-broker-warm-up")
                return
            except KafkaError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.3)
    finally:
        await admin.close()


async def list_topics(bootstrap: str, **kwargs: Any) -> list[str]:
    admin = await _admin(bootstrap, 30_000, **kwargs)
    try:
        return sorted(await admin.list_topics())
    finally:
        await admin.close()


async def create_topics(
    bootstrap: str,
    prefix: str = "",
    partitions: Mapping[str, int] = PARTITIONS,
    replication_factor: int = 1,
    **kwargs: Any,
) -> list[str]:
    """Create the topics that are missing (idempotent). Returns the names created now.

    An existing topic with fewer partitions than contracts/topics.py asks for is left
    alone but logged: growing it would re-map keys to partitions behind the workers' back.
    """
    wanted = topic_names(prefix, partitions)
    admin = await _admin(bootstrap, 30_000, **kwargs)
    try:
        existing = {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics()}
        for name, count in wanted.items():
            if name in existing and existing[name] < count:
                log.warning("kafka.topic.fewer_partitions", topic=name, has=existing[name], wants=count)
        missing = [
            NewTopic(name, num_partitions=count, replication_factor=replication_factor)
            for name, count in wanted.items()
            if name not in existing
        ]
        if not missing:
            return []
        response = await admin.create_topics(missing)
        created: list[str] = []
        for entry in response.topic_errors:
            name, code = entry[0], entry[1]
            if code == 0:
                created.append(name)
            elif code != TOPIC_ALREADY_EXISTS:  # a concurrent creator got there first: fine
                message = entry[2] if len(entry) > 2 else ""
                raise TopicError(f"could not create topic {name}: error {code} {message}")
        if created:
            log.info("kafka.topics.created", topics=created, bootstrap=bootstrap)
            await _wait_for_leaders(admin, created)
        return sorted(created)
    finally:
        await admin.close()


async def _wait_for_leaders(admin: AIOKafkaAdminClient, topics: list[str], timeout: float = 30.0) -> None:
    """A topic is usable once every partition has a leader; the first produce or fetch
    right after creation would otherwise see LEADER_NOT_AVAILABLE and retry slowly."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = await admin.describe_topics(topics)
        if all(
            t["error_code"] == 0 and t["partitions"] and all(p["leader"] >= 0 for p in t["partitions"])
            for t in described
        ):
            return
        await asyncio.sleep(0.2)
    log.warning("kafka.topics.no_leader_yet", topics=topics, waited_seconds=timeout)


async def delete_topics(bootstrap: str, topics: list[str], **kwargs: Any) -> None:
    admin = await _admin(bootstrap, 30_000, **kwargs)
    try:
        await admin.delete_topics(topics)
    finally:
        await admin.close()
