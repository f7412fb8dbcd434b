"""The publisher tells a request too large for the broker from a broker that is down."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError

from claimflow.settings import get_settings
from contracts.reprocess import ReprocessRequest
from workers.report import publish

REQUEST = ReprocessRequest(
    request_id="rr-1",
    requested_by="ann",
    company_id="acme-therapy",
    charge_ids=["A1"],
    requested_at=dt.datetime(2026, 11, 20, tzinfo=dt.UTC),
)


def fake_producer(error: Exception) -> type:
    class Producer:
        def __init__(self, **_kwargs: Any) -> None: ...

        async def start(self) -> None: ...

        async def stop(self) -> None: ...

        async def send_and_wait(self, *_args: Any, **_kwargs: Any) -> None:
            raise error

    return Producer


def test_message_too_large_is_its_own_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(publish, "AIOKafkaProducer", fake_producer(MessageSizeTooLargeError()))
    with pytest.raises(publish.MessageTooLarge, match="more than the broker takes; select fewer charges"):
        asyncio.run(publish.KafkaPublisher(get_settings())(REQUEST))


def test_other_broker_errors_stay_publish_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(publish, "AIOKafkaProducer", fake_producer(KafkaConnectionError()))
    with pytest.raises(publish.PublishError) as caught:
        asyncio.run(publish.KafkaPublisher(get_settings())(REQUEST))
    assert not isinstance(caught.value, publish.MessageTooLarge)
