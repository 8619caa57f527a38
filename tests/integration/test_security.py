"""Secure by default, on the real broker and PostgreSQL: scoped tokens, bad input
that costs a 4xx or a dead letter, and erasure that reaches every service."""

from __future__ import annotations

import json
import logging
import uuid

import httpx
from sqlalchemy import String, cast, func, or_, select

from services.appreciation.service import definition as appreciation
from services.checkins.service import definition as checkins
from shared.service import combined_app
from services.registration.service import definition as registration
from services.tasks.service import definition as tasks
from shared.auth import TokenFile
from shared.contracts import SHIFT_COMPLETED, VOLUNTEER_REGISTERED
from shared.privacy import personal_tables
from tests.integration.conftest import api_client, eventually, read_topic, structured

SHIFT = {"started_at": "2026-11-27T09:00:00+01:00", "ended_at": "2026-11-27T12:30:00+01:00"}


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


async def test_a_shift_reporting_token_reports_shifts_and_reads_no_volunteer(start_service):
    registration_service = await start_service(registration, parts={"consume": False})
    tasks_service = await start_service(tasks, parts={"consume": False})
    tokens = TokenFile(tasks_service.settings.api_tokens_file)
    roster = tokens.create("roster", ["shifts:write"])
    volunteer = f"v-{uuid.uuid4().hex[:8]}"
    transport = httpx.ASGITransport(app=combined_app([registration_service, tasks_service],
                                                     tasks_service.settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        reported = await http.post("/tasks/shifts/completed", json={"volunteer_id": volunteer, **SHIFT},
                                   headers=bearer(roster))
        assert reported.status_code == 201, reported.text
        reading = await http.get(f"/registration/volunteers/{volunteer}", headers=bearer(roster))
        assert (reading.status_code, reading.json()["detail"]) == (403, "this token lacks the scope volunteers:read")
        unknown = await http.post("/tasks/shifts/completed", json={"volunteer_id": volunteer, **SHIFT},
                                  headers=bearer("dkj_" + "x" * 43))
        assert (unknown.status_code, unknown.headers["www-authenticate"]) == (401, "Bearer")
        tokens.revoke("roster")
        revoked = await http.post("/tasks/shifts/completed", json={"volunteer_id": volunteer, **SHIFT},
                                  headers=bearer(roster))
        assert revoked.status_code == 401


async def test_a_year_9999_date_is_a_422_on_http_and_a_dead_letter_on_kafka_without_retries(
        start_service, producer, infra, caplog):
    runtime = await start_service(tasks)
    volunteer = f"v-{uuid.uuid4().hex[:8]}"
    async with api_client(runtime, "shifts:write") as http:
        response = await http.post("/shifts/completed", json={
            "volunteer_id": volunteer, "started_at": "9999-12-31T09:00:00+01:00",
            "ended_at": "9999-12-31T12:00:00+01:00"})
    assert response.status_code == 422
    assert {tuple(p["loc"]) for p in response.json()["detail"]} == {("body", "started_at"), ("body", "ended_at")}
    assert "9999" not in response.text

    bad_value, bad_headers = structured(SHIFT_COMPLETED.type, {
        "shift_id": f"s-{uuid.uuid4().hex[:8]}", "volunteer_id": volunteer,
        "started_at": "9999-12-31T09:00:00+01:00", "ended_at": "9999-12-31T12:00:00+01:00"})
    good_value, good_headers = structured(SHIFT_COMPLETED.type, {
        "shift_id": f"s-{uuid.uuid4().hex[:8]}", "volunteer_id": volunteer, **SHIFT})
    await producer.send_and_wait("shifts.completed", bad_value, key=volunteer.encode(), headers=bad_headers)
    await producer.send_and_wait("shifts.completed", good_value, key=volunteer.encode(), headers=good_headers)
    dead = await read_topic(infra.kafka_bootstrap, "shifts.completed.dlq", volunteer.encode())
    reason = dict(dead[0].headers)["dlq-reason"].decode()
    assert "between 1900 and 2200" in reason and "handler failed" not in reason, reason
    async with api_client(runtime, "volunteers:read") as http:
        await eventually(lambda: _shift_count(http, volunteer), timeout=30)
    assert not [r for r in caplog.records if "replaying one by one" in r.getMessage() or "failed" in r.getMessage()
                and r.name.startswith("shared.consumer")]


async def _shift_count(http, volunteer: str) -> bool:
    return (await http.get(f"/volunteers/{volunteer}/shifts")).json()["shifts"] == 1


async def test_erasure_over_http_reaches_every_service_and_nothing_new_is_accepted(start_service, producer, infra):
    services = [await start_service(d) for d in (registration, tasks, checkins, appreciation)]
    registration_service, tasks_service, checkins_service, _ = services
    volunteer = f"henk-{uuid.uuid4().hex[:8]}"
    name, email = "Henk Verweij-Bos", f"henk.{uuid.uuid4().hex[:6]}@example.org"
    async with api_client(registration_service) as http:
        response = await http.post("/volunteers", json={"volunteer_id": volunteer, "name": name, "email": email,
                                                       "language": "nl", "coordinator_email": "ria@example.org"})
        assert response.status_code == 201, response.text
    async with api_client(tasks_service) as http:
        assert (await http.post("/shifts/completed", json={"volunteer_id": volunteer, **SHIFT})).status_code == 201
    everywhere = combined_app(services, registration_service.settings)
    token = TokenFile(registration_service.settings.api_tokens_file).create("privacy-officer", ["admin"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=everywhere), base_url="http://127.0.0.1",
                                 headers=bearer(token)) as http:
        async def every_service_knows() -> dict | None:
            document = (await http.get(f"/volunteers/{volunteer}/export")).json()["services"]
            held = {service: sum(len(rows) for rows in tables.values()) for service, tables in document.items()}
            return document if all(held.values()) and name in json.dumps(document["appreciation"]) else None

        export = await eventually(every_service_knows)
        assert export["registration"]["registration_volunteers"][0]["email"] == email
        assert export["tasks"]["tasks_shifts"][0]["volunteer_id"] == volunteer

        erased = await http.delete(f"/registration/volunteers/{volunteer}")
        assert erased.status_code == 202, erased.text

        async def nothing_left() -> bool:
            return not any([await _rows_holding(runtime, (name, email, "ria@example.org")) for runtime in services])

        await eventually(nothing_left)
        refusals = [
            await http.post("/registration/volunteers", json={"volunteer_id": volunteer, "name": name,
                                                               "email": email}),
            await http.get(f"/registration/volunteers/{volunteer}"),
            await http.post("/tasks/shifts/completed", json={"volunteer_id": volunteer, **SHIFT}),
            await http.post("/checkins/checkins", json={"volunteer_id": volunteer, "kind": "intake",
                                                         "held_at": "2026-11-28T10:00:00+01:00"}),
        ]
        assert [r.status_code for r in refusals] == [410, 410, 410, 410], [r.text for r in refusals]
    erasure = await read_topic(infra.kafka_bootstrap, "volunteers.erased", volunteer.encode())
    assert set(json.loads(erasure[0].value)["data"]) == {"volunteer_id", "requested_at"}

    # A late registration through Kafka brings nothing back either.
    value, headers = structured(VOLUNTEER_REGISTERED.type, {
        "volunteer_id": volunteer, "name": name, "email": email, "language": "nl",
        "registered_at": "2026-11-01T10:00:00+01:00"})
    await producer.send_and_wait("volunteers.registered", value, key=volunteer.encode(), headers=headers)
    await _settle(services)
    assert not any([await _rows_holding(runtime, (name, email)) for runtime in services])


async def _rows_holding(runtime, texts: tuple[str, ...]) -> int:
    """Rows of any of the service's tables (outbox included) with one of `texts` in any column."""
    found = 0
    async with runtime.engine.connect() as connection:
        for table in runtime.definition.metadata.sorted_tables:
            columns = [cast(column, String) for column in table.c]
            condition = or_(*(column.contains(text) for column in columns for text in texts))
            found += await connection.scalar(select(func.count()).select_from(table).where(condition))
    return found


async def _settle(services) -> None:
    import asyncio

    await asyncio.sleep(3)  # the late record is consumed (or not) within this


async def test_erasure_drops_the_persons_unpublished_events_and_keeps_the_others(start_service):
    runtime = await start_service(registration, parts={"consume": False})
    for task in runtime._tasks:  # no relay: what is in the outbox stays there
        task.cancel()
    gone, stays = f"v-{uuid.uuid4().hex[:8]}", f"v-{uuid.uuid4().hex[:8]}"
    async with api_client(runtime) as http:
        for volunteer in (gone, stays):
            response = await http.post("/volunteers", json={"volunteer_id": volunteer, "name": "Anna",
                                                           "email": "anna@example.org"})
            assert response.status_code == 201
        assert (await http.delete(f"/volunteers/{gone}")).status_code == 202
    outbox = registration.tables.outbox
    async with runtime.engine.connect() as connection:
        rows = (await connection.execute(select(outbox.c.key, outbox.c.topic).order_by(outbox.c.id))).all()
    assert rows == [(stays.encode(), "volunteers.registered"), (gone.encode(), "volunteers.erased")]
    assert personal_tables(registration.metadata)  # the export reads these


def test_no_log_line_named_the_person(caplog):
    assert not [r for r in caplog.records if r.levelno >= logging.INFO and "Verweij" in r.getMessage()]
