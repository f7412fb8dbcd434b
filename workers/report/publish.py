"""Publishing what a biller asks for: one contract message to its topic.

A reprocess action is one ReprocessRequest on `billing.reprocess-requests` (keyed by its
request id); a posting from a bill page is one Posting on `billing.postings` (keyed by its
bill id, so one bill's postings stay in order). `TOPICS` names each message's topic and
key; one publisher sends any of them.

A producer per message: these are a person clicking a button, so a second spent
connecting costs nothing, and the report service holds no broker connection while idle
(it starts and answers searches with the broker down).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError

from claimflow.broker.security import access_problem, client_kwargs
from claimflow.settings import Settings
from contracts.codec import encode
from contracts.posting import Posting
from contracts.reprocess import ReprocessRequest
from contracts.topics import POSTINGS, REPROCESS_REQUESTS
from workers.common.tracing import inject

Message = ReprocessRequest | Posting

#: Each message type's topic (unprefixed) and its key.
TOPICS: dict[type[Any], tuple[str, Callable[[Any], str]]] = {
    ReprocessRequest: (REPROCESS_REQUESTS, lambda m: m.request_id),
    Posting: (POSTINGS, lambda m: m.bill_id),
}


def route(message: Message) -> tuple[str, bytes]:
    """The message's topic (unprefixed) and key."""
    topic, key = TOPICS[type(message)]
    return topic, key(message).encode()


class Publisher(Protocol):
    async def __call__(self, message: Message) -> None: ...


class PublishError(RuntimeError):
    """The broker did not take the message; nothing was published."""


class MessageTooLarge(PublishError):
    """The request is larger than the broker takes: the client's to shrink, not a failure."""


class KafkaPublisher:
    def __init__(self, settings: Settings, timeout_ms: int = 15000) -> None:
        self.settings = settings
        self.timeout_ms = timeout_ms

    async def __call__(self, message: Message) -> None:
        topic, key = route(message)
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
            await producer.stop()
            problem = (
                await access_problem(self.settings)
                if self.settings.security_protocol != "PLAINTEXT"
                else None
            )
            raise PublishError(problem or f"cannot reach the broker: {type(exc).__name__}") from exc
        try:
            data = encode(message)
            # The current trace context (the report's span for this request), if any.
            headers = list(inject()) or None
            await producer.send_and_wait(self.settings.topic(topic), data, key=key, headers=headers)
        except MessageSizeTooLargeError as exc:
            raise MessageTooLarge(
                f"the message is {len(data)} bytes, more than the broker takes; "
                "select fewer charges or send fewer corrections"
            ) from exc
        except Exception as exc:
            raise PublishError(f"the broker did not accept the message: {type(exc).__name__}") from exc
        finally:
            await producer.stop()
