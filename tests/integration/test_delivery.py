"""The platform's delivery guarantees, end to end on the real broker and PostgreSQL:
both CloudEvents content modes, dedup, dead-lettering, and a crash between the
database commit and the offset commit."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from services.appreciation.service import definition as appreciation
from services.appreciation.tables import ledger, shifts
from shared.contracts import SHIFT_COMPLETED
from tests.integration.conftest import binary, eventually, read_topic, structured


def shift_data(volunteer_id: str, shift_id: str | None = None) -> dict:
    end = datetime.now(timezone.utc) - timedelta(hours=1)
    return {"shift_id": shift_id or str(uuid.uuid4()), "volunteer_id": volunteer_id,
            "started_at": (end - timedelta(hours=3)).isoformat(), "ended_at": end.isoformat()}


async def count_rows(runtime, table, volunteer_id: str) -> int:
    async with runtime.sessions() as session:
        return await session.scalar(select(func.count()).select_from(table).where(table.c.volunteer_id == volunteer_id))


async def test_structured_and_binary_events_reach_state_and_outbox(start_service, producer, infra):
    runtime = await start_service(appreciation)
    for encode in (structured, binary):
        volunteer = f"v-{encode.__name__}-{uuid.uuid4().hex[:8]}"
        value, headers = encode(SHIFT_COMPLETED.type, shift_data(volunteer))
        await producer.send_and_wait("shifts.completed", value=value, key=volunteer.encode(), headers=headers)

        await eventually(lambda: count_rows(runtime, ledger, volunteer))
        out = await read_topic(infra.kafka_bootstrap, "milestones.reached", volunteer.encode())
        assert len(out) == 1, f"{encode.__name__}: expected one milestone event, got {len(out)}"
        event = json.loads(out[0].value)
        assert dict(out[0].headers)["content-type"] == b"application/cloudevents+json"
        assert event["type"] == "dankjewel.milestone.reached.v1"
        assert event["source"] == "appreciation"
        assert event["data"]["volunteer_id"] == volunteer
        assert event["data"]["milestone"] == "first-shift"
        assert event["data"]["celebrated"] is True


async def test_same_event_three_times_has_one_effect(start_service, producer, infra):
    runtime = await start_service(appreciation)
    volunteer = f"v-dup-{uuid.uuid4().hex[:8]}"
    event_id = str(uuid.uuid4())
    value, headers = structured(SHIFT_COMPLETED.type, shift_data(volunteer), event_id=event_id)
    for _ in range(3):
        await producer.send_and_wait("shifts.completed", value=value, key=volunteer.encode(), headers=headers)

    async def settled():  # the counter moves before its transaction commits: wait for the row too
        return runtime.consumer.stats["duplicates"] >= 2 and await count_rows(runtime, shifts, volunteer) or None

    await eventually(settled)
    assert await count_rows(runtime, shifts, volunteer) == 1
    assert await count_rows(runtime, ledger, volunteer) == 1
    out = await read_topic(infra.kafka_bootstrap, "milestones.reached", volunteer.encode())
    assert len(out) == 1


async def test_bad_records_are_dead_lettered_and_consumption_goes_on(start_service, producer, infra):
    runtime = await start_service(appreciation)
    volunteer = f"v-dlq-{uuid.uuid4().hex[:8]}"
    key = volunteer.encode()
    missing_field = shift_data(volunteer)
    del missing_field["ended_at"]
    bad = {
        "garbage": (b"this is not json{", [("content-type", b"application/cloudevents+json")]),
        "unknown type": structured("com.example.unknown.v1", shift_data(volunteer)),
        "missing field": structured(SHIFT_COMPLETED.type, missing_field),
    }
    for value, headers in bad.values():
        await producer.send_and_wait("shifts.completed", value=value, key=key, headers=headers)
    good_value, good_headers = binary(SHIFT_COMPLETED.type, shift_data(volunteer))
    await producer.send_and_wait("shifts.completed", value=good_value, key=key, headers=good_headers)

    await eventually(lambda: count_rows(runtime, ledger, volunteer))
    dead = await read_topic(infra.kafka_bootstrap, "shifts.completed.dlq", key, expect=3)
    reasons = [dict(r.headers)["dlq-reason"].decode() for r in dead]
    assert len(dead) == 3, reasons
    assert reasons[0].startswith("not JSON")
    assert reasons[1] == "unknown type 'com.example.unknown.v1'"
    assert reasons[2].startswith("invalid data for dankjewel.shift.completed.v1: ended_at: Field required")
    for record, (value, headers) in zip(dead, bad.values()):
        record_headers = dict(record.headers)
        assert record.value == value  # original value, key and headers are kept
        assert all(record_headers[name] == header for name, header in headers)
        assert record_headers["dlq-service"] == b"appreciation"
        assert record_headers["dlq-original-topic"] == b"shifts.completed"
        assert datetime.fromisoformat(record_headers["dlq-time"].decode()).tzinfo is not None


async def test_type_on_the_wrong_topic_is_dead_lettered(start_service, producer, infra):
    await start_service(appreciation)
    volunteer = f"v-wrong-{uuid.uuid4().hex[:8]}"
    value, headers = structured("dankjewel.checkin.completed.v1", {"volunteer_id": volunteer})
    await producer.send_and_wait("shifts.completed", value=value, key=volunteer.encode(), headers=headers)
    dead = await read_topic(infra.kafka_bootstrap, "shifts.completed.dlq", volunteer.encode())
    assert len(dead) == 1
    assert dict(dead[0].headers)["dlq-reason"] == (
        b"type 'dankjewel.checkin.completed.v1' does not belong on topic 'shifts.completed' "
        b"(it goes on 'checkins.completed')")


async def test_crash_between_database_commit_and_offset_commit_has_no_second_effect(
        start_service, producer, infra, settings):
    first = await start_service(appreciation)
    committed_to_database = asyncio.Event()

    async def freeze_instead_of_committing(offsets):  # the process hangs here, then dies
        committed_to_database.set()
        await asyncio.Event().wait()

    first.consumer.commit_offsets = freeze_instead_of_committing
    volunteer = f"v-crash-{uuid.uuid4().hex[:8]}"
    value, headers = structured(SHIFT_COMPLETED.type, shift_data(volunteer))
    await producer.send_and_wait("shifts.completed", value=value, key=volunteer.encode(), headers=headers)
    await asyncio.wait_for(committed_to_database.wait(), 30)
    assert await count_rows(first, ledger, volunteer) == 1
    await first.stop()  # no offset was committed for that record

    second = await start_service(appreciation)  # same consumer group: the record is redelivered
    await eventually(lambda: second.consumer.stats["duplicates"] >= 1 or None)
    assert await count_rows(second, ledger, volunteer) == 1
    assert await count_rows(second, shifts, volunteer) == 1
    out = await read_topic(infra.kafka_bootstrap, "milestones.reached", volunteer.encode())
    # The relay is at-least-once too: whatever reached the topic is one event (one CloudEvent id).
    assert len({json.loads(record.value)["id"] for record in out}) == 1
