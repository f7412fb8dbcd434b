"""A worker's probes: live while the loop moves, ready once joined with the database up."""

from __future__ import annotations

import time

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import create_engine

from claimflow.settings import Settings
from workers.common.consumer import BatchConsumer
from workers.common.health import HealthServer, candidate_ports


def server(database_url: str = "sqlite://") -> HealthServer:
    settings = Settings(liveness_seconds=60)
    consumer = BatchConsumer(settings, "g", {}, max_batch=10)
    return HealthServer(settings, "formatter", consumer, create_engine(database_url))


async def test_ready_once_joined_and_the_database_answers() -> None:
    health = server()
    async with TestClient(TestServer(health.web_app())) as client:
        answer = await client.get("/readyz")
        assert answer.status == 503
        assert (await answer.json())["consumer"] == "not joined"
        health.consumer.joined = True
        answer = await client.get("/readyz")
        assert answer.status == 200, await answer.text()
        assert await answer.json() == {"status": "ready", "consumer": "joined", "database": "ok"}


async def test_not_ready_when_the_database_does_not_answer() -> None:
    health = server("sqlite:////nonexistent-dir/for/sure/claimflow.db")
    health.consumer.joined = True
    async with TestClient(TestServer(health.web_app())) as client:
        answer = await client.get("/readyz")
        assert answer.status == 503
        assert (await answer.json())["database"].startswith("unavailable: ")


async def test_live_until_the_loop_stops_moving() -> None:
    health = server()
    async with TestClient(TestServer(health.web_app())) as client:
        assert (await client.get("/livez")).status == 200
        health.consumer.beat = time.monotonic() - 61
        answer = await client.get("/livez")
        assert answer.status == 503 and (await answer.json())["status"] == "stalled"
        metrics = await client.get("/metrics")
        assert metrics.status == 200 and "process_cpu_seconds_total" in await metrics.text()


def test_ports_step_past_other_instances_of_the_same_worker() -> None:
    assert list(candidate_ports(9460, "posting"))[:3] == [9461, 9471, 9481]
    assert len(list(candidate_ports(9460, "formatter"))) == 10
