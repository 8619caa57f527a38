"""CloudEvents 1.0 on Kafka: reading both content modes, writing structured mode.

Consumers accept structured mode (JSON body, `content-type:
application/cloudevents+json`) and binary mode (`ce_*` headers, JSON data body).
Producers in this project always write structured mode: one self-contained JSON
document per record is easiest to read in a DLQ or a console consumer.
The Kafka record key is the `volunteer_id`; `source` + `id` is the dedup key.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from typing import Literal

from cloudevents.core.bindings import kafka as ce_kafka
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from shared import tracing
from shared.contracts import BY_TYPE, EventData, EventType
from shared.values import unsafe_characters

STRUCTURED_CONTENT_TYPE = "application/cloudevents+json"
# The longest `source`, `id` and `type` accepted: the inbox columns that store them
# (shared/db.py, delivery_tables). Longer would fail the insert, and so the whole batch.
MAX_ATTRIBUTE_LENGTH = {"source": 300, "id": 300, "type": 200}


class BadRecord(Exception):
    """A record no consumer can accept; the message is the reason put on the DLQ."""


@dataclass(frozen=True)
class Envelope:
    id: str
    source: str
    type: str
    time: datetime
    data: EventData
    # The CloudEvents distributed-tracing extension (shared/tracing.py); None when the
    # producer sent none or a malformed one.
    traceparent: str | None = None

    @property
    def dedup_key(self) -> tuple[str, str]:
        return (self.source, self.id)

    @property
    def volunteer_id(self) -> str:
        return self.data.volunteer_id


def new_event(event_type: EventType, data: EventData, source: str, *, time: datetime | None = None,
              event_id: str | None = None, traceparent: str | None = None) -> Envelope:
    if not isinstance(data, event_type.model):
        raise TypeError(f"{event_type.type} carries {event_type.model.__name__}, not {type(data).__name__}")
    return Envelope(
        id=event_id or str(uuid.uuid4()),
        source=source,
        type=event_type.type,
        time=time or datetime.now(timezone.utc),
        data=data,
        traceparent=traceparent,
    )


def to_record(envelope: Envelope) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """(key, value, headers) of a structured-mode Kafka record."""
    value, headers = structured_record(envelope.type, envelope.data.model_dump(mode="json"), source=envelope.source,
                                       event_id=envelope.id, time=envelope.time, subject=envelope.volunteer_id,
                                       traceparent=envelope.traceparent)
    return envelope.volunteer_id.encode(), value, headers


def structured_record(event_type: str, data: dict, *, source: str, event_id: str | None = None,
                      time: datetime | None = None, subject: str | None = None,
                      traceparent: str | None = None) -> tuple[bytes, list[tuple[str, bytes]]]:
    """(value, headers) of a structured-mode record: the CloudEvents JSON format is one
    JSON object with the attributes and `data`. The services write their own events
    with it; tests, the fault suite and the benchmark write an organisation's events
    with it, `data` as given, unvalidated (they also send data a consumer must refuse).

    Written directly rather than through the SDK's CloudEvent object: that took
    24 µs per event, a sixth of the consumer's time at 2,000 events/s (profiled)."""
    body = {"specversion": "1.0", "id": event_id or str(uuid.uuid4()), "source": source, "type": event_type,
            "time": (time or datetime.now(timezone.utc)).isoformat(), "datacontenttype": "application/json"}
    if subject is not None:
        body["subject"] = subject
    if traceparent is not None:
        body["traceparent"] = traceparent
    body["data"] = data
    return json.dumps(body).encode(), [("content-type", STRUCTURED_CONTENT_TYPE.encode())]


class _StructuredEvent(BaseModel):
    """The common record — structured mode, a JSON object as `data` — read in one pass
    by pydantic's JSON parser. Anything this does not accept takes the SDK's path,
    which accepts every valid form (binary mode, `data_base64`, …) and words the reason
    when a record is refused. Profiled: 62 µs per record through the SDK (two JSON
    parses and dateutil), a quarter of the consumer's time; about a tenth of it here."""

    model_config = ConfigDict(extra="ignore")

    specversion: Literal["1.0"]
    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    time: AwareDatetime | None = Field(default=None, strict=True)  # the SDK refuses a time without zone too
    traceparent: str | None = Field(default=None, max_length=256)
    data: dict


def describe_validation_error(error: ValidationError) -> str:
    """Field-by-field reasons, without echoing the (possibly personal) input."""
    parts = []
    for problem in error.errors(include_input=False, include_url=False):
        where = ".".join(str(part) for part in problem["loc"]) or "data"
        parts.append(f"{where}: {problem['msg']}")
    return "; ".join(parts)


def parse_record(headers: list[tuple[str, bytes]] | tuple, value: bytes | None, topic: str,
                 accepted: dict[str, EventType]) -> Envelope:
    """Turn a Kafka record into an Envelope, or raise BadRecord with the reason.

    `accepted` maps the CloudEvent types this consumer takes on `topic` to their contract.
    """
    if value is None:
        raise BadRecord("empty record value (tombstone)")
    header_map: dict[str, bytes] = {}
    for name, header_value in headers or ():
        header_map[name] = header_value if isinstance(header_value, bytes) else bytes(header_value or b"")
    if not any(name.lower().startswith("ce_") for name in header_map):
        try:
            event = _StructuredEvent.model_validate_json(value)
        except ValidationError:
            pass  # the SDK's path below says what is wrong, or reads a form this does not
        else:
            return _envelope(event.id, event.source, event.type, event.time, event.data, topic, accepted,
                             event.traceparent)
    return _parse_with_sdk(header_map, value, topic, accepted)


def _parse_with_sdk(header_map: dict[str, bytes], value: bytes, topic: str, accepted: dict[str, EventType]) -> Envelope:
    """Both content modes, every valid form, and the reason when a record is refused."""
    try:
        _require_attributes(header_map, value)
        event = ce_kafka.from_kafka_event(ce_kafka.KafkaMessage(headers=header_map, key=None, value=value))
    except BadRecord:
        raise
    except UnicodeDecodeError:
        raise BadRecord("not UTF-8 encoded") from None
    except json.JSONDecodeError as error:
        raise BadRecord(f"not JSON: {error.msg} at position {error.pos}") from None
    except Exception as error:  # the SDK raises several kinds for a broken envelope
        raise BadRecord(f"not a CloudEvent: {_short(error)}") from None

    traceparent = event.get_extension("traceparent")
    return _envelope(event.get_id(), event.get_source(), event.get_type(), event.get_time(), event.get_data(),
                     topic, accepted, traceparent if isinstance(traceparent, str) else None)


def _envelope(event_id: str, source: str, event_type: str, time: datetime | None, data: object, topic: str,
              accepted: dict[str, EventType], traceparent: str | None = None) -> Envelope:
    """Check a CloudEvent's type against the topic and its data against the contract."""
    _check_attributes(event_id, source, event_type)
    if event_type not in accepted:
        known = BY_TYPE.get(event_type)
        if known is None:
            raise BadRecord(f"unknown type {event_type[:200]!r}")
        raise BadRecord(f"type {event_type!r} does not belong on topic {topic!r} (it goes on {known.topic!r})")
    contract = accepted[event_type]
    if isinstance(data, (bytes, str)):
        try:
            data = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            raise BadRecord("data is not JSON") from None
    if not isinstance(data, dict):
        raise BadRecord("data is not a JSON object")
    try:
        model = contract.model.model_validate(data)
    except ValidationError as error:
        raise BadRecord(f"invalid data for {event_type}: {describe_validation_error(error)}") from None
    time = time or datetime.now(timezone.utc)
    if time.tzinfo is None:
        time = time.replace(tzinfo=timezone.utc)
    trace = tracing.parse(traceparent)  # malformed: ignored, as W3C asks, never a refusal
    return Envelope(id=event_id, source=source, type=event_type, time=time, data=model,
                    traceparent=trace.traceparent if trace else None)


def _check_attributes(event_id: str, source: str, event_type: str) -> None:
    """Refuse what the inbox cannot store, and control characters (they would reach logs
    and the dead-letter reason); the reason names the attribute, never its value."""
    for name, value in (("id", event_id), ("source", source), ("type", event_type)):
        if not isinstance(value, str):
            raise BadRecord(f"not a CloudEvent: {name} is not a string")
        if len(value) > MAX_ATTRIBUTE_LENGTH[name]:
            raise BadRecord(f"not a CloudEvent: {name} is longer than {MAX_ATTRIBUTE_LENGTH[name]} characters")
        if (kind := unsafe_characters(value)) is not None:
            raise BadRecord(f"not a CloudEvent: {name} contains {kind}")


REQUIRED_ATTRIBUTES = ("specversion", "id", "source", "type")


def _require_attributes(headers: dict[str, bytes], value: bytes) -> None:
    """The SDK fills in a missing `id`; without one there is no dedup key, so refuse."""
    names = {name.lower() for name in headers}
    if any(name.startswith("ce_") for name in names):
        missing = [a for a in REQUIRED_ATTRIBUTES if f"ce_{a}" not in names or not headers.get(f"ce_{a}")]
    else:
        body = json.loads(value)
        if not isinstance(body, dict):
            raise BadRecord("not a CloudEvent: the JSON body is not an object")
        missing = [a for a in REQUIRED_ATTRIBUTES if not body.get(a)]
    if missing:
        raise BadRecord(f"not a CloudEvent: missing {', '.join(missing)}")


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def _short(error: Exception, limit: int = 300) -> str:
    """The SDK's reason without what it quotes of the input (it may write "got 'Sami…'")."""
    text = f"{type(error).__name__}: {_QUOTED.sub('…', str(error))}"
    return text if len(text) <= limit else text[: limit - 1] + "…"
