"""W3C trace context carried on events, so one trace id follows a request or an
organisation's event through every service to the mail it causes.

Each event dankjewel publishes carries the CloudEvents distributed-tracing
extension attribute `traceparent` (https://www.w3.org/TR/trace-context/): the trace
id of what caused it and a span id of its own. An HTTP request takes the caller's
`traceparent` header or starts a trace; a consumed event continues the trace it
carries, or starts one. Log lines in JSON carry the trace id.

A malformed `traceparent` is ignored (a new trace starts), as the W3C
recommendation says: tracing never refuses an event or a request.
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
        trace = continued(incoming).child()
        response_header = (b"traceresponse", trace.traceparent.encode())

        async def send_with_trace(message) -> None:  # noqa: ANN001
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), response_header]}
            await send(message)

        with within(trace):
            await self.app(scope, receive, send_with_trace)
