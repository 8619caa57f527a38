"""JSON Schema files of the event contract (one per event type) and the AsyncAPI document."""

from __future__ import annotations

import json
from pathlib import Path

from shared.contracts import CATALOGUE, EventType

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


def asyncapi_document() -> dict:
    """The AsyncAPI 3 document of every service's channels, produced by faststream.

    A documentation-only broker is declared here (never connected): one subscriber
    per consumed type and one publisher per published type, typed with the contract."""
    from faststream.kafka import KafkaBroker
    from faststream.specification import AsyncAPI

    from services.registry import all_services

    broker = KafkaBroker("127.0.0.1:9092")
    for service in all_services().values():
        for event in service.consumes:
            def consume(data: event.model) -> None:  # noqa: ARG001 - documentation only
                """"""

            broker.subscriber(event.topic, group_id=f"dankjewel-{service.name}",
                              title=f"{service.name}: consumes {event.type}",
                              description=f"{event.type} consumed by {service.name}")(consume)
        for event in service.publishes:
            broker.publisher(event.topic, title=f"{service.name}: publishes {event.type}",
                             description=f"CloudEvent {event.type} in structured mode, key volunteer_id",
                             schema=event.model)
    spec = AsyncAPI(broker, title="dankjewel events", version="1.0.0",
                    description="CloudEvents 1.0 on Kafka. See README for the envelope and dead-letter topics.")
    return json.loads(spec.to_specification().to_json())
