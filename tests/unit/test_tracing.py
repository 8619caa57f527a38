"""W3C trace context: parsed leniently, carried on events, continued by HTTP and
consumers, and named in JSON log lines."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from fastapi import FastAPI

from shared import tracing
from shared.contracts import SHIFT_COMPLETED, ShiftCompleted
from shared.delivery import Unit
from shared.envelope import new_event, parse_record, to_record
from shared.http import harden
from shared.metrics import JsonFormatter, logged
from services.settings import load_settings
from tests.unit.test_envelope import ACCEPTS_SHIFTS, SHIFT, binary_headers, envelope_json

VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.mark.parametrize("value, expected", [
    (VALID, ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", True)),
    (VALID[:-2] + "00", ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", False)),
    (VALID.encode(), ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", True)),
    ("01" + VALID[2:] + "-later-fields", ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", True)),
    (VALID + "-x", None),  # version 00 has exactly four fields
    ("ff" + VALID[2:], None),  # version ff is invalid
    ("00-" + "0" * 32 + "-00f067aa0ba902b7-01", None),  # all-zero trace id
    ("00-4bf92f3577b34da6a3ce929d0e0e4736-" + "0" * 16 + "-01", None),  # all-zero span id
    ("00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", None),  # short trace id
    ("00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01", None),  # not hex
    ("", None),
    (None, None),
    ("x" * 10_000, None),
])
def test_traceparent_is_parsed_or_ignored(value, expected):
    trace = tracing.parse(value)
    assert (None if trace is None else (trace.trace_id, trace.span_id, trace.sampled)) == expected


def test_a_child_keeps_the_trace_and_gets_its_own_span():
    parent = tracing.parse(VALID)
    child = parent.child()
    assert child.trace_id == parent.trace_id and child.span_id != parent.span_id
    assert tracing.parse(child.traceparent) == child


def test_events_carry_traceparent_in_structured_and_binary_mode():
    sent = new_event(SHIFT_COMPLETED, ShiftCompleted(**SHIFT), "tasks", traceparent=VALID)
    _, value, headers = to_record(sent)
    assert json.loads(value)["traceparent"] == VALID
    assert parse_record(headers, value, "shifts.completed", ACCEPTS_SHIFTS).traceparent == VALID
    binary = parse_record(binary_headers(traceparent=VALID), json.dumps(SHIFT).encode(), "shifts.completed",
                          ACCEPTS_SHIFTS)
    assert binary.traceparent == VALID


@pytest.mark.parametrize("bad", ["nonsense", "ff" + VALID[2:], 17])
def test_a_malformed_traceparent_is_ignored_not_refused(bad):
    event = parse_record([("content-type", b"application/cloudevents+json")], envelope_json(traceparent=bad),
                         "shifts.completed", ACCEPTS_SHIFTS)
    assert event.traceparent is None and event.data == ShiftCompleted(**SHIFT)


async def test_an_emitted_event_continues_the_current_trace():
    unit = Unit(session=None, tables=None, source="tasks", settings=None)  # emit only stages a row
    with tracing.within(tracing.parse(VALID)):
        inside = await unit.emit(SHIFT_COMPLETED, ShiftCompleted(**SHIFT))
    outside = await unit.emit(SHIFT_COMPLETED, ShiftCompleted(**SHIFT))
    assert tracing.parse(inside.traceparent).trace_id == tracing.parse(VALID).trace_id
    assert tracing.parse(inside.traceparent).span_id != tracing.parse(VALID).span_id
    assert tracing.parse(outside.traceparent).trace_id != tracing.parse(VALID).trace_id  # a trace of its own


async def test_http_requests_run_inside_the_callers_trace_or_a_new_one(tmp_path):
    app = FastAPI()
    seen = []

    @app.get("/here")
    async def here() -> dict:
        seen.append(tracing.current.get())
        return {}

    harden(app, load_settings(api_tokens_file=tmp_path / "tokens.json"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
        answer = await client.get("/here", headers={"traceparent": VALID})
        fresh = await client.get("/here", headers={"traceparent": "garbage"})
    assert seen[0].trace_id == tracing.parse(VALID).trace_id
    assert tracing.parse(answer.headers["traceresponse"]) == seen[0]
    assert seen[1].trace_id != seen[0].trace_id and tracing.parse(fresh.headers["traceresponse"]) == seen[1]
    assert tracing.current.get() is None  # nothing leaks out of the request


def test_json_log_lines_name_the_trace_and_the_record():
    record = logging.LogRecord("dankjewel", logging.INFO, __file__, 1, "applied", None, None)
    with tracing.within(tracing.parse(VALID)), logged(topic="shifts.completed", partition=2), \
            logged(event_id="e1", event_type=SHIFT_COMPLETED.type):
        line = json.loads(JsonFormatter().format(record))
    assert line["trace_id"] == tracing.parse(VALID).trace_id
    assert (line["topic"], line["partition"], line["event_id"], line["event_type"]) == \
        ("shifts.completed", 2, "e1", SHIFT_COMPLETED.type)
    assert "trace_id" not in json.loads(JsonFormatter().format(record))  # outside: none


@pytest.fixture
def exported_spans():
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    tracing.enable_spans(exporter)
    yield exporter
    tracing.disable_spans()


async def test_with_an_exporter_a_request_and_the_event_it_emits_are_spans_of_the_callers_trace(
        exported_spans, tmp_path):
    app = FastAPI()
    emitted = []

    @app.post("/shifts")
    async def report() -> dict:
        unit = Unit(session=None, tables=None, source="tasks", settings=None)
        emitted.append(await unit.emit(SHIFT_COMPLETED, ShiftCompleted(**SHIFT)))
        return {}

    harden(app, load_settings(api_tokens_file=tmp_path / "tokens.json"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
        answer = await client.post("/shifts", headers={"traceparent": VALID})
    [request_span] = exported_spans.get_finished_spans()
    caller = tracing.parse(VALID)
    assert request_span.name == "POST /shifts"
    assert f"{request_span.context.trace_id:032x}" == caller.trace_id
    assert f"{request_span.parent.span_id:016x}" == caller.span_id  # a child of the caller's span
    assert tracing.parse(answer.headers["traceresponse"]).span_id == f"{request_span.context.span_id:016x}"
    assert tracing.parse(emitted[0].traceparent).trace_id == caller.trace_id


def test_handling_a_consumed_event_is_a_span_continuing_its_trace(exported_spans):
    from shared.consumer import handling

    event = new_event(SHIFT_COMPLETED, ShiftCompleted(**SHIFT), "roster", traceparent=VALID)
    with handling(event):
        inside = tracing.current.get()
    [handled] = exported_spans.get_finished_spans()
    assert handled.name == f"handle {SHIFT_COMPLETED.type}"
    assert f"{handled.context.trace_id:032x}" == inside.trace_id == tracing.parse(VALID).trace_id
    assert handled.attributes["messaging.message.id"] == event.id


def test_without_an_exporter_no_span_is_made_and_the_trace_still_flows():
    from shared.consumer import handling

    event = new_event(SHIFT_COMPLETED, ShiftCompleted(**SHIFT), "roster", traceparent=VALID)
    with handling(event):
        assert tracing.current.get() == tracing.parse(VALID)
    assert tracing._tracer is None


def test_a_unit_adds_up_the_time_of_each_phase():
    unit = Unit(session=None, tables=None, source="tasks", settings=None)
    for _ in range(2):
        with unit.timed("load"):
            pass
    with pytest.raises(ZeroDivisionError), unit.timed("rules"):
        1 / 0  # noqa: B018 - a failing phase still counts its time
    assert set(unit.timings) == {"load", "rules"} and all(seconds >= 0 for seconds in unit.timings.values())


async def test_a_span_is_named_by_its_route_never_by_the_path_a_token_is_in(exported_spans, tmp_path):
    app = FastAPI()

    @app.get("/shifts/decline/{token}")
    async def decline(token: str) -> dict:
        return {}

    harden(app, load_settings(api_tokens_file=tmp_path / "tokens.json"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
        await client.get("/shifts/decline/gAAAAAB-a-signed-link-token")
        await client.get("/nowhere/gAAAAAB-another-token")
    names = [span.name for span in exported_spans.get_finished_spans()]
    assert names == ["GET /shifts/decline/{token}", "GET (no route)"]
