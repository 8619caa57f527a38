"""Reading CloudEvents from Kafka records: both modes, and every kind of bad input."""

from __future__ import annotations

import re

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


def test_catalogue_types_are_unique_and_versioned_and_a_topic_only_adds_versions():
    assert len({e.type for e in CATALOGUE}) == len(CATALOGUE)
    assert all(re.fullmatch(r"dankjewel\.[a-z]+\.[a-z]+\.v\d+", e.type) for e in CATALOGUE)
    for topic in {e.topic for e in CATALOGUE}:  # a topic carries versions of one type, nothing else
        assert len({e.type.rsplit(".", 1)[0] for e in CATALOGUE if e.topic == topic}) == 1, topic


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


# --- secure by default: attributes the inbox can store, data within sane bounds ----------

LONG_ID = "e" * 5000
SECRET = "Henk-Secret-4711"


@pytest.mark.parametrize(("headers", "value", "reason"), [
    (STRUCTURED, envelope_json(id=LONG_ID), "not a CloudEvent: id is longer than 300 characters"),
    (STRUCTURED, envelope_json(id="e" * 301), "not a CloudEvent: id is longer than 300 characters"),
    (STRUCTURED, envelope_json(source="https://" + "r" * 300), "not a CloudEvent: source is longer than 300 characters"),
    (STRUCTURED, envelope_json(type="dankjewel." + "t" * 200), "not a CloudEvent: type is longer than 200 characters"),
    (STRUCTURED, envelope_json(id="e1\x00"), "not a CloudEvent: id contains control characters"),
    (STRUCTURED, envelope_json(source="roster\r\nX-Injected: 1"), "not a CloudEvent: source contains control characters"),
    (STRUCTURED, envelope_json(type="dankjewel.shift.completed.v1\n"), "not a CloudEvent: type contains control characters"),
    (STRUCTURED, envelope_json(source="roster\u202e"), "not a CloudEvent: source contains bidirectional control characters"),
    (binary_headers(id=LONG_ID), json.dumps(SHIFT).encode(), "not a CloudEvent: id is longer than 300 characters"),
    (binary_headers(source="roster\x1b[2J"), json.dumps(SHIFT).encode(), "not a CloudEvent: source contains control characters"),
])
def test_attributes_the_inbox_cannot_store_are_refused(headers, value, reason):
    with pytest.raises(BadRecord) as refused:
        parse_record(headers, value, "shifts.completed", ACCEPTS_SHIFTS)
    assert str(refused.value) == reason


def test_attribute_limits_are_the_inbox_columns():
    from sqlalchemy import MetaData

    from shared.db import delivery_tables
    from shared.envelope import MAX_ATTRIBUTE_LENGTH

    columns = delivery_tables(MetaData(), "any").inbox.c
    assert MAX_ATTRIBUTE_LENGTH == {"source": columns.source.type.length, "id": columns.event_id.type.length,
                                    "type": columns.event_type.type.length}


INVALID_SHIFT = "invalid data for dankjewel.shift.completed.v1: "


@pytest.mark.parametrize(("data", "reason"), [
    (SHIFT | {"ended_at": "9999-12-31T23:59:59Z"}, "ended_at: must be between 1900 and 2200"),
    (SHIFT | {"started_at": "9999-12-31T23:59:59-01:00", "ended_at": "9999-12-31T23:59:59-01:00"},
     "started_at: must be between 1900 and 2200; ended_at: must be between 1900 and 2200"),
    (SHIFT | {"started_at": "1800-11-01T09:00:00+01:00"}, "started_at: must be between 1900 and 2200"),
    (SHIFT | {"ended_at": "2026-11-08T09:00:01+01:00"}, "data: Value error, a shift lasts at most 7 days"),
    (SHIFT | {"started_at": "1900-01-01T00:00:00Z", "ended_at": "2200-12-31T00:00:00Z"},
     "data: Value error, a shift lasts at most 7 days"),
    (SHIFT | {"volunteer_id": "v1/../admin"}, "volunteer_id: must be 1 to 200 characters"),
    (SHIFT | {"shift_id": "s" * 201}, "shift_id: must be 1 to 200 characters"),
    (SHIFT | {"task": "koffie\x00"}, "task: must not contain control characters"),
    (SHIFT | {"task": "koffie\u202e"}, "task: must not contain bidirectional control characters"),
    (SHIFT | {"task": "x" * 5000}, "task: must be at most 200 characters"),
])
def test_out_of_range_data_is_refused_at_validation(data, reason):
    with pytest.raises(BadRecord) as refused:
        parse_record(STRUCTURED, envelope_json(data=data), "shifts.completed", ACCEPTS_SHIFTS)
    assert str(refused.value).startswith(INVALID_SHIFT + reason)


def test_a_shift_of_exactly_seven_days_is_accepted():
    week = SHIFT | {"ended_at": "2026-11-08T09:00:00+01:00"}
    assert parse_record(STRUCTURED, envelope_json(data=week), "shifts.completed", ACCEPTS_SHIFTS).data.shift_id == "s1"


@pytest.mark.parametrize("value", [
    envelope_json(id=SECRET * 400),
    envelope_json(source=SECRET + "\x00"),
    envelope_json(data=SHIFT | {"volunteer_id": SECRET + " x", "task": SECRET + "\u202e",
                                "started_at": "9999-01-01T00:00:00Z"}),
])
def test_refusals_never_repeat_the_input(value):
    with pytest.raises(BadRecord) as refused:
        parse_record(STRUCTURED, value, "shifts.completed", ACCEPTS_SHIFTS)
    assert SECRET not in str(refused.value)


async def test_a_year_9999_shift_is_dead_lettered_once_without_retries():
    """Through the consume loop: refused at parsing, so no transaction, no handler, no
    retry; one DLQ write with the reason, and the offset committed past it."""
    from types import SimpleNamespace

    from aiokafka import TopicPartition
    from sqlalchemy import MetaData
    from sqlalchemy.ext.asyncio import create_async_engine

    from shared.consumer import EventConsumer, RetryPolicy, Subscription
    from shared.db import delivery_tables

    tp = TopicPartition("shifts.completed", 0)
    sent, committed, handled = [], [], []

    class Consumer:
        def assignment(self):
            return {tp}

        async def commit(self, offsets):
            committed.append(offsets)

    class Producer:
        async def send_and_wait(self, topic, value, key, headers):
            sent.append((topic, dict(headers)))

    async def handler(unit, event):
        handled.append(event)

    loop = EventConsumer(service="tasks", consumer=Consumer(), producer=Producer(),
                         engine=create_async_engine("sqlite+aiosqlite://"), settings=None,
                         tables=delivery_tables(MetaData(), "tasks"),
                         subscriptions=[Subscription(SHIFT_COMPLETED, handler)],
                         retry=RetryPolicy(first_backoff=0, max_backoff=0))
    records = [SimpleNamespace(topic=tp.topic, partition=0, offset=offset, key=b"v1", headers=STRUCTURED, value=value)
               for offset, value in enumerate([envelope_json(data=SHIFT | {"ended_at": "9999-12-31T23:59:59Z"}),
                                               envelope_json(id=LONG_ID)])]
    await loop.process_batch({tp: records})

    assert [topic for topic, _ in sent] == ["shifts.completed.dlq"] * 2
    assert sent[0][1]["dlq-reason"] == (INVALID_SHIFT + "ended_at: must be between 1900 and 2200").encode()
    assert sent[1][1]["dlq-reason"] == b"not a CloudEvent: id is longer than 300 characters"
    assert handled == [] and committed == [{tp: 2}]
    assert loop.stats["dead_lettered"] == 2 and loop.stats["processed"] == 0


def test_the_sdks_reason_loses_what_it_quotes_of_the_input():
    with pytest.raises(BadRecord) as refused:
        parse_record(STRUCTURED, envelope_json(time="Samira de Vries"), "shifts.completed", ACCEPTS_SHIFTS)
    assert "Samira" not in str(refused.value) and str(refused.value).startswith("not a CloudEvent")
