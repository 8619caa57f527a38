"""Shift reminders end to end, on the real broker, PostgreSQL and SMTP server: tasks
publishes who is on which shift, appreciation reminds them once (with a calendar
item), and "I cannot come" goes back to tasks and to the coordinator."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from datetime import datetime, timedelta, timezone

import httpx
from sqlalchemy import select

from services.appreciation import messages
from services.appreciation.service import definition as appreciation
from services.appreciation.tables import mails
from services.tasks.service import definition as tasks
from services.tasks.tables import shifts
from shared.contracts import SHIFT_ASSIGNED, SHIFT_RELEASED, VOLUNTEER_REGISTERED
from tests.integration.conftest import api_client, eventually, read_topic, structured

COORDINATOR = "coordinator@example.org"


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def register(producer, volunteer_id: str, name: str, email: str, language: str, **extra) -> None:
    value, headers = structured(VOLUNTEER_REGISTERED.type, {
        "volunteer_id": volunteer_id, "name": name, "email": email, "language": language,
        "registered_at": "2026-11-01T10:00:00+01:00", "coordinator_email": COORDINATOR} | extra)
    await producer.send_and_wait("volunteers.registered", value=value, key=volunteer_id.encode(), headers=headers)


def a_shift(volunteer_id: str, starts_in: timedelta, **fields) -> dict:
    start = (datetime.now(timezone.utc) + starts_in).replace(second=0, microsecond=0)
    return {"shift_id": uid("shift"), "volunteer_id": volunteer_id, "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=3)).isoformat(), "task": "Voedselbank"} | fields


async def reminder_row(runtime, volunteer_id: str):
    async with runtime.sessions() as session:
        return (await session.execute(select(mails).where(
            mails.c.volunteer_id == volunteer_id, mails.c.notification == "shift-reminder"))).first()


async def settled_as(runtime, volunteer_id: str, status: str):
    row = await reminder_row(runtime, volunteer_id)
    return row if row is not None and row.status == status else None


async def shift_row(runtime, shift_id: str):
    async with runtime.sessions() as session:
        return (await session.execute(select(shifts).where(shifts.c.shift_id == shift_id))).first()


async def test_one_reminder_per_shift_none_when_cancelled_or_without_consent_and_i_cannot_come(
        start_service, producer, mail_settings, smtp_server, infra):
    reminders = await start_service(appreciation, settings=mail_settings)
    roster = await start_service(tasks, settings=mail_settings)
    ans, bob, cas = uid("ans"), uid("bob"), uid("cas")
    emails = {v: f"{v}@example.org" for v in (ans, bob, cas)}
    await register(producer, ans, "Ans", emails[ans], "en")
    await register(producer, bob, "Bob", emails[bob], "nl", shift_reminder_consent=False)
    await register(producer, cas, "Cas", emails[cas], "nl")

    soon = a_shift(ans, timedelta(hours=24), place="Kerkstraat 12, Utrecht", contact="Ingrid, 06-12345678",
                   bring="Sturdy shoes; coffee at 8:45.")  # inside the 48 hours: reminded at once
    bobs = a_shift(bob, timedelta(hours=24))
    later = a_shift(cas, timedelta(hours=72))  # reminded in a day's time, but cancelled before
    async with api_client(roster) as http:
        for shift in (soon, bobs, later):
            assert (await http.post("/shifts", json=shift)).status_code == 201
        assert (await http.post(f"/shifts/{later['shift_id']}/cancel")).status_code == 200

    await eventually(lambda: smtp_server.to(emails[ans]))
    [mail] = smtp_server.to(emails[ans])
    assert mail["X-Dankjewel-Notification"] == "shift-reminder" and mail["Content-Language"] == "en"
    assert mail["Subject"].startswith("Reminder: Voedselbank on ")
    text = mail.get_body(("plain",)).get_content()
    assert "Where: Kerkstraat 12, Utrecht" in text and "Ask for: Ingrid, 06-12345678" in text
    assert "Sturdy shoes; coffee at 8:45." in text
    [calendar] = [part for part in mail.iter_attachments() if part.get_content_type() == "text/calendar"]
    ics = calendar.get_payload(decode=True)
    start = datetime.fromisoformat(soon["starts_at"]).astimezone(timezone.utc)
    assert f"UID:shift-{soon['shift_id']}@dankjewel\r\n".encode() in ics
    assert f"DTSTART:{start:%Y%m%dT%H%M%SZ}\r\n".encode() in ics

    # Redelivery (the same record again) and a second report of the assignment (a new
    # event, e.g. from a rostering system) bring no second reminder.
    [assigned] = await read_topic(infra.kafka_bootstrap, "shifts.assigned", ans.encode())
    await producer.send_and_wait("shifts.assigned", value=assigned.value, key=assigned.key,
                                 headers=list(assigned.headers))
    value, headers = structured(SHIFT_ASSIGNED.type, json.loads(assigned.value)["data"])
    await producer.send_and_wait("shifts.assigned", value=value, key=ans.encode(), headers=headers)

    # Bob turned reminders off at registration; Cas's shift was cancelled.
    bob_row = await eventually(lambda: settled_as(reminders, bob, "skipped"))
    assert bob_row.last_error == "no consent for shift reminders"
    cas_row = await eventually(lambda: settled_as(reminders, cas, "skipped"))
    assert cas_row.last_error == "shift cancelled"

    # I cannot come: the link in the mail shows a page, and its button publishes shifts.declined.
    link = re.search(r"(http\S+/shifts/decline/\S+)", text)[1]
    path = link.split("/appreciation", 1)[1]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=reminders.http_app()),
                                 base_url="http://127.0.0.1") as http:  # no token: the link is the proof
        page = await http.get(path)
        assert page.status_code == 200 and "<form method=\"post\"" in page.text
        assert (await http.post(path[:-3] + "abc")).status_code == 400  # forged
        assert (await http.post(path)).status_code == 200

    [declined] = await read_topic(infra.kafka_bootstrap, "shifts.declined", ans.encode())
    assert json.loads(declined.value)["data"]["shift_id"] == soon["shift_id"]
    # tasks takes Ans off the shift (open again) and says so; the coordinator is alerted once
    await eventually(lambda: _open_again(roster, soon["shift_id"]))
    [released] = await read_topic(infra.kafka_bootstrap, "shifts.released", ans.encode())
    assert json.loads(released.value)["data"]["reason"] == "declined"
    await eventually(lambda: [m for m in smtp_server.to(COORDINATOR) if "Ans" in m["Subject"]])
    [alert] = await read_topic(infra.kafka_bootstrap, "alerts.raised", ans.encode())
    assert json.loads(alert.value)["data"]["reason"] == "shift-declined"

    # The coordinator's alert says which shift: its task, day and id.
    [alerted] = [m for m in smtp_server.to(COORDINATOR) if "Ans" in m["Subject"]]
    alert_text = alerted.get_body(("plain",)).get_content()
    assert "Voedselbank" in alert_text and soon["shift_id"] in alert_text

    # A second click: Ans is off the shift now, so the link no longer applies and
    # publishes nothing (no second shifts.declined).
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=reminders.http_app()),
                                 base_url="http://127.0.0.1") as http:
        again = await http.post(path)
    assert again.status_code == 200 and "no longer applies" in again.text

    await asyncio.sleep(2)  # would a second reminder or alert come?
    assert len(smtp_server.to(emails[ans])) == 1
    assert len([m for m in smtp_server.to(COORDINATOR) if "Ans" in m["Subject"]]) == 1
    assert len(await read_topic(infra.kafka_bootstrap, "shifts.declined", ans.encode(), settle=1)) == 1
    assert smtp_server.to(emails[bob]) == [] and smtp_server.to(emails[cas]) == []


async def _open_again(runtime, shift_id: str):
    row = await shift_row(runtime, shift_id)
    return row if row.volunteer_id is None and row.status == "scheduled" else None


async def test_a_release_consumed_before_its_assignment_sends_no_reminder(
        start_service, producer, mail_settings, smtp_server, infra):
    """`shifts.assigned` and `shifts.released` are on different topics, in no order: a
    release read first is remembered, and the older assignment queues nothing; its
    "I cannot come" link no longer applies."""
    reminders = await start_service(appreciation, settings=mail_settings)
    dan = uid("dan")
    email = f"{dan}@example.org"
    await register(producer, dan, "Dan", email, "en")
    now = datetime.now(timezone.utc)
    start = (now + timedelta(hours=24)).replace(second=0, microsecond=0)
    cancelled, kept = uid("shift"), uid("shift")

    def assignment(shift_id: str) -> dict:
        return {"volunteer_id": dan, "shift_id": shift_id, "started_at": start.isoformat(),
                "ended_at": (start + timedelta(hours=3)).isoformat(), "task": "Voedselbank",
                "assigned_at": (now - timedelta(minutes=5)).isoformat()}

    value, headers = structured(SHIFT_RELEASED.type, {"volunteer_id": dan, "shift_id": cancelled,
                                                      "reason": "cancelled", "released_at": now.isoformat()})
    await producer.send_and_wait("shifts.released", value=value, key=dan.encode(), headers=headers)
    row = await eventually(lambda: settled_as(reminders, dan, "skipped"))
    assert row.last_error == "shift cancelled"
    # Then the (older) assignment, and after it on the same partition one for another shift.
    for shift_id in (cancelled, kept):
        value, headers = structured(SHIFT_ASSIGNED.type, assignment(shift_id))
        await producer.send_and_wait("shifts.assigned", value=value, key=dan.encode(), headers=headers)

    await eventually(lambda: smtp_server.to(email))
    await asyncio.sleep(2)  # would a reminder for the cancelled shift come?
    [mail] = smtp_server.to(email)
    assert f"UID:shift-{kept}@dankjewel".encode() in [
        part for part in mail.iter_attachments() if part.get_content_type() == "text/calendar"][0].get_payload(
        decode=True)
    async with reminders.sessions() as session:
        statuses = dict((await session.execute(select(mails.c.occasion, mails.c.status).where(
            mails.c.volunteer_id == dan, mails.c.notification == "shift-reminder"))).all())
    assert sorted(statuses.values()) == ["sent", "skipped"]

    # "I cannot come" for the cancelled shift: no longer applies, nothing published.
    token = messages.decline_token(mail_settings, dan, cancelled)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=reminders.http_app()),
                                 base_url="http://127.0.0.1") as http:
        page = await http.post(f"/shifts/decline/{token}")
    assert page.status_code == 200 and "no longer applies" in page.text
    assert dan not in page.text and cancelled not in page.text
    assert await read_topic(infra.kafka_bootstrap, "shifts.declined", dan.encode(), expect=1, settle=0,
                            timeout=3) == []
