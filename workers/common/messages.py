"""Messages in and out of a worker's batch, independent of faust's event types."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from pydantic import BaseModel

from contracts.codec import encode

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Received:
    """Where a message came from; enough to dead-letter it or to explain it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class Incoming(Generic[M]):
    message: M
    source: Received


@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = field(default=())

    @classmethod
    def of(
        cls, topic: str, key: str, model: BaseModel, headers: tuple[tuple[str, bytes], ...] = ()
    ) -> Outgoing:
        return cls(topic=topic, key=key.encode(), value=encode(model), headers=headers)
