"""Follow-up deadlines on the real broker and PostgreSQL: events start clocks, the
sweep raises `followups.overdue` once per rung.

Each test has a clean database but reads the topics from the start, so clocks of
earlier tests' volunteers run too: assertions look at one volunteer's records only."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timedelta

import httpx
from sqlalchemy import func, select

from services.checkins import handlers
from services.checkins.domain import overdue_event_id
from services.checkins.service import definition as checkins
from services.checkins.tables import clocks, raised, volunteers
from shared.contracts import (
    HELP_OFFERED,
    SHIFT_COMPLETED,
    VOLUNTEER_ERASED,
    VOLUNTEER_REGISTERED,
    VOLUNTEER_UPDATED,
    VolunteerRegistered,
)
from shared.envelope import new_event
from tests.integration.conftest import api_client, eventually, read_topic, structured

OFFERED_AT = datetime.fromisoformat("2026-09-01T10:00:00+02:00")
DAY, MINUTE = timedelta(days=1), timedelta(minutes=1)
# The service's own scheduled sweep runs at start-up with the runtime's clock: pin it
# before every event of these tests, so only the sweeps the tests run raise anything.
LONG_AGO = datetime.fromisoformat("2020-01-01T00:00:00+00:00")


def client(runtime) -> httpx.AsyncClient:
    return api_client(runtime)


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


async def start_checkins(start_service, settings):
    return await start_service(checkins, clock=lambda: LONG_AGO,
                               settings=settings.model_copy(update={"org_lead_email": "lead@example.org"}))


async def publish(producer, event_type, data: dict) -> None:
    value, headers = structured(event_type.type, data)
    await producer.send_and_wait(event_type.topic, value=value, key=data["volunteer_id"].encode(), headers=headers)


async def clock(runtime, volunteer: str, kind: str):
    async with runtime.sessions() as session:
        return (await session.execute(select(clocks).where(
            clocks.c.volunteer_id == volunteer, clocks.c.kind == kind))).first()


async def offer_help(producer, runtime, volunteer: str) -> None:
    await publish(producer, HELP_OFFERED, {
        "volunteer_id": volunteer, "application_id": "app-1", "opportunity_title": "Technical drawing",
        "offered_at": OFFERED_AT.isoformat(), "coordinator_email": "desk@example.org"})
    await eventually(lambda: clock(runtime, volunteer, "intake"))


async def raised_rungs(runtime, volunteer: str) -> list[tuple[str, str]]:
    async with runtime.sessions() as session:
        rows = await session.execute(select(raised.c.kind, raised.c.rung).where(raised.c.volunteer_id == volunteer)
                                     .order_by(raised.c.due_since, raised.c.rung.desc()))
        return [tuple(row) for row in rows]


async def overdue(infra, volunteer: str, expect: int, timeout: float = 30.0) -> list[dict]:
    records = await read_topic(infra.kafka_bootstrap, "followups.overdue", volunteer.encode(),
                               expect=expect, timeout=timeout)
    return [json.loads(r.value) for r in records]


async def test_an_unanswered_offer_of_help_reminds_then_escalates_once(start_service, settings, producer, infra):
    """A retired draughtsman offers his skills and hears nothing."""
    runtime = await start_checkins(start_service, settings)
    volunteer = unique("draughtsman")
    await offer_help(producer, runtime, volunteer)

    await runtime.sweep(OFFERED_AT + 7 * DAY - MINUTE)
    assert await raised_rungs(runtime, volunteer) == []
    await runtime.sweep(OFFERED_AT + 7 * DAY + MINUTE)
    await runtime.sweep(OFFERED_AT + 7 * DAY + MINUTE)  # the same moment again: nothing new
    assert await raised_rungs(runtime, volunteer) == [("intake", "reminder")]
    await runtime.sweep(OFFERED_AT + 14 * DAY)
    await runtime.sweep(OFFERED_AT + 14 * DAY)
    assert await raised_rungs(runtime, volunteer) == [("intake", "reminder"), ("intake", "escalation")]

    reminder, escalation = await overdue(infra, volunteer, expect=2)
    due_since = OFFERED_AT + 7 * DAY
    assert datetime.fromisoformat(reminder["data"].pop("due_since")) == due_since
    assert reminder["data"] == {
        "volunteer_id": volunteer, "kind": "intake", "rung": "reminder",
        "coordinator_email": "desk@example.org", "escalate_to": None,
        "detail": "No intake conversation yet after the offer of help for 'Technical drawing' of 2026-09-01; "
                  "due 2026-09-08.",
        "started_at": "2026-09-01T08:00:00Z", "started_by": "offer-of-help", "opportunity_title": "Technical drawing"}
    assert (escalation["data"]["rung"], escalation["data"]["escalate_to"],
            datetime.fromisoformat(escalation["data"]["due_since"])) == ("escalation", "lead@example.org", due_since)
    started = OFFERED_AT
    assert [reminder["id"], escalation["id"]] == [overdue_event_id(volunteer, "intake", started, "reminder"),
                                                  overdue_event_id(volunteer, "intake", started, "escalation")]


async def test_an_intake_held_on_day_three_stops_the_clock(start_service, settings, producer, infra):
    runtime = await start_checkins(start_service, settings)
    volunteer = unique("answered")
    await offer_help(producer, runtime, volunteer)
    async with client(runtime) as http:
        response = await http.post("/checkins", json={"volunteer_id": volunteer, "kind": "intake",
                                                      "held_at": (OFFERED_AT + 3 * DAY).isoformat()})
        assert response.status_code == 201, response.text
    assert (await clock(runtime, volunteer, "intake")).closed_at == OFFERED_AT + 3 * DAY

    await runtime.sweep(OFFERED_AT + 7 * DAY + MINUTE)
    await runtime.sweep(OFFERED_AT + 14 * DAY + MINUTE)
    assert await raised_rungs(runtime, volunteer) == []
    assert await overdue(infra, volunteer, expect=1, timeout=5) == []


async def test_no_onboarding_check_in_after_the_first_shift(start_service, settings, producer, infra):
    runtime = await start_checkins(start_service, settings)
    volunteer = unique("newbie")
    ended_at = datetime.fromisoformat("2026-10-03T16:00:00+02:00")
    for shift, day in (("s1", 0), ("s2", 5)):  # only the first shift starts the clock
        await publish(producer, SHIFT_COMPLETED, {
            "volunteer_id": volunteer, "shift_id": unique(shift),
            "started_at": (ended_at + day * DAY - 3 * timedelta(hours=1)).isoformat(),
            "ended_at": (ended_at + day * DAY).isoformat()})
    await eventually(lambda: clock(runtime, volunteer, "onboarding"))

    await runtime.sweep(ended_at + 14 * DAY - MINUTE)
    assert await raised_rungs(runtime, volunteer) == []
    await runtime.sweep(ended_at + 14 * DAY + MINUTE)
    assert await raised_rungs(runtime, volunteer) == [("onboarding", "reminder")]
    [event] = await overdue(infra, volunteer, expect=1)
    assert (event["data"]["kind"], event["data"]["rung"], event["data"]["coordinator_email"]) == (
        "onboarding", "reminder", "coordinator@example.org")  # nobody named one: the default
    assert datetime.fromisoformat(event["data"]["due_since"]) == ended_at + 14 * DAY


async def test_a_quiet_volunteer_is_flagged_unless_they_stopped(start_service, settings, producer, infra):
    runtime = await start_checkins(start_service, settings)
    registered_at = datetime.fromisoformat("2026-06-01T10:00:00+02:00")
    quiet, stopped = unique("quiet"), unique("stopped")
    for volunteer in (quiet, stopped):
        await publish(producer, VOLUNTEER_REGISTERED, {
            "volunteer_id": volunteer, "name": "Anna", "email": "anna@example.org", "language": "nl",
            "registered_at": registered_at.isoformat()})
        # The registration first: this test is about the quiet clock, not about a
        # check-in recorded while the registration is being applied.
        await eventually(lambda volunteer=volunteer: clock(runtime, volunteer, "intake"))
        async with client(runtime) as http:  # the intake was held: only the quiet clock is left to run out
            await http.post("/checkins", json={"volunteer_id": volunteer, "kind": "intake",
                                               "held_at": (registered_at + DAY).isoformat()})
    await publish(producer, VOLUNTEER_UPDATED, {
        "volunteer_id": stopped, "active": False, "updated_at": (registered_at + 20 * DAY).isoformat()})

    async def registered_and_stopped():  # both events applied, in whichever order they came
        async with runtime.sessions() as session:
            row = (await session.execute(select(volunteers).where(volunteers.c.volunteer_id == stopped))).first()
            return row is not None and row.registered_at is not None and row.active is False
    await eventually(registered_and_stopped)
    await eventually(lambda: clock(runtime, quiet, "quiet"))  # the registrations may be on another partition

    await runtime.sweep(registered_at + 60 * DAY + MINUTE)
    assert await raised_rungs(runtime, quiet) == [("quiet", "reminder")]
    assert await raised_rungs(runtime, stopped) == []
    [event] = await overdue(infra, quiet, expect=1)
    assert (event["data"]["kind"], event["data"]["rung"]) == ("quiet", "reminder")
    assert event["data"]["detail"] == "No shift for 60 days since the registration on 2026-06-01; please get in touch."
    assert await overdue(infra, stopped, expect=1, timeout=3) == []


async def test_erasure_removes_the_coordinator_and_stops_the_clocks(start_service, settings, producer, infra):
    runtime = await start_checkins(start_service, settings)
    volunteer = unique("forget-me")
    await offer_help(producer, runtime, volunteer)
    await publish(producer, VOLUNTEER_ERASED, {"volunteer_id": volunteer,
                                               "requested_at": (OFFERED_AT + DAY).isoformat()})

    async def erased():
        async with runtime.sessions() as session:
            return (await session.execute(select(volunteers).where(
                volunteers.c.volunteer_id == volunteer, volunteers.c.erased_at.is_not(None)))).first()
    row = await eventually(erased)
    assert row.coordinator_email is None
    assert await clock(runtime, volunteer, "intake") is None
    await runtime.sweep(OFFERED_AT + 14 * DAY + MINUTE)
    assert await raised_rungs(runtime, volunteer) == []
    assert await overdue(infra, volunteer, expect=1, timeout=3) == []


async def test_a_check_in_posted_while_its_registration_is_applied_closes_the_intake_without_its_echo(
        start_service):
    # The API's transaction and a registration's run at the same moment, each of the
    # same volunteer; no consumer runs, so the check-in's own event cannot help.
    runtime = await start_service(checkins, clock=lambda: LONG_AGO, parts={"consume": False})
    volunteer, registered_at = unique("race"), datetime.fromisoformat("2026-06-01T10:00:00+02:00")
    registration = new_event(VOLUNTEER_REGISTERED, VolunteerRegistered(
        volunteer_id=volunteer, name="Anna", email="anna@example.org", language="nl", registered_at=registered_at),
        "https://crm.example.org", time=registered_at)
    held = {"checkin_id": unique("checkin"), "volunteer_id": volunteer, "kind": "intake",
            "held_at": (registered_at + DAY).isoformat()}
    async with client(runtime) as http:
        async with runtime.unit() as unit:  # as the consumer applies a batch
            await handlers.handle_batch(unit, [registration])
            posting = asyncio.create_task(http.post("/checkins", json=held))
            await asyncio.wait({posting}, timeout=2)  # the API's transaction goes as far as it can
        assert (await posting).status_code == 201
        after_api = (await http.get(f"/volunteers/{volunteer}/checkins")).json()
    assert (await clock(runtime, volunteer, "intake")).closed_at == registered_at + DAY
    assert (await clock(runtime, volunteer, "periodic")).started_at == registered_at + DAY

    # The check-in's own event, consumed later, is recognised: nothing changes.
    await start_service(checkins, clock=lambda: LONG_AGO)
    inbox = checkins.tables.inbox
    await eventually(lambda: _scalar(runtime, select(func.count()).select_from(inbox)
                                     .where(inbox.c.source == "checkins")))
    async with client(runtime) as http:
        assert (await http.get(f"/volunteers/{volunteer}/checkins")).json() == after_api


async def _scalar(runtime, query):
    async with runtime.sessions() as session:
        return await session.scalar(query)
