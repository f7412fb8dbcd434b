"""W3C trace context in Kafka headers: read, carried to the answers, written."""

from __future__ import annotations

from workers.common import tracing
from workers.common.deadletter import dead_letter
from workers.common.messages import Received

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def received(*headers: tuple[str, bytes]) -> Received:
    return Received("billing.charges", 2, 41, b"k", b"{}", tuple(headers))


def test_a_message_without_a_context_is_left_as_it_is() -> None:
    batch = [received(), received(("x-other", b"1"))]
    same, spans = tracing.start_batch("formatter", batch)
    assert same is batch and spans == []
    assert tracing.carried(batch[0]) == () and tracing.carried(batch[1]) == ()
    assert tracing.carried(None) == ()


def test_the_context_of_a_traced_message_reaches_what_is_emitted_for_it() -> None:
    batch = [received(("traceparent", PARENT.encode()), ("x-other", b"1")), received()]
    handled, spans = tracing.start_batch("formatter", batch)
    assert len(spans) == 1
    tracing.end(spans)
    carried = dict(tracing.carried(handled[0]))
    # Without an SDK the span is the incoming context itself: same trace, same parent.
    assert carried == {"traceparent": PARENT.encode()}
    assert ("x-other", b"1") in handled[0].headers
    assert handled[1] is batch[1]
    assert dict(dead_letter(handled[0], "internal", "boom", "formatter").headers)["traceparent"] == (
        PARENT.encode()
    )


def test_an_invalid_traceparent_is_not_carried_on() -> None:
    batch = [received(("traceparent", b"00-not-a-trace-01"))]
    handled, _ = tracing.start_batch("formatter", batch)
    assert tracing.carried(handled[0]) == ()


def test_inject_and_extract_round_trip() -> None:
    context = tracing.extract((("traceparent", PARENT.encode()), ("tracestate", b"vendor=1")))
    assert dict(tracing.inject(context)) == {"traceparent": PARENT.encode(), "tracestate": b"vendor=1"}
    assert tracing.inject(tracing.extract(())) == ()
    assert dict(tracing.inject(tracing.extract_http({"traceparent": PARENT}))) == {
        "traceparent": PARENT.encode()
    }
