"""W3C trace context carried on events, so one trace id follows a request or an
organisation's event through every service to the mail it causes.

Each event dankjewel publishes carries the CloudEvents distributed-tracing
extension attribute `traceparent` (https://www.w3.org/TR/trace-context/): the trace
id of what caused it and a span id of its own. An HTTP request takes the caller's
`traceparent` header or starts a trace; a consumed event continues the trace it
carries, or starts one. Log lines in JSON carry the trace id.

A malformed `traceparent` is ignored (a new trace starts), as the W3C
recommendation says: tracing never refuses an event or a request.

OpenTelemetry spans are an optional extra (`pip install 'dankjewel[otel]'`), off
unless OTEL_EXPORTER_OTLP_ENDPOINT is set: then an HTTP request, the handling of a
consumed event and the sending of a mail each become a span in the same trace,
exported over OTLP/HTTP. Without it `span()` only sets the current trace.
"""

from __future__ import annotations

import contextvars
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
HEADER = "traceparent"


@dataclass(frozen=True)
class Trace:
    trace_id: str
    span_id: str
    sampled: bool = True

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"

    def child(self) -> "Trace":
        """The same trace, a new span (an event or a mail this one causes)."""
        return Trace(self.trace_id, secrets.token_hex(8), self.sampled)


def new_trace() -> Trace:
    return Trace(secrets.token_hex(16), secrets.token_hex(8))


def parse(value: str | bytes | None) -> Trace | None:
    """The trace a `traceparent` value names, or None when it is missing or malformed
    (wrong shape, version ff, or an all-zero id)."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    value = (value or "").strip().lower()
    if len(value) > 55 and not value.startswith("00") and value[55] == "-":
        value = value[:55]  # a later version may append fields; the first four stay
    match = _TRACEPARENT.match(value) if len(value) == 55 else None
    if match is None:
        return None
    version, trace_id, span_id, flags = match.groups()
    if version == "ff" or trace_id == "0" * 32 or span_id == "0" * 16:
        return None
    return Trace(trace_id, span_id, bool(int(flags, 16) & 1))


current: contextvars.ContextVar[Trace | None] = contextvars.ContextVar("dankjewel_trace", default=None)


def continued(traceparent: str | bytes | None) -> Trace:
    """The trace to continue for an incoming request or event: its own, else a new one."""
    return parse(traceparent) or new_trace()


@contextmanager
def within(trace: Trace) -> Iterator[Trace]:
    """Make `trace` the current one for the code inside (and the tasks it starts)."""
    token = current.set(trace)
    try:
        yield trace
    finally:
        current.reset(token)


# The OpenTelemetry tracer when spans are exported (enable_spans), else None.
_tracer = None


def enable_spans(exporter=None, *, endpoint: str | None = None, service: str = "dankjewel") -> None:  # noqa: ANN001
    """Export spans: through `exporter` (tests), or OTLP/HTTP to `endpoint`. Needs the
    `otel` extra; says how to install it when it is missing."""
    global _tracer
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    except ImportError:
        raise RuntimeError("OTEL_EXPORTER_OTLP_ENDPOINT is set but OpenTelemetry is not installed: "
                           "pip install 'dankjewel[otel]'") from None
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces")))
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    _tracer = provider.get_tracer("dankjewel")


def disable_spans() -> None:
    global _tracer
    _tracer = None


@contextmanager
def span(name: str, parent: Trace, **attributes: str | int) -> Iterator[Trace]:
    """Run the code inside as a span `name`, a child of `parent`, and make it the
    current trace. Without an exporter: the current trace is `parent`, and that is all."""
    if _tracer is None:
        with within(parent):
            yield parent
        return
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

    remote = SpanContext(int(parent.trace_id, 16), int(parent.span_id, 16), is_remote=True,
                         trace_flags=TraceFlags(TraceFlags.SAMPLED if parent.sampled else TraceFlags.DEFAULT))
    with _tracer.start_as_current_span(name, context=set_span_in_context(NonRecordingSpan(remote)),
                                       attributes=attributes) as started:
        context = started.get_span_context()
        with within(Trace(f"{context.trace_id:032x}", f"{context.span_id:016x}", parent.sampled)) as trace:
            yield trace


def name_current_span(name: str) -> None:
    """Rename the current span once its name is known (no-op without an exporter)."""
    if _tracer is not None:
        from opentelemetry.trace import get_current_span

        get_current_span().update_name(name[:200])


def _route_template(scope: dict) -> str:
    """The matched route's template ("/shifts/decline/{token}"), never the path itself:
    a path can carry a signed link's token, a credential. Mounted apps (`run all`)
    add their prefix."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return f"{scope.get('root_path', '')}{template}" if template else "(no route)"


def traceparent_for_new_event() -> str:
    """The `traceparent` of an event published now: a child of the current trace, or
    the start of a trace (a sweep's event, say, has no cause outside)."""
    trace = current.get()
    return (trace.child() if trace else new_trace()).traceparent


class TraceContextMiddleware:
    """Pure ASGI middleware: each HTTP request runs inside the caller's trace (its
    `traceparent` header) or a new one, and the response names it in a
    `traceresponse` header (W3C Trace Context level 2), so a caller can find the
    events and mails its request caused."""

    def __init__(self, app) -> None:  # noqa: ANN001 - an ASGI app
        self.app = app

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http" or current.get() is not None:  # not HTTP, or an outer app traced it
            await self.app(scope, receive, send)
            return
        incoming = next((value for name, value in scope.get("headers", ()) if name == b"traceparent"), None)
        parent = parse(incoming) or new_trace()
        method = scope.get("method", "HTTP")
        # Named by method until the route is known: a path can hold a signed link's token.
        with span(method, parent, **{"http.request.method": method}) as spanned, \
                within(parent.child() if spanned is parent else spanned) as trace:  # the request's own span id
            response_header = (b"traceresponse", trace.traceparent.encode())

            async def send_with_trace(message) -> None:  # noqa: ANN001
                if message["type"] == "http.response.start":
                    message = {**message, "headers": [*message.get("headers", ()), response_header]}
                await send(message)

            try:
                await self.app(scope, receive, send_with_trace)
            finally:
                name_current_span(f"{method} {_route_template(scope)}")
