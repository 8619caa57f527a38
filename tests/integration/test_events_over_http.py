"""POST /events through real Kafka to a real service and SMTP server: a batch sent
twice thanks the volunteer once, and the trace of the request reaches the event
the service publishes in answer and the sending of the mail (an OpenTelemetry
span, with an in-memory exporter)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.appreciation.service import definition as appreciation
from shared import tracing
from tests.integration.conftest import api_client, eventually, read_topic

TRACE = "00-" + uuid.uuid4().hex + "-00f067aa0ba902b7-01"


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    tracing.enable_spans(exporter)
    yield exporter
    tracing.disable_spans()


async def test_a_batch_over_http_sent_twice_thanks_once_within_the_callers_trace(start_service, mail_settings,
                                                                                  smtp_server, infra, spans):
    runtime = await start_service(appreciation, settings=mail_settings)
    run = uuid.uuid4().hex[:8]
    volunteer, address = f"ingest-{run}", f"ingest.{run}@example.org"
    yesterday = datetime.now(timezone.utc) - timedelta(days=1)
    batch = [
        {"specversion": "1.0", "id": f"reg-{run}", "source": "https://crm.example.org",
         "type": "dankjewel.volunteer.registered.v1",
         "data": {"volunteer_id": volunteer, "name": "Anna Bakker", "email": address, "language": "nl",
                  "registered_at": (yesterday - timedelta(days=30)).isoformat()}},
        {"specversion": "1.0", "id": f"shift-{run}", "source": "https://roster.example.org",
         "type": "dankjewel.shift.completed.v1",
         "data": {"volunteer_id": volunteer, "shift_id": f"s-{run}", "started_at": yesterday.isoformat(),
                  "ended_at": (yesterday + timedelta(hours=3)).isoformat()}},
    ]
    async with api_client(runtime, "volunteers:write", "shifts:write") as http:
        for _ in range(2):  # a client that did not see the first answer sends it again
            answer = await http.post("/events", content=json.dumps(batch), headers={
                "content-type": "application/cloudevents-batch+json", "traceparent": TRACE})
            assert answer.status_code == 202, answer.text
            assert answer.json() == {"accepted": 2}
            assert tracing.parse(answer.headers["traceresponse"]).trace_id == tracing.parse(TRACE).trace_id

    await eventually(lambda: smtp_server.to(address))
    reached = await read_topic(infra.kafka_bootstrap, "milestones.reached", volunteer.encode())
    assert len(smtp_server.to(address)) == 1
    assert len(reached) == 1
    # request → shifts.completed → milestones.reached and the mail: one trace id all the way
    trace_id = tracing.parse(TRACE).trace_id
    assert tracing.parse(json.loads(reached[0].value)["traceparent"]).trace_id == trace_id
    sent = [span for span in spans.get_finished_spans() if span.name == "send mail"
            and f"{span.context.trace_id:032x}" == trace_id]
    assert [span.attributes["dankjewel.notification"] for span in sent] == ["first-shift-thanks"]
    handled = {span.name for span in spans.get_finished_spans() if f"{span.context.trace_id:032x}" == trace_id}
    assert {"POST /events", "handle dankjewel.shift.completed.v1"} <= handled

    async with api_client(runtime, "metrics:read") as http:  # and the operator sees it counted
        scrape = (await http.get("/metrics")).text
    assert 'dankjewel_mails_total{outcome="sent",service="appreciation"} 1.0' in scrape
