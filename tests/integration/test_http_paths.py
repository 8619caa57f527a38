"""HTTP → state + outbox → Kafka → the other services, on the real broker and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
from sqlalchemy import func, select

from services.appreciation.service import definition as appreciation
from services.appreciation.tables import ledger, volunteers as appreciation_volunteers
from services.checkins.service import definition as checkins
from services.checkins.tables import clocks
from services.registration.service import definition as registration
from services.registration.tables import volunteers as registered_volunteers
from services.tasks.service import definition as tasks
from tests.integration.conftest import api_client, equals, eventually, read_topic


def client(runtime) -> httpx.AsyncClient:
    return api_client(runtime)


async def scalar(runtime, query):
    async with runtime.sessions() as session:
        return await session.scalar(query)


async def test_registration_reaches_checkins_and_appreciation_and_a_shift_becomes_a_milestone(start_service, infra):
    registration_service = await start_service(registration)
    tasks_service = await start_service(tasks)
    checkins_service = await start_service(checkins)
    appreciation_service = await start_service(appreciation)
    volunteer = f"henk-{uuid.uuid4().hex[:8]}"

    async with client(registration_service) as http:
        response = await http.post("/volunteers", json={
            "volunteer_id": volunteer, "name": "Henk de Vries", "email": "henk@example.org", "language": "nl",
            "service_started_on": "2021-12-04"})
        assert response.status_code == 201, response.text

    registered = await read_topic(infra.kafka_bootstrap, "volunteers.registered", volunteer.encode())
    assert json.loads(registered[0].value)["data"]["service_started_on"] == "2021-12-04"
    await eventually(lambda: scalar(checkins_service, select(clocks.c.due_at).where(
        clocks.c.volunteer_id == volunteer, clocks.c.kind == "intake")))
    await eventually(lambda: scalar(appreciation_service, select(appreciation_volunteers.c.language).where(
        appreciation_volunteers.c.volunteer_id == volunteer)))

    async with client(tasks_service) as http:
        response = await http.post("/shifts/completed", json={
            "volunteer_id": volunteer, "started_at": "2026-11-27T09:00:00+01:00",
            "ended_at": "2026-11-27T12:30:00+01:00", "task": "driving"})
        assert response.status_code == 201, response.text
        summary = (await http.get(f"/volunteers/{volunteer}/shifts")).json()
        assert (summary["shifts"], summary["hours"]) == (1, 3.5)

    await eventually(lambda: scalar(appreciation_service, select(ledger.c.milestone).where(
        ledger.c.volunteer_id == volunteer)))
    milestones = await read_topic(infra.kafka_bootstrap, "milestones.reached", volunteer.encode())
    assert [json.loads(m.value)["data"]["milestone"] for m in milestones] == ["first-shift"]
    # tasks consumed its own shifts.completed again: the shift is still counted once
    async with client(tasks_service) as http:
        await asyncio.sleep(1)
        assert (await http.get(f"/volunteers/{volunteer}/shifts")).json()["shifts"] == 1


async def test_invalid_http_input_gets_a_reason_per_field_and_writes_nothing(start_service):
    runtime = await start_service(registration)
    async with client(runtime) as http:
        response = await http.post("/volunteers", json={"name": "", "email": "not-an-address", "language": "de"})
        assert response.status_code == 422
        fields = {tuple(problem["loc"]) for problem in response.json()["detail"]}
        assert fields == {("body", "name"), ("body", "email"), ("body", "language")}

        first = await http.post("/volunteers", json={"volunteer_id": "twice", "name": "A", "email": "a@example.org"})
        again = await http.post("/volunteers", json={"volunteer_id": "twice", "name": "B", "email": "b@example.org"})
        assert (first.status_code, again.status_code) == (201, 409)
        assert again.json()["detail"] == "a volunteer with this id is already registered"
    assert await scalar(runtime, select(func.count()).select_from(registered_volunteers)) == 1
    assert await scalar(runtime, select(func.count()).select_from(registration.tables.outbox)) <= 1


async def test_outbox_rows_written_while_the_relay_is_down_are_published_later(start_service, settings, infra):
    first = await start_service(registration)
    for task in first._tasks:  # the process dies right after its commit, before relaying
        task.cancel()
    volunteer = f"late-{uuid.uuid4().hex[:8]}"
    async with client(first) as http:
        response = await http.post("/volunteers", json={"volunteer_id": volunteer, "name": "Marja",
                                                         "email": "marja@example.org", "language": "nl"})
        assert response.status_code == 201
    assert await scalar(first, select(func.count()).select_from(registration.tables.outbox)) == 1
    await first.stop()

    second = await start_service(registration)
    published = await read_topic(infra.kafka_bootstrap, "volunteers.registered", volunteer.encode())
    assert len(published) == 1
    await eventually(lambda: equals(scalar(second, select(func.count()).select_from(registration.tables.outbox)), 0))
