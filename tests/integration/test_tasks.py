"""The shift lifecycle over HTTP, its events, and shifts reported by rostering systems."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

import httpx
from sqlalchemy import func, select

from services.tasks.service import definition as tasks
from services.tasks.tables import shifts
from shared.contracts import SHIFT_COMPLETED, SHIFT_DECLINED, VOLUNTEER_ERASED
from tests.integration.conftest import api_client, equals, eventually, read_topic, structured


def client(runtime) -> httpx.AsyncClient:
    return api_client(runtime)


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


SHIFT = {"starts_at": "2026-12-05T09:00:00+01:00", "ends_at": "2026-12-05T12:30:00+01:00", "task": "food bank"}


async def shift_row(runtime, shift_id: str):
    async with runtime.sessions() as session:
        return (await session.execute(select(shifts).where(shifts.c.shift_id == shift_id))).first()


async def test_a_no_show_publishes_shifts_missed_and_counts_as_missed(start_service, infra):
    runtime = await start_service(tasks)
    volunteer, shift_id = unique("ans"), unique("shift")
    async with client(runtime) as http:
        scheduled = await http.post("/shifts", json={"shift_id": shift_id, **SHIFT})
        assert (scheduled.status_code, scheduled.json()["status"]) == (201, "scheduled")
        assigned = await http.post(f"/shifts/{shift_id}/assign", json={"volunteer_id": volunteer})
        assert (assigned.status_code, assigned.json()["status"]) == (200, "assigned")
        missed = await http.post(f"/shifts/{shift_id}/missed")
        assert (missed.status_code, missed.json()["status"]) == (200, "missed")
        summary = (await http.get(f"/volunteers/{volunteer}/shifts")).json()
    assert (summary["shifts"], summary["missed"]) == (0, 1)

    records = await read_topic(infra.kafka_bootstrap, "shifts.missed", volunteer.encode())
    assert len(records) == 1
    event = json.loads(records[0].value)
    assert event["type"] == "dankjewel.shift.missed.v1"
    assert (event["data"]["volunteer_id"], event["data"]["shift_id"]) == (volunteer, shift_id)
    assert datetime.fromisoformat(event["data"]["scheduled_start"]) == datetime.fromisoformat(SHIFT["starts_at"])


async def test_a_completed_scheduled_shift_publishes_shifts_completed_and_counts_hours(start_service, infra):
    runtime = await start_service(tasks)
    volunteer, shift_id = unique("piet"), unique("shift")
    async with client(runtime) as http:
        await http.post("/shifts", json={"shift_id": shift_id, "volunteer_id": volunteer, **SHIFT})
        completed = await http.post(f"/shifts/{shift_id}/complete",
                                    json={"ended_at": "2026-12-05T13:00:00+01:00"})  # stayed half an hour longer
        assert (completed.status_code, completed.json()["status"]) == (200, "completed")
        summary = (await http.get(f"/volunteers/{volunteer}/shifts")).json()
    assert (summary["shifts"], summary["hours"], summary["missed"]) == (1, 4.0, 0)

    records = await read_topic(infra.kafka_bootstrap, "shifts.completed", volunteer.encode())
    assert len(records) == 1  # and consuming its own event changed nothing
    data = json.loads(records[0].value)["data"]
    assert (data["shift_id"], data["task"]) == (shift_id, "food bank")
    assert datetime.fromisoformat(data["ended_at"]) == datetime.fromisoformat("2026-12-05T13:00:00+01:00")


async def test_invalid_transitions_are_refused_with_a_reason(start_service):
    runtime = await start_service(tasks)
    open_shift, no_show, other = unique("open"), unique("noshow"), unique("other")
    async with client(runtime) as http:
        await http.post("/shifts", json={"shift_id": open_shift, **SHIFT})
        await http.post("/shifts", json={"shift_id": no_show, "volunteer_id": unique("v"), **SHIFT})
        await http.post(f"/shifts/{no_show}/missed")

        unassigned, missed = "nobody is assigned to it", "the shift is already marked missed"
        refusals = [
            (await http.post(f"/shifts/{open_shift}/complete"), 409, f"cannot complete the shift: {unassigned}"),
            (await http.post(f"/shifts/{open_shift}/missed"), 409, f"cannot miss the shift: {unassigned}"),
            (await http.post(f"/shifts/{no_show}/cancel"), 409, f"cannot cancel the shift: {missed}"),
            (await http.post(f"/shifts/{no_show}/complete"), 409, f"cannot complete the shift: {missed}"),
            (await http.post("/shifts", json={"shift_id": open_shift, **SHIFT}), 409,
             "a shift with this id exists"),
            (await http.post(f"/shifts/{other}/assign", json={"volunteer_id": "x"}), 404, "no such shift"),
        ]
        for response, status, detail in refusals:
            assert (response.status_code, response.json()["detail"]) == (status, detail)

        backwards = await http.post("/shifts", json={**SHIFT, "ends_at": "2026-12-05T08:00:00+01:00"})
        assert backwards.status_code == 422
        assert (await http.post(f"/shifts/{open_shift}/assign", json={})).status_code == 422
    assert (await shift_row(runtime, open_shift)).status == "scheduled"
    assert (await shift_row(runtime, no_show)).status == "missed"


async def test_a_rostering_system_completes_a_shift_scheduled_here(start_service, producer):
    runtime = await start_service(tasks)
    volunteer, shift_id = unique("joke"), unique("r")
    async with client(runtime) as http:
        await http.post("/shifts", json={"shift_id": shift_id, "volunteer_id": volunteer, **SHIFT})
    value, headers = structured(SHIFT_COMPLETED.type, {
        "shift_id": shift_id, "volunteer_id": volunteer,
        "started_at": "2026-12-05T09:15:00+01:00", "ended_at": "2026-12-05T12:15:00+01:00"})
    await producer.send_and_wait("shifts.completed", value=value, key=volunteer.encode(), headers=headers)

    row = await eventually(lambda: _completed(runtime, shift_id))
    assert (row.volunteer_id, row.task, row.reported_by) == (volunteer, "food bank", "tasks")
    async with client(runtime) as http:
        assert (await http.get(f"/volunteers/{volunteer}/shifts")).json()["hours"] == 3.0


async def _completed(runtime, shift_id):
    row = await shift_row(runtime, shift_id)
    return row if row is not None and row.status == "completed" else None


async def test_erasure_unlinks_the_volunteers_shifts(start_service, producer):
    runtime = await start_service(tasks)
    volunteer, done, planned = unique("erase"), unique("done"), unique("planned")
    async with client(runtime) as http:
        await http.post("/shifts/completed", json={"shift_id": done, "volunteer_id": volunteer,
                                                   "started_at": "2026-11-01T09:00:00+01:00",
                                                   "ended_at": "2026-11-01T11:00:00+01:00"})
        await http.post("/shifts", json={"shift_id": planned, "volunteer_id": volunteer, **SHIFT})
    value, headers = structured(VOLUNTEER_ERASED.type, {"volunteer_id": volunteer,
                                                        "requested_at": "2026-11-20T10:00:00+01:00"})
    await producer.send_and_wait("volunteers.erased", value=value, key=volunteer.encode(), headers=headers)

    await eventually(lambda: _unlinked(runtime, planned))
    completed = await shift_row(runtime, done)
    assert (completed.volunteer_id, completed.status) == (None, "completed")
    assert (await shift_row(runtime, planned)).status == "scheduled"  # open for someone else
    async with client(runtime) as http:
        assert (await http.get(f"/volunteers/{volunteer}/shifts")).json()["shifts"] == 0


async def _unlinked(runtime, shift_id):
    row = await shift_row(runtime, shift_id)
    return row.volunteer_id is None


async def test_the_api_alone_leaves_the_state_and_its_own_events_coming_back_change_nothing(start_service):
    # The HTTP use cases apply what they publish; the echo through Kafka is recognised.
    # First without a consumer: no echo can help.
    api_only = await start_service(tasks, parts={"consume": False})
    volunteer, planned, reported = unique("echo"), unique("planned"), unique("reported")
    async with client(api_only) as http:
        await http.post("/shifts", json={"shift_id": planned, "volunteer_id": volunteer, **SHIFT})
        completed = await http.post(f"/shifts/{planned}/complete", json={"ended_at": "2026-12-05T11:00:00+01:00"})
        assert completed.status_code == 200, completed.text
        assert (await http.post("/shifts/completed", json={
            "shift_id": reported, "volunteer_id": volunteer, "task": "kiosk",
            "started_at": "2026-11-01T09:00:00+01:00", "ended_at": "2026-11-01T11:00:00+01:00"})).status_code == 201

    async def state() -> tuple:
        async with client(api_only) as http:
            summary = (await http.get(f"/volunteers/{volunteer}/shifts")).json()
            shown = [(await http.get(f"/shifts/{shift_id}")).json() for shift_id in (planned, reported)]
        return summary, shown

    after_api = await state()
    summary, (planned_shift, reported_shift) = after_api
    assert (summary["shifts"], summary["hours"]) == (2, 4.0)
    assert (planned_shift["status"], planned_shift["ended_at"]) == ("completed", "2026-12-05T10:00:00Z")
    assert (reported_shift["status"], reported_shift["task"]) == ("completed", "kiosk")

    # Then the echo: a consumer reads the two shifts.completed the API published.
    await start_service(tasks)
    inbox = tasks.tables.inbox
    await eventually(lambda: equals(scalar(api_only, select(func.count()).select_from(inbox)
                                           .where(inbox.c.source == "tasks")), 2))
    assert await state() == after_api


async def scalar(runtime, query):
    async with runtime.sessions() as session:
        return await session.scalar(query)


DETAILS = {"place": "Voedselbank, Kerkstraat 12", "contact": "Ingrid, 06-12345678",
           "bring": "Sturdy shoes; coffee is ready at 8:45."}


def data_of(records) -> list[dict]:
    return [json.loads(record.value)["data"] for record in records]


async def test_assignments_publish_what_a_reminder_needs_and_releases_say_why(start_service, infra):
    runtime = await start_service(tasks)
    ans, piet, shift_id, open_shift = unique("ans"), unique("piet"), unique("shift"), unique("open")
    async with client(runtime) as http:
        scheduled = await http.post("/shifts", json={"shift_id": shift_id, "volunteer_id": ans, **SHIFT, **DETAILS})
        assert (scheduled.status_code, scheduled.json()["place"], scheduled.json()["bring"]) == (
            201, DETAILS["place"], DETAILS["bring"])
        assert (await http.post(f"/shifts/{shift_id}/assign", json={"volunteer_id": piet})).status_code == 200
        assert (await http.post(f"/shifts/{shift_id}/assign", json={"volunteer_id": piet})).status_code == 200
        assert (await http.post(f"/shifts/{shift_id}/cancel")).json()["status"] == "cancelled"
        await http.post("/shifts", json={"shift_id": open_shift, **SHIFT})
        assert (await http.post(f"/shifts/{open_shift}/cancel")).status_code == 200  # nobody to release
        assert (await http.post("/shifts", json={**SHIFT, "bring": "x" * 2001})).status_code == 422

    [to_ans] = data_of(await read_topic(infra.kafka_bootstrap, "shifts.assigned", ans.encode()))
    assert {key: to_ans[key] for key in ("shift_id", "task", *DETAILS)} == {
        "shift_id": shift_id, "task": "food bank", **DETAILS}
    assert datetime.fromisoformat(to_ans["started_at"]) == datetime.fromisoformat(SHIFT["starts_at"])
    assert datetime.fromisoformat(to_ans["ended_at"]) == datetime.fromisoformat(SHIFT["ends_at"])
    # Piet is assigned once: the same assignment again plans no second reminder.
    assert len(await read_topic(infra.kafka_bootstrap, "shifts.assigned", piet.encode())) == 1
    [ans_released] = data_of(await read_topic(infra.kafka_bootstrap, "shifts.released", ans.encode()))
    [piet_released] = data_of(await read_topic(infra.kafka_bootstrap, "shifts.released", piet.encode()))
    assert (ans_released["shift_id"], ans_released["reason"]) == (shift_id, "reassigned")
    assert (piet_released["shift_id"], piet_released["reason"]) == (shift_id, "cancelled")


async def test_a_declined_shift_is_open_again_and_released_once(start_service, producer, infra):
    runtime = await start_service(tasks)
    joke, kees, planned, other = unique("joke"), unique("kees"), unique("planned"), unique("other")
    async with client(runtime) as http:
        await http.post("/shifts", json={"shift_id": planned, "volunteer_id": joke, **SHIFT})
        await http.post("/shifts", json={"shift_id": other, "volunteer_id": kees, **SHIFT})

    async def decline(shift_id: str) -> None:  # as the "I cannot come" link publishes it
        value, headers = structured(SHIFT_DECLINED.type, {"shift_id": shift_id, "volunteer_id": joke,
                                                          "declined_at": "2026-12-03T09:00:00+01:00"},
                                    source="appreciation")
        await producer.send_and_wait("shifts.declined", value=value, key=joke.encode(), headers=headers)

    await decline(other)    # not Joke's shift: changes nothing
    await decline(planned)
    await decline(planned)  # clicked twice (a new event): already off the shift
    await eventually(lambda: _unlinked(runtime, planned))

    released = data_of(await read_topic(infra.kafka_bootstrap, "shifts.released", joke.encode()))
    assert [(data["shift_id"], data["reason"]) for data in released] == [(planned, "declined")]
    assert (await shift_row(runtime, planned)).status == "scheduled"  # open for someone else
    assert ((await shift_row(runtime, other)).volunteer_id, (await shift_row(runtime, other)).status) == (
        kees, "assigned")
