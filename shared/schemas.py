"""JSON Schema files of the event contract (one per event type) and the AsyncAPI document."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import AwareDatetime, BaseModel, Field, create_model

from shared.contracts import CATALOGUE, EventType

if TYPE_CHECKING:
    from shared.service import ServiceDefinition

SCHEMA_DIR = Path(__file__).parent / "schemas"


def event_schema(event: EventType) -> dict:
    schema = event.model.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://dankjewel.example/schemas/{event.type}.json",
        "title": event.type,
        "description": f"`data` of a CloudEvent of type {event.type} on topic {event.topic}. "
                       + (event.model.__doc__ or "").strip(),
        **{k: v for k, v in schema.items() if k not in ("title", "description")},
    }


def rendered_schemas() -> dict[str, str]:
    """File name → file content, for every event type in the catalogue."""
    return {f"{e.type}.json": json.dumps(event_schema(e), indent=2, sort_keys=True) + "\n" for e in CATALOGUE}


def write_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in rendered_schemas().items():
        path = directory / name
        if not path.exists() or path.read_text() != content:
            path.write_text(content)
            written.append(path)
    return written


def stale_schemas(directory: Path = SCHEMA_DIR) -> list[str]:
    """Names of schema files that are missing or differ from the models."""
    return [name for name, content in rendered_schemas().items()
            if not (directory / name).exists() or (directory / name).read_text() != content]


def envelope_model(event: EventType) -> type[BaseModel]:
    """The whole record as a consumer reads it in structured mode: the CloudEvents
    attributes around the type's `data` (binary mode carries the same attributes as
    `ce_` headers and `data` as the value)."""
    return create_model(
        f"{event.model.__name__}Event",
        __doc__=f"CloudEvent {event.type} (structured mode, content-type application/cloudevents+json; "
                f"binary mode: the attributes as ce_* headers, `data` as the value). Key: volunteer_id.",
        specversion=(Literal["1.0"], ...),
        id=(str, Field(min_length=1, max_length=300, description="with source, the deduplication key")),
        source=(str, Field(min_length=1, max_length=300, examples=["https://roster.example.org"])),
        type=(Literal[event.type], ...),  # type: ignore[valid-type] - one literal per event type
        time=(AwareDatetime | None, None),
        subject=(str | None, Field(default=None, description="the volunteer_id")),
        traceparent=(str | None, Field(default=None, max_length=256, examples=[
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"],
            description="W3C Trace Context (CloudEvents distributed-tracing extension); a malformed one is "
                        "ignored")),
        datacontenttype=(Literal["application/json"] | None, None),
        data=(event.model, ...),
    )


class DeadLetter(BaseModel):
    """A record a consumer could not accept, kept whole on `<topic>.dlq`: the original
    key, value and headers, plus the headers dlq-reason, dlq-service, dlq-time,
    dlq-original-topic, dlq-original-partition and dlq-original-offset. The value is
    whatever was sent (often not valid JSON), so it has no schema of its own."""

    value: str = Field(description="the original record's value, unchanged")


def _documented_consumer(model: type[BaseModel]):  # noqa: ANN202
    """A documentation-only handler whose parameter is typed with `model`. The type is
    set on the function object, not in an annotation, which `from __future__ import
    annotations` would evaluate late (every handler would get the last loop's type)."""
    def consume(data) -> None:  # noqa: ANN001, ARG001
        """"""

    consume.__annotations__ = {"data": model, "return": None}
    return consume


def asyncapi_document(services: Iterable[ServiceDefinition]) -> dict:
    """The AsyncAPI 3 document of the given services' channels, produced by faststream.
    The caller (the CLI) names the services: shared/ knows none of them.

    A documentation-only broker is declared here (never connected): one subscriber
    per consumed type, one publisher per published type, both with the CloudEvents
    envelope around the type's `data`, and each consumed topic's dead-letter topic."""
    from faststream.kafka import KafkaBroker
    from faststream.specification import AsyncAPI

    broker = KafkaBroker("127.0.0.1:9092")
    dead_letter_topics: dict[str, set[str]] = {}
    for service in services:
        for event in service.consumes:
            broker.subscriber(event.topic, group_id=f"dankjewel-{service.name}",
                              title=f"{service.name}: consumes {event.type}",
                              description=f"{event.type} consumed by {service.name}")(
                _documented_consumer(envelope_model(event)))
            dead_letter_topics.setdefault(event.dlq_topic, set()).add(service.name)
        for event in service.publishes:
            broker.publisher(event.topic, title=f"{service.name}: publishes {event.type}",
                             description=f"CloudEvent {event.type} in structured mode, key volunteer_id",
                             schema=envelope_model(event))
    for topic, services in sorted(dead_letter_topics.items()):
        broker.publisher(topic, title=f"dead letters: {topic}",
                         description=f"records {', '.join(sorted(services))} refused, with the reason",
                         schema=DeadLetter)
    spec = AsyncAPI(broker, title="dankjewel events", version="1.0.0",
                    description="CloudEvents 1.0 on Kafka, keyed by volunteer_id. Consumers accept structured "
                                "and binary mode; dankjewel publishes structured mode. See README.")
    return with_headers_and_keys(json.loads(spec.to_specification().to_json()))


KEY = {"type": "string", "description": "the volunteer_id: one volunteer's events stay in order"}
BINARY_MODE_HEADERS = {
    "type": "object",
    "description": "Binary mode: the CloudEvents attributes as ce_ headers and `data` as the value "
                   "(content-type application/json). Structured mode, which dankjewel publishes: only "
                   "content-type application/cloudevents+json, the attributes in the value.",
    "properties": {
        "content-type": {"type": "string", "examples": ["application/cloudevents+json", "application/json"]},
        **{f"ce_{name}": {"type": "string", "description": description} for name, description in (
            ("specversion", "1.0"), ("id", "with ce_source, the deduplication key"), ("source", "the producer"),
            ("type", "the event type, e.g. dankjewel.shift.completed.v1"), ("time", "RFC 3339"),
            ("subject", "the volunteer_id"), ("traceparent", "W3C Trace Context (optional)"))},
    },
}
DEAD_LETTER_HEADERS = {
    "type": "object",
    "description": "The refused record's own headers, and why and where it was refused.",
    "properties": {name: {"type": "string", "description": description} for name, description in (
        ("dlq-reason", "why the service refused it (never the record's content)"),
        ("dlq-service", "the service that refused it"), ("dlq-time", "when, RFC 3339"),
        ("dlq-original-topic", "where it was read"), ("dlq-original-partition", "its partition"),
        ("dlq-original-offset", "its offset"))},
}


def with_headers_and_keys(document: dict) -> dict:
    """What faststream does not say of a message: its Kafka key and its headers (the
    ce_ headers of binary mode; a dead letter's dlq- headers). Its correlation id is
    dropped: dankjewel's records carry none."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["CloudEventsBinaryModeHeaders"] = BINARY_MODE_HEADERS
    schemas["DeadLetterHeaders"] = DEAD_LETTER_HEADERS
    for name, message in document["components"].get("messages", {}).items():
        message.pop("correlationId", None)
        headers = "DeadLetterHeaders" if name.startswith("dead letters") else "CloudEventsBinaryModeHeaders"
        message["headers"] = {"$ref": f"#/components/schemas/{headers}"}
        message["bindings"] = {"kafka": {"key": KEY, "bindingVersion": "0.5.0"}}
    return document
