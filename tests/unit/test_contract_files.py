"""The contract files (shared/schemas/*.json, docs/asyncapi.json) must match the
models, and the AsyncAPI document must be valid AsyncAPI 3.0.0."""

import ast
import copy
import json
from functools import cache
from pathlib import Path

import jsonschema
import pytest

from services.registry import all_services
from shared.contracts import BY_TYPE, CATALOGUE
from shared.schemas import SCHEMA_DIR, stale_schemas
from shared.schemas import asyncapi_document as document_of

ROOT = Path(__file__).parents[2]
# The official JSON Schema of AsyncAPI 3.0.0, from the npm package @asyncapi/specs
# 6.11.1 (schemas/3.0.0-without-$id.json, Apache-2.0: tests/contract/LICENSE.asyncapi-specs),
# kept in the repository so the test needs no network.
ASYNCAPI_3_SCHEMA = ROOT / "tests" / "contract" / "asyncapi-3.0.0.schema.json"


@cache
def _document() -> str:
    return json.dumps(document_of(all_services().values()))


def asyncapi_document() -> dict:
    return json.loads(_document())


def asyncapi_problems(document: dict) -> list[str]:
    validator = jsonschema.Draft7Validator(json.loads(ASYNCAPI_3_SCHEMA.read_text()))
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message[:200]}"
            for error in validator.iter_errors(document)]


def test_the_asyncapi_document_is_valid_asyncapi_3():
    assert asyncapi_problems(asyncapi_document()) == []


@pytest.mark.parametrize("break_it", [
    lambda d: d.pop("info"),
    lambda d: d.update(asyncapi="2.6.0"),
    lambda d: next(iter(d["channels"].values())).update(address=17),
    lambda d: next(iter(d["operations"].values())).update(action="consume"),
])
def test_the_schema_check_finds_a_broken_document(break_it):
    """The validation above can fail: each of these breaks the AsyncAPI 3 rules."""
    document = copy.deepcopy(asyncapi_document())
    break_it(document)
    assert asyncapi_problems(document)


def test_shared_code_imports_no_service():
    """shared/ knows nothing about services: each service builds on shared/, never
    the other way round (the CLI assembles what needs every service)."""
    offenders = []
    for path in (ROOT / "shared").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.relative_to(ROOT)}: {name}" for name in names if name.split(".")[0] == "services"]
    assert offenders == []


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
    written = json.loads((ROOT / "docs" / "asyncapi.json").read_text())
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


def test_every_message_documents_its_key_and_headers():
    document = asyncapi_document()
    for name, message in document["components"]["messages"].items():
        assert message["bindings"]["kafka"]["key"]["type"] == "string", name
        expected = "DeadLetterHeaders" if name.startswith("dead letters") else "CloudEventsBinaryModeHeaders"
        assert message["headers"] == {"$ref": f"#/components/schemas/{expected}"}, name
    binary = document["components"]["schemas"]["CloudEventsBinaryModeHeaders"]["properties"]
    assert {"ce_id", "ce_source", "ce_type", "ce_specversion"} <= set(binary)
    assert "dlq-reason" in document["components"]["schemas"]["DeadLetterHeaders"]["properties"]
