"""The JSON Schema files in shared/schemas must match the pydantic models."""

import json

from shared.contracts import CATALOGUE
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
