"""A worker's HTTP endpoints: `/metrics` (Prometheus), `/livez` and `/readyz`.

A tiny aiohttp app (faust already depends on aiohttp) on the worker's own event loop, so a
scrape or a probe that answers also says the loop is not blocked.

- `/livez`: the consumer loop polled or finished a batch within `CLAIMFLOW_LIVENESS_SECONDS`
  (an idle loop polls every 200 ms, so idle is live), and it has not died.
- `/readyz`: the consumer has joined its group and been given its partitions (possibly
  none, when the group has more members than partitions), and the database answers.

Ports: `CLAIMFLOW_METRICS_PORT` (default 9460) plus the worker's offset (formatter 0,
posting 1, reprocess 2, clearinghouse 3, remittance 4). When that port is taken (a second
instance on the host), the worker tries the same offset 10, 20, ... 90 ports higher, and
logs the port it serves on; when all are taken it logs `metrics_port_unavailable` and runs
without them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

from aiohttp import web
from mode import Service
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from sqlalchemy import Engine

from claimflow.logs import get_logger
from claimflow.settings import Settings
from workers.common.consumer import BatchConsumer

log = get_logger("claimflow.health")

#: Each worker's place after CLAIMFLOW_METRICS_PORT.
PORT_OFFSETS = {"formatter": 0, "posting": 1, "reprocess": 2, "clearinghouse": 3, "remittance": 4}
PORT_STEP = 10
PORT_TRIES = 10
#: A readiness probe must answer before a probe's usual timeout, even with the database hung.
DB_CHECK_SECONDS = 2.0


def candidate_ports(base: int, worker: str) -> Iterator[int]:
    first = base + PORT_OFFSETS.get(worker, 5)
    return (first + PORT_STEP * i for i in range(PORT_TRIES))


def ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")


class HealthServer(Service):
    def __init__(
        self, settings: Settings, worker: str, consumer: BatchConsumer, engine: Engine, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.worker = worker
        self.consumer = consumer
        self.engine = engine
        self.port: int | None = None
        self._runner: web.AppRunner | None = None

    def web_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/livez", self.livez)
        app.router.add_get("/readyz", self.readyz)
        return app

    async def on_start(self) -> None:
        runner = web.AppRunner(self.web_app(), access_log=None)
        await runner.setup()
        self._runner = runner
        for port in candidate_ports(self.settings.metrics_port, self.worker):
            try:
                await web.TCPSite(runner, self.settings.metrics_host, port).start()
            except OSError:
                continue
            self.port = port
            log.info("metrics_serving", worker=self.worker, host=self.settings.metrics_host, port=port)
            return
        log.warning("metrics_port_unavailable", worker=self.worker, base=self.settings.metrics_port)

    async def on_stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def livez(self, request: web.Request) -> web.Response:
        since = time.monotonic() - self.consumer.beat
        live = since < self.settings.liveness_seconds and BatchConsumer.fatal is None
        body = {"status": "live" if live else "stalled", "seconds_since_progress": round(since, 1)}
        return web.json_response(body, status=200 if live else 503)

    async def readyz(self, request: web.Request) -> web.Response:
        try:
            await asyncio.wait_for(asyncio.to_thread(ping, self.engine), DB_CHECK_SECONDS)
            database = "ok"
        except Exception as exc:  # any failure to answer is "not ready", with its type only
            database = f"unavailable: {type(exc).__name__}"
        consumer = "joined" if self.consumer.joined else "not joined"
        ready = database == "ok" and self.consumer.joined
        body = {"status": "ready" if ready else "not ready", "consumer": consumer, "database": database}
        return web.json_response(body, status=200 if ready else 503)
