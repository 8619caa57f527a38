"""Reading CloudEvents from Kafka records: both modes, and every kind of bad input."""

from __future__ import annotations

import json

import pytest

from shared.contracts import BY_TYPE, CATALOGUE, SHIFT_COMPLETED, ShiftCompleted
from shared.envelope import BadRecord, new_event, parse_record, to_record

SHIFT = {"volunteer_id": "v1", "shift_id": "s1", "started_at": "2026-11-01T09:00:00+01:00",
         "ended_at": "2026-11-01T12:00:00+01:00"}
ACCEPTS_SHIFTS = {SHIFT_COMPLETED.type: SHIFT_COMPLETED}
STRUCTURED = [("content-type", b"application/cloudevents+json")]


def envelope_json(**overrides) -> bytes:
    body = {"specversion": "1.0", "id": "e1", "source": "roster", "type": SHIFT_COMPLETED.type, "data": SHIFT}
    body.update(overrides)
    return json.dumps({k: v for k, v in body.items() if v is not None}).encode()


def binary_headers(**overrides) -> list[tuple[str, bytes]]:
    attrs = {"specversion": "1.0", "id": "e1", "source": "roster", "type": SHIFT_COMPLETED.type} | overrides
    return [(f"ce_{k}", v.encode()) for k, v in attrs.items() if v is not None] + [
        ("content-type", b"application/json")]


def test_structured_round_trip():
    envelope = new_event(SHIFT_COMPLETED, ShiftCompleted(**SHIFT), "tasks")
    key, value, headers = to_record(envelope)
    parsed = parse_record(headers, value, "shifts.completed", ACCEPTS_SHIFTS)
    assert key == b"v1"
    assert headers == STRUCTURED
    assert (parsed.id, parsed.source, parsed.type, parsed.data) == (envelope.id, "tasks", envelope.type, envelope.data)


def test_binary_mode():
    parsed = parse_record(binary_headers(), json.dumps(SHIFT).encode(), "shifts.completed", ACCEPTS_SHIFTS)
    assert parsed.dedup_key == ("roster", "e1")
    assert parsed.data == ShiftCompleted(**SHIFT)


def test_unknown_fields_are_ignored_for_forward_compatibility():
    parsed = parse_record(STRUCTURED, envelope_json(data=SHIFT | {"kiosk": "hall"}), "shifts.completed", ACCEPTS_SHIFTS)
    assert parsed.data.shift_id == "s1"


@pytest.mark.parametrize(("headers", "value", "reason"), [
    (STRUCTURED, b"{not json", "not JSON: Expecting property name enclosed in double quotes at position 1"),
    (STRUCTURED, b"\xff\xfe\x00", "not UTF-8 encoded"),
    (STRUCTURED, None, "empty record value (tombstone)"),
    (STRUCTURED, envelope_json(id=None), "not a CloudEvent: missing id"),
    (STRUCTURED, b"[1, 2]", "not a CloudEvent: the JSON body is not an object"),
    (STRUCTURED, envelope_json(type="com.example.other.v1"), "unknown type 'com.example.other.v1'"),
    (STRUCTURED, envelope_json(type="dankjewel.checkin.completed.v1"),
     "type 'dankjewel.checkin.completed.v1' does not belong on topic 'shifts.completed' (it goes on 'checkins.completed')"),
    (STRUCTURED, envelope_json(data=[1, 2]), "data is not a JSON object"),
    (STRUCTURED, envelope_json(data={k: v for k, v in SHIFT.items() if k != "shift_id"}),
     "invalid data for dankjewel.shift.completed.v1: shift_id: Field required"),
    (STRUCTURED, envelope_json(data=SHIFT | {"ended_at": "2026-11-01T08:00:00+01:00"}),
     "invalid data for dankjewel.shift.completed.v1: data: Value error, ended_at is before started_at"),
    (STRUCTURED, envelope_json(data=SHIFT | {"started_at": "2026-11-01T09:00:00"}),
     "invalid data for dankjewel.shift.completed.v1: started_at: Input should have timezone info"),
    (binary_headers(source=None), json.dumps(SHIFT).encode(), "not a CloudEvent: missing source"),
    (binary_headers(), b"[broken", "data is not JSON"),
])
def test_bad_records_are_refused_with_a_reason(headers, value, reason):
    with pytest.raises(BadRecord) as refused:
        parse_record(headers, value, "shifts.completed", ACCEPTS_SHIFTS)
    assert str(refused.value).startswith(reason)


def test_validation_reasons_do_not_echo_personal_data():
    data = {"volunteer_id": "v1", "name": "Henk", "email": "henk.secret@@example.org", "language": "nl",
            "registered_at": "2026-11-01T09:00:00Z"}
    registered = BY_TYPE["dankjewel.volunteer.registered.v1"]
    with pytest.raises(BadRecord) as refused:
        parse_record(STRUCTURED, envelope_json(type=registered.type, data=data), registered.topic,
                     {registered.type: registered})
    assert "email" in str(refused.value)
    assert "henk.secret" not in str(refused.value)


def test_catalogue_types_and_topics_are_unique_and_versioned():
    assert len({e.type for e in CATALOGUE}) == len({e.topic for e in CATALOGUE}) == len(CATALOGUE)
    assert all(e.type.startswith("dankjewel.") and e.type.endswith(".v1") for e in CATALOGUE)


@pytest.mark.parametrize("value", [
    envelope_json(),
    envelope_json(time="2026-11-01T09:30:00Z"),
    envelope_json(time="2026-11-01T09:30:00.123456+01:00"),
    envelope_json(subject="v1", datacontenttype="application/json", kioskid="hall-2"),  # extension attribute
    envelope_json(data=SHIFT | {"task": "Koffie schenken — zaal 2 ☕"}),
    to_record(new_event(SHIFT_COMPLETED, ShiftCompleted(**SHIFT), "tasks", event_id="x-1"))[1],
])
def test_the_fast_structured_path_reads_what_the_sdk_reads(value):
    from shared.envelope import _parse_with_sdk

    fast = parse_record(STRUCTURED, value, "shifts.completed", ACCEPTS_SHIFTS)
    sdk = _parse_with_sdk(dict(STRUCTURED), value, "shifts.completed", ACCEPTS_SHIFTS)
    assert (fast.id, fast.source, fast.type, fast.data) == (sdk.id, sdk.source, sdk.type, sdk.data)
    if json.loads(value).get("time"):
        assert fast.time == sdk.time


def test_a_time_without_zone_is_refused_as_before():
    with pytest.raises(BadRecord, match="must be timezone aware"):
        parse_record(STRUCTURED, envelope_json(time="2026-11-01T09:30:00"), "shifts.completed", ACCEPTS_SHIFTS)


def test_data_base64_and_string_data_still_go_through_the_sdk():
    import base64

    encoded = envelope_json(data=None, data_base64=base64.b64encode(json.dumps(SHIFT).encode()).decode())
    assert parse_record(STRUCTURED, encoded, "shifts.completed", ACCEPTS_SHIFTS).data == ShiftCompleted(**SHIFT)
    as_string = envelope_json(data=json.dumps(SHIFT))
    assert parse_record(STRUCTURED, as_string, "shifts.completed", ACCEPTS_SHIFTS).data == ShiftCompleted(**SHIFT)
