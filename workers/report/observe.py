"""The report service's metrics, access log and probes: `/metrics`, `/livez`, `/readyz`
(beside `/healthz`).

Requests are counted by route template (`/failures/{charge_id}`, never the charge id
itself) and status, with a latency histogram, and logged as one line each, in a plain ASGI
middleware: it sees every response, including the 400s, 401s, 413s and 422s that never
reach an endpoint.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI, Response, status
from fastapi.concurrency import run_in_threadpool
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from sqlalchemy import Engine

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("claimflow.report")

REQUESTS = Counter(
    "claimflow_http_requests",
    "Report service requests, by method, route template and status",
    ["method", "route", "status"],
)
REQUEST_SECONDS = Histogram(
    "claimflow_http_request_seconds",
    "Report service latency, from the request to the end of the response",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


class RequestMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        code = 500  # what the server answers when the app raises before responding

        async def send_and_note(message: Message) -> None:
            nonlocal code
            if message["type"] == "http.response.start":
                code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            # The router puts the matched route in the scope; an unmatched path is one label,
            # so a scan of random URLs cannot grow the series without bound.
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope.get("method", "")
            seconds = time.perf_counter() - started
            REQUESTS.labels(method, route, str(code)).inc()
            REQUEST_SECONDS.labels(method, route).observe(seconds)
            # The access log: the path, never the query string (filters may name a payer, a
            # careless client may put a token there); uvicorn's own access log is off.
            log.info("%s %s %d %.0fms", method, scope.get("path", ""), code, seconds * 1000)


def instrument(app: FastAPI, db: Engine) -> None:
    """The probes and /metrics; `RequestMetrics` is added by the app, outermost."""

    @app.get("/metrics", summary="Prometheus metrics", tags=["service"], include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    @app.get("/livez", summary="Liveness: the service answers", tags=["service"])
    def livez() -> dict[str, str]:
        return {"status": "live"}

    @app.get("/readyz", summary="Readiness: the database answers", tags=["service"])
    async def readyz(response: Response) -> dict[str, str]:
        try:
            await run_in_threadpool(_ping, db)
        except Exception as exc:  # not ready, whatever the reason; its type only
            response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
            return {"status": "not ready", "database": f"unavailable: {type(exc).__name__}"}
        return {"status": "ready", "database": "ok"}


def _ping(db: Engine) -> None:
    with db.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
