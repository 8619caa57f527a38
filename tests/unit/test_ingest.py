"""POST /events: CloudEvents over HTTP (structured, batched, binary) checked like
Kafka records, scoped per type, all or nothing, published keyed by volunteer id."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from aiokafka.errors import KafkaTimeoutError
from fastapi import FastAPI

from shared import tracing
from shared.auth import Authenticator, TokenFile
from shared.http import harden
from shared.ingest import BATCH_CONTENT_TYPE, MAX_EVENTS, events_router
from services.settings import load_settings

SHIFT = {"volunteer_id": "v1", "shift_id": "s1", "started_at": "2026-11-01T09:00:00+01:00",
         "ended_at": "2026-11-01T12:00:00+01:00"}
REGISTERED = {"volunteer_id": "v2", "name": "Samira El Amrani", "email": "samira@example.org", "language": "nl",
              "registered_at": "2026-11-01T09:00:00+01:00"}


def event(type_: str, data: dict, event_id: str = "e1", **extra) -> dict:
    return {"specversion": "1.0", "id": event_id, "source": "https://roster.example.org",
            "type": f"dankjewel.{type_}.v1", "data": data, **extra}


class RecordingProducer:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.fail = fail

    async def send(self, topic, value, key, headers):  # noqa: ANN001, ANN201
        if self.fail:
            raise KafkaTimeoutError()
        self.sent.append((topic, key, value))
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


@pytest.fixture
def setup(tmp_path):
    tokens = TokenFile(tmp_path / "tokens.json")
    producer = RecordingProducer()
    app = FastAPI()
    app.include_router(events_router(Authenticator(tokens.path), lambda: producer))
    harden(app, load_settings(api_tokens_file=tokens.path))

    def client(*scopes: str) -> httpx.AsyncClient:
        token = tokens.create(f"t{len(tokens.read())}", list(scopes))
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1",
                                 headers={"Authorization": f"Bearer {token}"})

    return client, producer


async def test_a_batch_is_published_to_each_types_topic_keyed_by_volunteer(setup):
    client, producer = setup
    batch = [event("shift.completed", SHIFT), event("volunteer.registered", REGISTERED, "e2")]
    async with client("shifts:write", "volunteers:write") as http:
        answer = await http.post("/events", content=json.dumps(batch), headers={"content-type": BATCH_CONTENT_TYPE})
    assert answer.status_code == 202 and answer.json() == {"accepted": 2}
    assert [(topic, key) for topic, key, _ in producer.sent] == [("shifts.completed", b"v1"),
                                                                 ("volunteers.registered", b"v2")]
    published = json.loads(producer.sent[0][2])
    assert (published["id"], published["source"], published["data"]["shift_id"]) == \
        ("e1", "https://roster.example.org", "s1")
    assert tracing.parse(published["traceparent"]) is not None  # joined the request's trace


async def test_one_structured_event_and_one_binary_event(setup):
    client, producer = setup
    async with client("shifts:write") as http:
        structured = await http.post("/events", content=json.dumps(event("shift.completed", SHIFT)),
                                     headers={"content-type": "application/cloudevents+json; charset=utf-8"})
        binary = await http.post("/events", content=json.dumps(SHIFT), headers={
            "content-type": "application/json", "ce-specversion": "1.0", "ce-id": "e9",
            "ce-source": "https%3A%2F%2Froster.example.org", "ce-type": "dankjewel.shift.completed.v1"})
    assert (structured.status_code, binary.status_code) == (202, 202)
    assert json.loads(producer.sent[1][2])["source"] == "https://roster.example.org"  # percent-decoded


async def test_one_bad_event_refuses_the_batch_naming_index_and_reason_not_content(setup):
    client, producer = setup
    bad = event("volunteer.registered", {**REGISTERED, "registered_at": "9999-01-01T00:00:00+00:00"}, "e2")
    async with client("volunteers:write", "shifts:write") as http:
        answer = await http.post("/events", content=json.dumps([event("shift.completed", SHIFT), bad]),
                                 headers={"content-type": BATCH_CONTENT_TYPE})
    assert answer.status_code == 422
    assert [problem["index"] for problem in answer.json()["detail"]] == [1]
    assert "1900 and 2200" in answer.json()["detail"][0]["reason"]
    assert "Samira" not in answer.text and "samira@" not in answer.text
    assert producer.sent == []  # all or nothing


@pytest.mark.parametrize("body, content_type, status, words", [
    (b"{not json", BATCH_CONTENT_TYPE, 400, "not JSON"),
    (json.dumps({"a": 1}).encode(), BATCH_CONTENT_TYPE, 400, "JSON array"),
    (b"[]", BATCH_CONTENT_TYPE, 400, "1 to"),
    (json.dumps([event("shift.completed", SHIFT)] * (MAX_EVENTS + 1)).encode(), BATCH_CONTENT_TYPE, 400, "1 to"),
    (json.dumps(SHIFT).encode(), "application/json", 415, "binary mode"),
    (json.dumps(event("milestone.reached", {"volunteer_id": "v1"})).encode(), "application/cloudevents+json", 422,
     "published by dankjewel"),
    (json.dumps(event("shift.teleported", SHIFT)).encode(), "application/cloudevents+json", 422, "unknown type"),
    (json.dumps(["x"]).encode(), BATCH_CONTENT_TYPE, 422, "not a JSON object"),
])
async def test_requests_that_are_not_events_get_a_reason(setup, body, content_type, status, words):
    client, producer = setup
    async with client("admin") as http:
        answer = await http.post("/events", content=body, headers={"content-type": content_type})
    assert answer.status_code == status and words in answer.text
    assert producer.sent == []


async def test_each_type_needs_its_scope_and_erasure_needs_admin(setup):
    client, producer = setup
    erased = event("volunteer.erased", {"volunteer_id": "v1", "requested_at": "2026-11-01T09:00:00+00:00"})
    async with client("shifts:write", "volunteers:write") as http:
        no_scope = await http.post("/events", content=json.dumps(event("checkin.completed", {
            "volunteer_id": "v1", "checkin_id": "c1", "kind": "intake", "held_at": "2026-11-01T09:00:00+00:00"})),
            headers={"content-type": "application/cloudevents+json"})
        not_admin = await http.post("/events", content=json.dumps(erased),
                                    headers={"content-type": "application/cloudevents+json"})
    async with httpx.AsyncClient(transport=http._transport, base_url="http://127.0.0.1") as anonymous:
        no_token = await anonymous.post("/events", content=json.dumps(erased),
                                        headers={"content-type": "application/cloudevents+json"})
    assert (no_scope.status_code, not_admin.status_code, no_token.status_code) == (403, 403, 401)
    assert "checkins:write" in no_scope.text and "admin" in not_admin.text
    assert producer.sent == []


async def test_kafka_that_does_not_take_the_events_answers_503_to_retry(setup):
    client, producer = setup
    producer.fail = True
    async with client("shifts:write") as http:
        answer = await http.post("/events", content=json.dumps(event("shift.completed", SHIFT)),
                                 headers={"content-type": "application/cloudevents+json"})
    assert answer.status_code == 503 and answer.headers["retry-after"] == "5"
    assert "send the same request again" in answer.json()["detail"]
