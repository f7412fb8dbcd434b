"""W3C trace context through the pipeline, carried in Kafka headers (`traceparent`, `tracestate`).

A message that arrives with a trace context is processed in a span that is its child
(OpenTelemetry's API), and what the worker emits for it carries that span's context: a
charge's claim or failure, a posting's result, a reprocess request's replayed charges and
result, and a dead letter. The batch loop starts the spans (`start_batch`) and swaps each
traced input's headers for its span's context, so a handler only copies `carried(source)`
onto the answers of that input. A message without a context costs one truth test per batch.

Without an exporter (the default) no span is recorded: OpenTelemetry's API passes the
incoming context through unchanged, so the trace id still reaches the answers. With
`CLAIMFLOW_TRACE_EXPORTER=console` the SDK records the spans and prints them to stderr.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterable, Mapping, Sequence

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from claimflow.settings import Settings
from workers.common.messages import Received

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
_NAMES = frozenset((TRACEPARENT, TRACESTATE))

Headers = tuple[tuple[str, bytes], ...]

_PROPAGATOR = TraceContextTextMapPropagator()
#: A proxy: it follows whichever provider `configure` installs, even if that happens later.
tracer = trace.get_tracer("claimflow")
_configured = False


class _KafkaHeaders(Getter[Headers]):
    def get(self, carrier: Headers, key: str) -> list[str] | None:
        values = [value.decode("latin-1") for name, value in carrier if name == key]
        return values or None

    def keys(self, carrier: Headers) -> list[str]:
        return [name for name, _ in carrier]


_GETTER = _KafkaHeaders()


def extract(headers: Headers) -> Context:
    """The trace context in Kafka headers (an empty context if there is none or it is invalid)."""
    return _PROPAGATOR.extract(headers, getter=_GETTER)


def extract_http(headers: Mapping[str, str]) -> Context:
    """The trace context of an HTTP request's headers."""
    return _PROPAGATOR.extract(headers)


def inject(context: Context | None = None) -> Headers:
    """Kafka headers for `context` (default: the current one); empty without a valid span."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=context)
    return tuple((name, value.encode("latin-1")) for name, value in carrier.items())


def carried(source: Received | None) -> Headers:
    """The trace headers to put on what is emitted for `source` (empty if it carries none)."""
    headers = source.headers if source is not None else None
    if not headers:
        return ()
    return tuple(h for h in headers if h[0] in _NAMES)


def start_batch(worker: str, batch: Sequence[Received]) -> tuple[Sequence[Received], list[Span]]:
    """Start a processing span for every traced message of a batch.

    Returns the batch with each traced message's trace headers replaced by its span's
    context (so `carried` hands that on), and the spans, which `end` closes once the
    batch's answers are delivered.
    """
    if not any(r.headers for r in batch):
        return batch, []
    spans: list[Span] = []
    out: list[Received] = []
    for received in batch:
        headers = received.headers
        if headers and any(name == TRACEPARENT for name, _ in headers):
            span = tracer.start_span(
                f"process {received.topic}",
                context=extract(headers),
                kind=SpanKind.CONSUMER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.operation.type": "process",
                    "messaging.destination.name": received.topic,
                    "messaging.destination.partition.id": str(received.partition),
                    "messaging.kafka.offset": received.offset,
                    "claimflow.worker": worker,
                },
            )
            mine = inject(trace.set_span_in_context(span))
            received = dataclasses.replace(
                received, headers=tuple(h for h in headers if h[0] not in _NAMES) + mine
            )
            spans.append(span)
        out.append(received)
    return (out, spans) if spans else (batch, spans)


def end(spans: Iterable[Span]) -> None:
    for span in spans:
        span.end()


def configure(settings: Settings, service: str) -> None:
    """Install the SDK's tracer provider if an exporter is configured (once per process)."""
    global _configured
    if _configured or settings.trace_exporter == "none":
        return
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": f"claimflow-{service}"}))
    provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stderr)))
    trace.set_tracer_provider(provider)
    _configured = True
