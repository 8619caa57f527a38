"""`POST /events`: an organisation's events over HTTP, for systems without a Kafka
producer of their own. CloudEvents in the HTTP binding, in any of its three forms:

- structured: one event, `Content-Type: application/cloudevents+json`;
- batched: a JSON array of structured events, `application/cloudevents-batch+json`;
- binary: `ce-id`, `ce-source`, `ce-type`, `ce-specversion` (…) headers, `data` as
  the `application/json` body.

Each event is checked against the contract exactly as a consumer checks a Kafka
record, and the caller's token must hold the scope its type needs. A request is
all or nothing: one bad event answers 422 naming its index and the reason (never
its content), and nothing is published. Otherwise every event is published to its
topic, keyed by volunteer id, and the answer (202) comes once Kafka has them all
(acks=all). If Kafka cannot take them the answer is 503: send the same request
again — `source` + `id` deduplicate, so an event published twice counts once.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import replace
from urllib.parse import unquote

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from fastapi import APIRouter, HTTPException, Request, status

from shared import tracing
from shared.auth import Authenticator, Principal
from shared.contracts import (
    CHECKIN_COMPLETED,
    HELP_OFFERED,
    SHIFT_ASSIGNED,
    SHIFT_COMPLETED,
    SHIFT_MISSED,
    SHIFT_RELEASED,
    VOLUNTEER_ERASED,
    VOLUNTEER_REGISTERED,
    VOLUNTEER_UPDATED,
    BY_TYPE,
    EventType,
)
from shared.envelope import STRUCTURED_CONTENT_TYPE, BadRecord, Envelope, parse_record, to_record

log = logging.getLogger("dankjewel.ingest")

BATCH_CONTENT_TYPE = "application/cloudevents-batch+json"
MAX_EVENTS = 1000  # per request; the body limit (HTTP_MAX_BODY_BYTES) applies as well
MAX_PROBLEMS = 20
PUBLISH_TIMEOUT_SECONDS = 20

# The events an organisation sends, and the scope a token needs to send each: the
# same scope as the HTTP call that has the same effect (erasure stays with admins).
INGESTIBLE: dict[str, tuple[EventType, str]] = {
    VOLUNTEER_REGISTERED.type: (VOLUNTEER_REGISTERED, "volunteers:write"),
    VOLUNTEER_UPDATED.type: (VOLUNTEER_UPDATED, "volunteers:write"),
    VOLUNTEER_ERASED.type: (VOLUNTEER_ERASED, "admin"),
    HELP_OFFERED.type: (HELP_OFFERED, "volunteers:write"),
    SHIFT_COMPLETED.type: (SHIFT_COMPLETED, "shifts:write"),
    SHIFT_MISSED.type: (SHIFT_MISSED, "shifts:write"),
    SHIFT_ASSIGNED.type: (SHIFT_ASSIGNED, "shifts:write"),
    SHIFT_RELEASED.type: (SHIFT_RELEASED, "shifts:write"),
    CHECKIN_COMPLETED.type: (CHECKIN_COMPLETED, "checkins:write"),
}
STRUCTURED_HEADERS = [("content-type", STRUCTURED_CONTENT_TYPE.encode())]


def events_from_body(content_type: str, headers: dict[str, str], body: bytes) -> list[object]:
    """The request's events as structured-mode JSON values (not yet checked), or an
    HTTPException saying what is wrong with the request as a whole."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    binary = {name[3:]: unquote(value) for name, value in headers.items() if name.startswith("ce-")}
    if media_type in (STRUCTURED_CONTENT_TYPE, BATCH_CONTENT_TYPE):
        try:
            parsed = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="the body is not JSON") from None
        if media_type == STRUCTURED_CONTENT_TYPE:
            return [parsed]
        if not isinstance(parsed, list):
            raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="a batch is a JSON array of events")
        if not 1 <= len(parsed) <= MAX_EVENTS:
            raise HTTPException(status.HTTP_400_BAD_REQUEST,
                                detail=f"a batch holds 1 to {MAX_EVENTS} events, not {len(parsed)}")
        return parsed
    if binary:
        if media_type not in ("application/json", ""):
            raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                                detail="binary mode takes `data` as application/json")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="the body (data) is not JSON") from None
        return [{**binary, "data": data}]
    raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                        detail=f"send {STRUCTURED_CONTENT_TYPE}, {BATCH_CONTENT_TYPE}, "
                               "or binary mode (ce- headers with an application/json body)")


def check_event(index: int, event: object, principal: Principal) -> Envelope | dict:
    """The event as the services will read it, or {index, reason} (no content)."""
    if not isinstance(event, dict):
        return {"index": index, "reason": "not a CloudEvent: not a JSON object"}
    event_type = event.get("type")
    if not isinstance(event_type, str) or event_type not in INGESTIBLE:
        known = isinstance(event_type, str) and event_type in BY_TYPE
        return {"index": index, "reason": "this type is published by dankjewel, not accepted here" if known
                else "missing or unknown type; accepted: " + ", ".join(sorted(INGESTIBLE))}
    contract, scope = INGESTIBLE[event_type]
    if not principal.allows(scope):
        return {"index": index, "reason": f"this token lacks the scope {scope}", "forbidden": True}
    try:
        return parse_record(STRUCTURED_HEADERS, json.dumps(event).encode(), contract.topic, {event_type: contract})
    except BadRecord as error:
        return {"index": index, "reason": str(error)}


def events_router(auth: Authenticator, producer: Callable[[], AIOKafkaProducer | None]) -> APIRouter:
    router = APIRouter(tags=["events"])

    @router.post("/events", status_code=status.HTTP_202_ACCEPTED, responses={
        400: {"description": "not JSON, or not a batch"}, 403: {"description": "a token without the scope"},
        415: {"description": "not a CloudEvents media type"}, 422: {"description": "an event the contract refuses"},
        503: {"description": "Kafka did not take the events; send the same request again"}})
    async def ingest(request: Request, principal: Principal = auth.authenticated()) -> dict:
        """Publish an organisation's CloudEvents (structured, batched or binary mode) to
        their topics. Accepted types and the scope each needs: see the README."""
        events = events_from_body(request.headers.get("content-type", ""), dict(request.headers),
                                  await request.body())
        checked = [check_event(index, event, principal) for index, event in enumerate(events)]
        refused = [result for result in checked if isinstance(result, dict)]
        if any(result.get("forbidden") for result in refused):
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=[
                {"index": r["index"], "reason": r["reason"]} for r in refused if r.get("forbidden")][:MAX_PROBLEMS])
        if refused:
            raise HTTPException(422, detail=refused[:MAX_PROBLEMS])
        await publish(producer(), [result for result in checked if isinstance(result, Envelope)])
        return {"accepted": len(checked)}

    return router


async def publish(producer: AIOKafkaProducer | None, envelopes: list[Envelope]) -> None:
    """Every event on its topic, keyed by volunteer id, acknowledged by Kafka; 503 if not."""
    if producer is None:
        raise _unavailable("the Kafka producer is not running")
    try:
        async with asyncio.timeout(PUBLISH_TIMEOUT_SECONDS):
            sent = []
            for envelope in envelopes:
                if envelope.traceparent is None:  # join the request's trace
                    envelope = replace(envelope, traceparent=tracing.traceparent_for_new_event())
                key, value, headers = to_record(envelope)
                sent.append(await producer.send(BY_TYPE[envelope.type].topic, value=value, key=key, headers=headers))
            await asyncio.gather(*sent)
    except (KafkaError, TimeoutError) as error:
        log.warning("events over HTTP not published (%s); the caller is asked to send them again",
                    type(error).__name__)
        raise _unavailable("Kafka did not take the events") from None
    log.info("published %d event(s) received over HTTP", len(envelopes))


def _unavailable(why: str) -> HTTPException:
    return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=f"{why}; send the same request again",
                         headers={"Retry-After": "5"})
