"""The JSON Schema files in shared/schemas must match the pydantic models."""

import json

from shared.contracts import BY_TYPE, CATALOGUE
from shared.schemas import SCHEMA_DIR, asyncapi_document, stale_schemas


def test_schema_files_are_up_to_date():
    stale = stale_schemas()
    assert not stale, f"run `dankjewel schemas` to refresh: {stale}"


def test_one_schema_file_per_event_type_with_required_fields():
    required = {
        "dankjewel.volunteer.registered.v1": {"volunteer_id", "name", "email", "language", "registered_at"},
        "dankjewel.shift.completed.v1": {"shift_id", "volunteer_id", "started_at", "ended_at"},
        "dankjewel.checkin.completed.v1": {"checkin_id", "volunteer_id", "kind", "held_at"},
        "dankjewel.milestone.reached.v1": {"volunteer_id", "milestone", "reached_on", "celebrated"},
        "dankjewel.appreciation.sent.v1": {"volunteer_id", "milestone", "notification", "recipient"},
        "dankjewel.alert.raised.v1": {"volunteer_id", "reason", "coordinator_email", "due_since"},
    }
    assert set(required) <= {e.type for e in CATALOGUE}
    for event_type, fields in required.items():
        schema = json.loads((SCHEMA_DIR / f"{event_type}.json").read_text())
        assert set(schema["required"]) == fields, event_type


def test_asyncapi_document_names_every_topic():
    document = asyncapi_document()
    assert document["asyncapi"].startswith("3.")
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert {"volunteers.registered", "shifts.completed", "checkins.completed", "milestones.reached"} <= addresses


def test_docs_asyncapi_json_is_the_generated_document():
    from pathlib import Path

    written = json.loads((Path(__file__).parents[2] / "docs" / "asyncapi.json").read_text())
    assert written == asyncapi_document(), "run `make contract` (dankjewel asyncapi) to refresh docs/asyncapi.json"


def test_every_message_carries_its_own_type_in_the_cloudevents_envelope():
    document = asyncapi_document()
    schemas = document["components"]["schemas"]
    for name, message in document["components"]["messages"].items():
        title = name.rsplit(":", 1)[0]  # "<service>: consumes <type>", "… publishes <type>", "dead letters: …"
        payload = message["payload"]["$ref"].rsplit("/", 1)[1]
        if title.startswith("dead letters"):
            assert payload == "DeadLetter"
            continue
        event_type = BY_TYPE[title.split()[-1]]
        assert payload == f"{event_type.model.__name__}Event", name
        envelope = schemas[payload]
        assert envelope["properties"]["type"]["const"] == event_type.type
        assert {"specversion", "id", "source", "type", "data"} <= set(envelope["required"])
        assert envelope["properties"]["data"]["$ref"].endswith(f"/{event_type.model.__name__}")


def test_every_consumed_topic_documents_its_dead_letter_topic():
    document = asyncapi_document()
    addresses = {channel["address"] for channel in document["channels"].values()}
    consumed = {channel["address"] for name, channel in document["channels"].items() if ": consumes " in name}
    assert {f"{topic}.dlq" for topic in consumed} <= addresses
