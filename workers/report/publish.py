"""Publishing a biller's reprocess action: one ReprocessRequest on `billing.reprocess-requests`.

A producer per request: reprocessing is a person clicking a button, so a second spent
connecting costs nothing, and the report service holds no broker connection while idle
(it starts and answers searches with the broker down).
"""

from __future__ import annotations

from typing import Protocol

from aiokafka import AIOKafkaProducer

from claimflow.broker.admin import client_kwargs
from claimflow.settings import Settings
from contracts.codec import encode
from contracts.reprocess import ReprocessRequest
from contracts.topics import REPROCESS_REQUESTS
from workers.common.tracing import inject


class Publisher(Protocol):
    async def __call__(self, request: ReprocessRequest) -> None: ...


class PublishError(RuntimeError):
    """The broker did not take the request; nothing was published."""


class KafkaPublisher:
    def __init__(self, settings: Settings, timeout_ms: int = 15000) -> None:
        self.settings = settings
        self.topic = settings.topic(REPROCESS_REQUESTS)
        self.timeout_ms = timeout_ms

    async def __call__(self, request: ReprocessRequest) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.bootstrap_servers,
            acks="all",
            enable_idempotence=True,
            request_timeout_ms=self.timeout_ms,
            **client_kwargs(self.settings),
        )
        try:
            await producer.start()
        except Exception as exc:
            raise PublishError(f"cannot reach the broker: {type(exc).__name__}") from exc
        try:
            # The current trace context (the report's span for this request), if any.
            headers = list(inject()) or None
            await producer.send_and_wait(
                self.topic, encode(request), key=request.request_id.encode(), headers=headers
            )
        except Exception as exc:
            raise PublishError(f"the broker did not accept the request: {type(exc).__name__}") from exc
        finally:
            await producer.stop()
