"""The coordinator console on the real broker, PostgreSQL and SMTP server: an alert
raised by the follow-up sweep shows on Today, "I spoke to Gerard" publishes a
check-in that closes the clock, and no escalation follows; a card to write is a
to-do, done in the console or, forgotten, reported to the lead once; upcoming
milestones show until reached; an admin exports a volunteer's data."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select

from services.appreciation.service import definition as appreciation
from services.appreciation.tables import volunteers as appreciation_volunteers
from services.checkins.service import definition as checkins
from services.checkins.tables import clocks, raised
from services.console import usecases
from services.console.service import definition as console
from services.console.tables import alerts, todos, upcoming
from shared.contracts import HELP_OFFERED, MILESTONE_REACHED, MILESTONE_UPCOMING, VOLUNTEER_REGISTERED
from tests.integration.conftest import eventually, read_topic, structured

OFFERED_AT = datetime.fromisoformat("2026-09-01T10:00:00+02:00")
LONG_AGO = datetime.fromisoformat("2020-01-01T00:00:00+00:00")
DAY, MINUTE = timedelta(days=1), timedelta(minutes=1)
PASSWORD = "a long enough password"


async def publish(producer, event_type, data: dict) -> None:
    value, headers = structured(event_type.type, data)
    await producer.send_and_wait(event_type.topic, value=value, key=data["volunteer_id"].encode(), headers=headers)


async def signed_in_client(runtime, email: str, role: str = "coordinator") -> httpx.AsyncClient:
    async with runtime.engine.begin() as connection:
        await usecases.add_user(connection, email, role, PASSWORD)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=runtime.http_app()), base_url="http://127.0.0.1")
    form = await client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    response = await client.post("/login", data={"email": email, "password": PASSWORD, "csrf": csrf})
    assert response.status_code == 303, response.text
    return client


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


async def test_gerard_offered_help_nobody_followed_up_and_the_console_closes_the_loop(
        start_service, mail_settings, producer, infra):
    settings = mail_settings.model_copy(update={"org_lead_email": "lead@example.org"})
    checkins_service = await start_service(checkins, settings=settings, clock=lambda: LONG_AGO)
    await start_service(appreciation, settings=settings)
    console_service = await start_service(console, settings=settings)
    gerard = f"gerard-{uuid.uuid4().hex[:8]}"
    await publish(producer, VOLUNTEER_REGISTERED, {
        "volunteer_id": gerard, "name": "Gerard Dekker", "email": "gerard@example.org", "language": "nl",
        "registered_at": (OFFERED_AT - DAY).isoformat(), "coordinator_email": "ria@example.org"})
    await publish(producer, HELP_OFFERED, {"volunteer_id": gerard, "application_id": f"a-{gerard}",
                                           "offered_at": OFFERED_AT.isoformat()})

    async def intake_clock():
        async with checkins_service.sessions() as session:
            return (await session.execute(select(clocks).where(
                clocks.c.volunteer_id == gerard, clocks.c.kind == "intake"))).first()

    await eventually(intake_clock)
    await checkins_service.sweep(OFFERED_AT + 7 * DAY + MINUTE)  # nobody followed up within a week

    async def open_alert():
        async with console_service.sessions() as session:
            return (await session.execute(select(alerts).where(
                alerts.c.volunteer_id == gerard, alerts.c.closed_at.is_(None)))).first()

    alert = await eventually(open_alert)
    assert alert.reason == "intake-overdue"

    anonymous = httpx.AsyncClient(transport=httpx.ASGITransport(app=console_service.http_app()),
                                  base_url="http://127.0.0.1")
    async with anonymous:
        refused = await anonymous.get("/")
        assert (refused.status_code, refused.headers["location"]) == (303, "/login?next=%2F")

    ria = await signed_in_client(console_service, "ria@example.org")
    async with contextlib.aclosing(ria):
        today = await ria.get("/")
        assert today.status_code == 200
        assert "Gerard Dekker" in today.text and "Nog geen kennismakingsgesprek" in today.text
        mine = await ria.get("/", params={"mine": "true"})
        assert "Gerard Dekker" in mine.text  # Ria is his coordinator
        found = await ria.get("/search", params={"q": "dekker"})
        assert f"/volunteers/{gerard}" in found.text

        english = await ria.post("/language", data={"csrf": csrf_of(today.text), "language": "en"})
        assert english.status_code == 303
        assert "No intake conversation yet" in (await ria.get("/")).text  # her own choice, kept on her account
        forged = await ria.post(f"/alerts/{alert.id}/spoke", data={"csrf": "not-the-token"})
        assert forged.status_code == 403
        spoke = await ria.post(f"/alerts/{alert.id}/spoke", data={"csrf": csrf_of(today.text)})
        assert spoke.status_code == 303 and spoke.headers["location"] == f"/volunteers/{gerard}?done=spoke"

    published = await read_topic(infra.kafka_bootstrap, "checkins.completed", gerard.encode())
    assert published[0].value and b'"kind":"intake"' in published[0].value.replace(b" ", b"")

    async def clock_closed():
        return (await intake_clock()).closed_at is not None

    await eventually(clock_closed)
    await eventually(lambda: _alert_closed(console_service, alert.id))

    await checkins_service.sweep(OFFERED_AT + 14 * DAY + MINUTE)  # when the escalation would be due
    async with checkins_service.sessions() as session:
        rungs = (await session.scalars(select(raised.c.rung).where(raised.c.volunteer_id == gerard))).all()
    assert rungs == ["reminder"]  # the conversation was recorded in time: nothing escalates


async def _alert_closed(runtime, alert_id: int) -> bool:
    async with runtime.sessions() as session:
        return (await session.scalar(select(alerts.c.closed_by).where(alerts.c.id == alert_id))) == "checkin"


async def test_taking_an_alert_on_shows_for_everyone_and_an_admin_erases_from_the_console(
        start_service, settings, producer, infra):
    console_service = await start_service(console)
    henk = f"henk-{uuid.uuid4().hex[:8]}"
    await publish(producer, VOLUNTEER_REGISTERED, {
        "volunteer_id": henk, "name": "Henk Verweij", "email": "henk@example.org", "language": "nl",
        "registered_at": "2021-12-04T10:00:00+01:00"})
    value, headers = structured("dankjewel.alert.raised.v1", {
        "volunteer_id": henk, "reason": "quiet-volunteer", "coordinator_email": "coordinator@example.org",
        "due_since": "2026-11-01T10:00:00+01:00"})
    await producer.send_and_wait("alerts.raised", value, key=henk.encode(), headers=headers)

    async def open_alert():
        async with console_service.sessions() as session:
            return (await session.execute(select(alerts).where(alerts.c.volunteer_id == henk))).first()

    alert = await eventually(open_alert)
    ria = await signed_in_client(console_service, "ria@example.org")
    async with contextlib.aclosing(ria):
        page = await ria.get(f"/volunteers/{henk}")
        taken = await ria.post(f"/alerts/{alert.id}/take", data={"csrf": csrf_of(page.text)})
        assert taken.status_code == 303
        refused = await ria.post(f"/volunteers/{henk}/erase", data={"csrf": csrf_of(page.text), "confirm": henk})
        assert refused.status_code == 403  # coordinators do not erase
    acknowledged = await read_topic(infra.kafka_bootstrap, "alerts.acknowledged", henk.encode())
    assert b"ria@example.org" not in acknowledged[0].value  # named by an opaque account id

    admin = await signed_in_client(console_service, "admin@example.org", role="admin")
    async with contextlib.aclosing(admin):
        page = await admin.get(f"/volunteers/{henk}")
        assert "taken on by" in page.text or "opgepakt door ria@example.org" in page.text
        erased = await admin.post(f"/volunteers/{henk}/erase", data={"csrf": csrf_of(page.text), "confirm": henk})
        assert erased.status_code == 303
        await read_topic(infra.kafka_bootstrap, "volunteers.erased", henk.encode())

        async def gone() -> bool:
            return (await admin.get(f"/volunteers/{henk}")).status_code == 410

        await eventually(gone)
        assert "Henk Verweij" not in (await admin.get("/search", params={"q": "henk"})).text


ANNIVERSARY_WEEK_AHEAD = datetime.fromisoformat("2027-03-03T09:00:00+01:00")  # anniversaries on 10 March 2027
DAY_AFTER = datetime.fromisoformat("2027-03-11T09:00:00+01:00")


async def test_henks_card_is_a_to_do_done_in_the_console_and_a_forgotten_card_reaches_the_lead_once(
        start_service, mail_settings, smtp_server, producer, infra):
    settings = mail_settings.model_copy(update={"org_lead_email": "lead@example.org"})
    by_hand = {"scheduled_sweeps": False}  # the test runs each sweep as of its own moment
    appreciation_service = await start_service(appreciation, settings=settings, parts=by_hand)
    console_service = await start_service(console, settings=settings, parts=by_hand,
                                          clock=lambda: ANNIVERSARY_WEEK_AHEAD)
    henk, truus = f"henk-{uuid.uuid4().hex[:8]}", f"truus-{uuid.uuid4().hex[:8]}"
    for volunteer_id, name in ((henk, "Henk"), (truus, "Truus")):
        await publish(producer, VOLUNTEER_REGISTERED, {
            "volunteer_id": volunteer_id, "name": name, "email": f"{name.lower()}@example.org", "language": "nl",
            "registered_at": "2022-03-10T10:00:00+01:00", "service_started_on": "2022-03-10",
            "coordinator_email": "ria@example.org"})

    async def registered_in_appreciation():
        async with appreciation_service.sessions() as session:
            rows = (await session.execute(select(appreciation_volunteers.c.volunteer_id).where(
                appreciation_volunteers.c.volunteer_id.in_([henk, truus]),
                appreciation_volunteers.c.registered_at.is_not(None)))).all()
        return len(rows) == 2

    await eventually(registered_in_appreciation)
    assert await appreciation_service.sweep(ANNIVERSARY_WEEK_AHEAD) >= 2  # reminders (and lunch invitations)
    assert await appreciation_service.sweep(ANNIVERSARY_WEEK_AHEAD) == 0
    opened = await read_topic(infra.kafka_bootstrap, "todos.opened", henk.encode())
    assert len(opened) == 1
    data = json.loads(opened[0].value)["data"]
    assert (data["todo_id"], data["action"], data["due_on"]) == ("years-5-card", "write-card", "2027-03-10")
    assert b"Henk" not in opened[0].value and b"@example.org" not in opened[0].value

    async def open_todos():
        async with console_service.sessions() as session:
            rows = (await session.execute(select(todos).where(todos.c.volunteer_id.in_([henk, truus])))).all()
        return rows if len(rows) == 2 else None

    await eventually(open_todos)
    ria = await signed_in_client(console_service, "ria@example.org")
    async with contextlib.aclosing(ria):
        today = await ria.get("/", params={"mine": "true"})
        assert "Schrijf Henk een persoonlijke kaart vóór 10 maart 2027" in today.text
        assert "Schrijf Truus een persoonlijke kaart vóór 10 maart 2027" in today.text
        page = await ria.get(f"/volunteers/{henk}")
        assert 'id="todo-years-5-card"' in page.text and 'name="note"' in page.text

        done_url = f"/volunteers/{henk}/todos/years-5-card/done"
        forged = await ria.post(done_url, data={"csrf": "not-the-token", "note": "x"})
        assert forged.status_code == 403
        done = await ria.post(done_url, data={"csrf": csrf_of(page.text), "note": "Kaart gegeven bij de koffie."})
        assert done.status_code == 303
        assert done.headers["location"] == f"/volunteers/{henk}?done=todo-done#todo-years-5-card"
        again = await ria.post(done_url, data={"csrf": csrf_of(page.text), "note": "twice"})  # a double click
        assert again.status_code == 303

        snoozed = await ria.post(f"/volunteers/{truus}/todos/years-5-card/snooze",
                                 data={"csrf": csrf_of(today.text), "back": "mine"})
        assert (snoozed.status_code, snoozed.headers["location"]) == (303, "/?mine=true&done=todo-snoozed#todos")
        today = await ria.get("/")
        assert "Henk een persoonlijke kaart" not in today.text  # done
        assert "Truus een persoonlijke kaart" not in today.text  # snoozed for a week
        assert "Kaart gegeven bij de koffie." in (await ria.get(f"/volunteers/{henk}")).text

    published = await read_topic(infra.kafka_bootstrap, "todos.done", henk.encode())
    assert len(published) == 1  # the double click published nothing
    done_data = json.loads(published[0].value)["data"]
    assert done_data["note"] == "Kaart gegeven bij de koffie." and done_data["by"].startswith("u-")
    assert b"ria@example.org" not in published[0].value
    snooze = await read_topic(infra.kafka_bootstrap, "todos.snoozed", truus.encode())
    assert json.loads(snooze[0].value)["data"]["until"] == "2027-03-10"

    # Truus's snooze ends on her anniversary; the day after, her card is overdue, once.
    assert await console_service.sweep(DAY_AFTER) == 1
    assert await console_service.sweep(DAY_AFTER) == 0
    overdue = await read_topic(infra.kafka_bootstrap, "todos.overdue", truus.encode())
    assert len(overdue) == 1
    async with console_service.sessions() as session:
        escalated = dict((await session.execute(select(todos.c.volunteer_id, todos.c.escalated_at).where(
            todos.c.volunteer_id.in_([henk, truus])))).all())
    assert escalated[henk] is None and escalated[truus] is not None

    def lead_mails():
        return [m for m in smtp_server.to("lead@example.org") if m["X-Dankjewel-Notification"] == "todo-overdue"]

    await eventually(lead_mails)
    await asyncio.sleep(2)  # would a second one come?
    assert len(lead_mails()) == 1
    mail = lead_mails()[0]
    assert mail["Subject"] == "De kaart voor Truus is nog niet geschreven"
    assert "10 maart 2027" in mail.get_body(("plain",)).get_content()


DEC_1 = datetime.fromisoformat("2026-12-01T09:00:00+01:00")


async def test_upcoming_milestones_show_on_today_until_reached_and_an_admin_exports_them(
        start_service, producer, caplog):
    console_service = await start_service(console, clock=lambda: DEC_1)
    henk = f"henk-{uuid.uuid4().hex[:8]}"
    await publish(producer, VOLUNTEER_REGISTERED, {
        "volunteer_id": henk, "name": "Henk Verweij", "email": "henk@example.org", "language": "nl",
        "registered_at": "2021-12-04T10:00:00+01:00", "coordinator_email": "ria@example.org"})
    # What appreciation publishes: the anniversary with its date, and a shift count nearly reached.
    await publish(producer, MILESTONE_UPCOMING, {
        "volunteer_id": henk, "milestone": "years-5", "measure": "years", "threshold": 5, "value": 4,
        "expected_on": "2026-12-04", "sends": [
            {"notification": "coordinator-reminder", "audience": "coordinator", "on": "2026-11-27"},
            {"notification": "service-anniversary", "audience": "volunteer", "on": "2026-12-04"}]})
    await publish(producer, MILESTONE_UPCOMING, {
        "volunteer_id": henk, "milestone": "shifts-50", "measure": "shifts", "threshold": 50, "value": 49,
        "sends": [{"notification": "milestone-card", "audience": "volunteer"}]})

    async def announced():
        async with console_service.sessions() as session:
            rows = (await session.execute(select(upcoming.c.measure, upcoming.c.milestone).where(
                upcoming.c.volunteer_id == henk))).all()
        return dict(rows)

    assert await eventually(lambda: _when(announced(), lambda rows: len(rows) == 2)) == {
        "years": "years-5", "shifts": "shifts-50"}
    ria = await signed_in_client(console_service, "ria@example.org")
    async with contextlib.aclosing(ria):
        today = _words((await ria.get("/", params={"mine": "true"})).text)
        assert "Henk Verweij · 5 jaar vrijwilliger op 4 december 2026 · nu 4 van 5" in today
        assert "Jubileumkaart aan de vrijwilliger op 4 december 2026" in today
        assert "Herinnering aan de coördinator op 27 november 2026" in today
        assert "Henk Verweij · 50 diensten · nu 49 van 50" in today
        assert today.index("5 jaar vrijwilliger") < today.index("50 diensten")  # dated first

        await publish(producer, MILESTONE_REACHED, {"volunteer_id": henk, "milestone": "shifts-50",
                                                    "reached_on": "2026-12-01", "celebrated": True})
        assert await eventually(lambda: _when(announced(), lambda rows: len(rows) == 1)) == {"years": "years-5"}
        assert "50 diensten" not in _words((await ria.get("/")).text)
        page = await ria.get(f"/volunteers/{henk}")
        assert "5 jaar vrijwilliger op 4 december 2026" in _words(page.text)
        refused = await ria.post(f"/volunteers/{henk}/export", data={"csrf": csrf_of(page.text)})
        assert refused.status_code == 403  # coordinators do not export

    admin = await signed_in_client(console_service, "admin@example.org", role="admin")
    async with contextlib.aclosing(admin):
        page = await admin.get(f"/volunteers/{henk}")
        download = await admin.post(f"/volunteers/{henk}/export", data={"csrf": csrf_of(page.text)})
    assert download.status_code == 200
    assert download.headers["content-disposition"] == f'attachment; filename="dankjewel-{henk}.json"'
    document = download.json()
    tables = document["services"]["console"]
    assert tables["console_volunteers"][0]["name"] == "Henk Verweij"
    assert [row["milestone"] for row in tables["console_upcoming"]] == ["years-5"]
    assert [row["detail"].get("milestone") for row in tables["console_timeline"]
            if row["kind"] == "milestone"] == ["shifts-50"]
    assert f"dankjewel export {henk}" in document["note"]  # says what it left out, and where it is
    assert any(f"volunteer {henk} exported by account u-" in r.getMessage() for r in caplog.records)


async def _when(awaitable, check):
    value = await awaitable
    return value if check(value) else None


def _words(page: str) -> str:
    """A page as a reader sees it: its text without markup, one space between words."""
    return " ".join(re.sub(r"<[^>]+>", " ", page).split())
