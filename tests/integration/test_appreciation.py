"""The appreciation service end to end: events through the real broker, state in
PostgreSQL, mail through a real SMTP server. Asserts exactly which mails arrive,
to whom, in which language and with which X-Dankjewel-Notification."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timedelta, timezone

import httpx
from sqlalchemy import select

from services.appreciation import store
from services.appreciation.service import definition as appreciation
from services.appreciation.tables import ledger, mails
from shared.contracts import (FOLLOWUP_OVERDUE, SHIFT_COMPLETED, VOLUNTEER_REGISTERED)
from tests.integration.conftest import api_client, eventually, read_topic, structured

COORDINATOR = "coordinator@example.org"


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def publish(producer, event_type, data: dict, *, event_id: str | None = None) -> None:
    topic = {t.type: t.topic for t in (VOLUNTEER_REGISTERED, SHIFT_COMPLETED, FOLLOWUP_OVERDUE)}.get(event_type) \
        or "shifts.missed"
    value, headers = structured(event_type, data, event_id=event_id)
    await producer.send_and_wait(topic, value=value, key=data["volunteer_id"].encode(), headers=headers)


def registration(volunteer_id: str, name: str, email: str, language: str = "nl", **extra) -> dict:
    return {"volunteer_id": volunteer_id, "name": name, "email": email, "language": language,
            "registered_at": "2026-11-01T10:00:00+01:00", "coordinator_email": COORDINATOR} | extra


def recent_shift(volunteer_id: str, shift_id: str | None = None, hours_ago: int = 2) -> dict:
    end = datetime.now(timezone.utc) - timedelta(hours=hours_ago)
    return {"shift_id": shift_id or uid("shift"), "volunteer_id": volunteer_id,
            "started_at": (end - timedelta(hours=3)).isoformat(), "ended_at": end.isoformat(), "task": "rijden"}


def kinds(messages) -> list[tuple[str, str, str]]:
    return sorted((m["To"], m["X-Dankjewel-Notification"], m["Content-Language"]) for m in messages)


async def mail_rows(runtime, volunteer_id):
    async with runtime.sessions() as session:
        return (await session.execute(select(mails).where(mails.c.volunteer_id == volunteer_id))).all()


async def all_settled(runtime, volunteer_id) -> bool:
    rows = await mail_rows(runtime, volunteer_id)
    return bool(rows) and all(r.status != "pending" for r in rows)


async def test_first_shift_brings_one_thank_you_in_the_volunteers_language_even_when_sent_three_times(
        start_service, producer, mail_settings, smtp_server, infra):
    runtime = await start_service(appreciation, settings=mail_settings)
    anna, email = uid("anna"), f"anna.{uuid.uuid4().hex[:6]}@example.org"
    await publish(producer, VOLUNTEER_REGISTERED.type, registration(anna, "Anna", email, "en"))
    shift = recent_shift(anna)
    event_id = str(uuid.uuid4())
    for _ in range(3):  # the same event, redelivered
        await publish(producer, SHIFT_COMPLETED.type, shift, event_id=event_id)
    shift_again = recent_shift(anna, shift_id=shift["shift_id"])
    await publish(producer, SHIFT_COMPLETED.type, shift_again)  # same shift, reported by a second system

    await eventually(lambda: smtp_server.to(email))
    await asyncio.sleep(2)  # would a second mail come?
    assert kinds(smtp_server.to(email)) == [(email, "first-shift-thanks", "en")]
    mail = smtp_server.to(email)[0]
    assert mail["Subject"] == "Thank you for your first shift, Anna!"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    sent = await read_topic(infra.kafka_bootstrap, "appreciations.sent", anna.encode())
    assert len(sent) == 1
    record = json.loads(sent[0].value)  # v2: the audience, never the address
    assert record["type"] == "dankjewel.appreciation.sent.v2"
    assert record["data"]["audience"] == "volunteer" and "recipient" not in record["data"]


async def test_five_years_of_henk_reminder_lunch_and_card_each_once(
        start_service, producer, mail_settings, smtp_server, infra):
    runtime = await start_service(appreciation, settings=mail_settings)
    henk, email = uid("henk"), f"henk.{uuid.uuid4().hex[:6]}@example.org"
    await publish(producer, VOLUNTEER_REGISTERED.type,
                  registration(henk, "Henk", email, "nl", service_started_on="2021-12-04"))
    await eventually(lambda: _registered(runtime, henk))

    week_ahead = datetime.fromisoformat("2026-11-27T09:00:00+01:00")
    assert await runtime.sweep(week_ahead) >= 2
    assert await runtime.sweep(week_ahead) == 0  # the same sweep twice raises nothing twice
    await eventually(lambda: all_settled(runtime, henk))
    assert kinds(smtp_server.messages[-2:]) == sorted([(COORDINATOR, "coordinator-reminder", "nl"),
                                                       (email, "lunch-invitation", "nl")])
    reminder = smtp_server.to(COORDINATOR)[-1]
    assert reminder["Subject"] == "Henk is op 4 december 2026 5 jaar vrijwilliger"
    assert "heeft de lunch" not in reminder.get_body(("plain",)).get_content()
    assert "Henk is uitgenodigd voor de lunch op 11 december 2026" in reminder.get_body(("plain",)).get_content()

    on_the_day = datetime.fromisoformat("2026-12-04T09:00:00+01:00")
    await runtime.sweep(on_the_day)
    await runtime.sweep(on_the_day)
    await eventually(lambda: len(smtp_server.to(email)) == 2 or None)
    assert kinds(smtp_server.to(email)) == [(email, "lunch-invitation", "nl"), (email, "service-anniversary", "nl")]
    async with runtime.sessions() as session:
        ledger_rows = {r.milestone: r.celebrated for r in await session.execute(
            select(ledger).where(ledger.c.volunteer_id == henk))}
    # years-1 (2022) was found long after it happened: recorded, not mailed
    assert ledger_rows == {"years-1": False, "years-5": True}
    # with years-5 behind him, the next anniversary is announced (for the console), with what it brings
    upcoming = await read_topic(infra.kafka_bootstrap, "milestones.upcoming", henk.encode())
    last = json.loads(upcoming[-1].value)["data"]
    assert (last["milestone"], last["expected_on"], last["value"]) == ("years-10", "2031-12-04", 5)
    assert [(s["notification"], s["audience"], s["on"]) for s in last["sends"]] == [
        ("coordinator-reminder", "coordinator", "2031-11-27"), ("service-anniversary", "volunteer", "2031-12-04"),
        ("lunch-invitation", "volunteer", "2031-11-27")]


async def test_nobody_followed_up_on_an_offer_alerts_the_coordinator_then_escalates_to_the_lead(
        start_service, producer, mail_settings, smtp_server, infra):
    runtime = await start_service(appreciation, settings=mail_settings.model_copy(
        update={"org_lead_email": "lead@example.org"}))
    gerard, email = uid("gerard"), f"gerard.{uuid.uuid4().hex[:6]}@example.org"
    await publish(producer, VOLUNTEER_REGISTERED.type, registration(gerard, "Gerard", email))
    overdue = {"volunteer_id": gerard, "kind": "intake", "due_since": "2026-11-08T10:00:00+01:00",
               "coordinator_email": COORDINATOR, "detail": "No intake conversation yet (an English sentence)",
               "started_at": "2026-11-01T10:00:00+01:00", "started_by": "offer-of-help",
               "opportunity_title": "Technisch tekenen"}
    for _ in range(2):
        await publish(producer, FOLLOWUP_OVERDUE.type, overdue | {"rung": "reminder"})
    await publish(producer, FOLLOWUP_OVERDUE.type, overdue | {"rung": "escalation", "escalate_to": "lead@example.org"})

    await eventually(lambda: smtp_server.to("lead@example.org"))
    await eventually(lambda: all_settled(runtime, gerard))
    assert kinds(m for m in smtp_server.messages if "Gerard" in m["Subject"]) == [
        (COORDINATOR, "coordinator-alert", "nl"), ("lead@example.org", "coordinator-escalation", "nl")]
    assert smtp_server.to(email) == []  # alerts go to coordinators only
    alert = next(m for m in smtp_server.to(COORDINATOR) if "Gerard" in m["Subject"])
    text = alert.get_body(("plain",)).get_content()
    # worded in the coordinator's language from the event's fields, not from its English `detail`
    assert "(na het hulpaanbod voor ‘Technisch tekenen’ op 1 november 2026)" in text and "Bel Gerard deze week" in text
    assert "English" not in text
    raised = await read_topic(infra.kafka_bootstrap, "alerts.raised", gerard.encode(), expect=2)
    assert sorted(r.headers[0][1] and __import__("json").loads(r.value)["data"]["coordinator_email"]
                  for r in raised) == [COORDINATOR, "lead@example.org"]


async def test_coordinator_addresses_outside_the_organisation_get_the_default_coordinator(
        start_service, producer, mail_settings, smtp_server, infra):
    runtime = await start_service(appreciation, settings=mail_settings.model_copy(
        update={"coordinator_email_domains": ("example.org",), "org_lead_email": "lead@example.org"}))
    outside = "contact@partner.example.com"
    piet, email = uid("piet"), f"piet.{uuid.uuid4().hex[:6]}@example.org"
    await publish(producer, VOLUNTEER_REGISTERED.type, registration(piet, "Piet", email, coordinator_email=outside))
    overdue = {"volunteer_id": piet, "kind": "intake", "due_since": "2026-11-08T10:00:00+01:00"}
    # the reminder goes to the registration's coordinator, the escalation to the event's escalate_to
    await publish(producer, FOLLOWUP_OVERDUE.type, overdue | {"rung": "reminder"})
    await publish(producer, FOLLOWUP_OVERDUE.type, overdue | {"rung": "escalation", "escalate_to": outside})

    async def both_settled() -> bool:
        rows = await mail_rows(runtime, piet)
        return len(rows) == 2 and all(r.status != "pending" for r in rows)

    await eventually(both_settled)
    assert kinds(m for m in smtp_server.messages if "Piet" in m["Subject"]) == [
        (COORDINATOR, "coordinator-alert", "nl"), (COORDINATOR, "coordinator-escalation", "nl")]
    assert smtp_server.to(outside) == []
    raised = await read_topic(infra.kafka_bootstrap, "alerts.raised", piet.encode(), expect=2)
    assert [json.loads(r.value)["data"]["coordinator_email"] for r in raised] == [COORDINATOR, COORDINATOR]


async def test_a_shift_before_its_registration_waits_and_is_thanked_with_the_name(
        start_service, producer, mail_settings, smtp_server):
    runtime = await start_service(appreciation, settings=mail_settings)
    samira, email = uid("samira"), f"samira.{uuid.uuid4().hex[:6]}@example.org"
    await publish(producer, SHIFT_COMPLETED.type, recent_shift(samira))
    await eventually(lambda: mail_rows(runtime, samira))
    await asyncio.sleep(1.5)
    assert smtp_server.to(email) == []
    await publish(producer, VOLUNTEER_REGISTERED.type, registration(samira, "Samira", email, "nl"))
    await eventually(lambda: smtp_server.to(email))
    assert smtp_server.to(email)[0]["Subject"] == "Dank je wel voor je eerste dienst, Samira!"


async def test_smtp_down_then_answering_4xx_then_back_delivers_every_mail_once(
        start_service, producer, mail_settings, smtp_server):
    runtime = await start_service(appreciation, settings=mail_settings)
    people = [(uid("vol"), f"v{i}.{uuid.uuid4().hex[:6]}@example.org") for i in range(5)]
    smtp_server.stop()  # refuses connections
    for volunteer, email in people:
        await publish(producer, VOLUNTEER_REGISTERED.type, registration(volunteer, "Vrijwilliger", email))
        await publish(producer, SHIFT_COMPLETED.type, recent_shift(volunteer))
    await eventually(lambda: runtime.metrics.mail_count("retried") >= 5 or None)
    smtp_server.start()
    smtp_server.temporary_failure = True  # answers 451 for a while
    await eventually(lambda: runtime.metrics.mail_count("retried") >= 10 or None)
    assert smtp_server.messages == []
    smtp_server.temporary_failure = False
    for volunteer, email in people:
        await eventually(lambda volunteer=volunteer: all_settled(runtime, volunteer))
    await asyncio.sleep(2)
    for volunteer, email in people:
        assert kinds(smtp_server.to(email)) == [(email, "first-shift-thanks", "nl")]
    metrics = runtime.metrics  # sessions are reused across mails
    assert metrics.smtp_sessions() < metrics.mail_count("sent") + metrics.mail_count("retried")


async def test_a_mail_whose_record_the_database_refused_is_recorded_later_not_sent_again(
        start_service, producer, mail_settings, smtp_server, infra, monkeypatch):
    runtime = await start_service(appreciation, settings=mail_settings)
    real_record_sent, refused = store.record_sent, []

    async def record_sent(connection, sent, events, now):  # noqa: ANN001 - the first commits of sent records fail
        if len(refused) < 2:
            refused.append(sent)
            raise ConnectionRefusedError("database away (test)")
        await real_record_sent(connection, sent, events, now)

    monkeypatch.setattr(store, "record_sent", record_sent)
    volunteer, email = uid("vol"), f"v.{uuid.uuid4().hex[:6]}@example.org"
    await publish(producer, VOLUNTEER_REGISTERED.type, registration(volunteer, "Vrijwilliger", email))
    await publish(producer, SHIFT_COMPLETED.type, recent_shift(volunteer))
    await eventually(lambda: all_settled(runtime, volunteer))
    await asyncio.sleep(2)
    assert len(refused) >= 1  # the server had accepted the mail when its record failed
    assert [(r.status, r.attempts) for r in await mail_rows(runtime, volunteer)] == [("sent", 1)]
    assert kinds(smtp_server.to(email)) == [(email, "first-shift-thanks", "nl")]
    assert len(await read_topic(infra.kafka_bootstrap, "appreciations.sent", volunteer.encode())) == 1


async def test_a_permanent_refusal_is_marked_failed_and_the_coordinator_is_told(
        start_service, producer, mail_settings, smtp_server, infra):
    runtime = await start_service(appreciation, settings=mail_settings)
    kees, email = uid("kees"), f"kees.{uuid.uuid4().hex[:6]}@example.org"
    smtp_server.rejected_recipients.add(email)
    await publish(producer, VOLUNTEER_REGISTERED.type, registration(kees, "Kees", email, "nl"))
    await publish(producer, SHIFT_COMPLETED.type, recent_shift(kees))
    await eventually(lambda: all_settled(runtime, kees))
    await eventually(lambda: len(smtp_server.to(COORDINATOR)) and all_settled(runtime, kees))
    rows = {(r.notification, r.status, r.last_error) for r in await mail_rows(runtime, kees)}
    assert rows == {("first-shift-thanks", "failed", "SMTP 550"), ("delivery-failed", "sent", None)}
    told = [m for m in smtp_server.to(COORDINATOR) if m["X-Dankjewel-Notification"] == "delivery-failed"]
    assert [m["Subject"] for m in told] == ["Bericht aan Kees kon niet worden bezorgd"]
    async with api_client(runtime) as http:
        failed = (await http.get("/mails", params={"status_filter": "failed"})).json()
    assert [(m["volunteer_id"], m["notification"]) for m in failed] == [(kees, "first-shift-thanks")]
    raised = await read_topic(infra.kafka_bootstrap, "alerts.raised", kees.encode())  # shown in the console too
    assert [json.loads(r.value)["data"]["reason"] for r in raised] == ["delivery-failed"]


async def test_one_click_unsubscribe_stops_appreciation_mail_but_not_coordinator_mail(
        start_service, producer, mail_settings, smtp_server):
    runtime = await start_service(appreciation, settings=mail_settings)
    bea, email = uid("bea"), f"bea.{uuid.uuid4().hex[:6]}@example.org"
    await publish(producer, VOLUNTEER_REGISTERED.type, registration(bea, "Bea", email, "nl"))
    await publish(producer, SHIFT_COMPLETED.type, recent_shift(bea))
    await eventually(lambda: smtp_server.to(email))
    link = smtp_server.to(email)[0]["List-Unsubscribe"].strip("<>")
    path = link.split("/appreciation", 1)[1]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=runtime.http_app()),
                                 base_url="http://127.0.0.1") as http:  # no token: the link is the proof
        forged = await http.post(path[:-3] + "abc", data={"List-Unsubscribe": "One-Click"})
        assert forged.status_code == 400
        response = await http.post(path, data={"List-Unsubscribe": "One-Click"})
        assert response.status_code == 200
    for n in range(9):  # nine more shifts reach shifts-10
        await publish(producer, SHIFT_COMPLETED.type, recent_shift(bea, hours_ago=3 + n))
    await publish(producer, FOLLOWUP_OVERDUE.type, {"volunteer_id": bea, "kind": "quiet", "rung": "reminder",
                                                     "due_since": "2026-11-20T10:00:00+01:00"})
    await eventually(lambda: _has(runtime, bea, "shifts-10"))
    await eventually(lambda: all_settled(runtime, bea))
    rows = {(r.notification, r.status, r.last_error) for r in await mail_rows(runtime, bea)}
    assert ("milestone-card", "skipped", "unsubscribed") in rows
    assert ("coordinator-alert", "sent", None) in rows
    assert len(smtp_server.to(email)) == 1


async def _registered(runtime, volunteer_id):
    from services.appreciation.tables import volunteers
    async with runtime.sessions() as session:
        return await session.scalar(select(volunteers.c.registered_at).where(volunteers.c.volunteer_id == volunteer_id))


async def _has(runtime, volunteer_id, milestone):
    async with runtime.sessions() as session:
        return await session.scalar(select(ledger.c.milestone).where(
            ledger.c.volunteer_id == volunteer_id, ledger.c.milestone == milestone))


async def test_the_mail_sender_can_run_apart_from_the_consumer(start_service, producer, mail_settings, smtp_server):
    """`dankjewel run appreciation --no-background` beside `dankjewel background appreciation`."""
    polling = mail_settings.model_copy(update={"mail_poll_seconds": 0.1})
    consumer = await start_service(appreciation, settings=polling, parts={"background": False})
    sender = await start_service(appreciation, settings=polling,
                                 parts={"consume": False, "background": True, "scheduled_sweeps": False})
    assert sender.consumer is None
    noor, email = uid("noor"), f"noor.{uuid.uuid4().hex[:6]}@example.org"
    await publish(producer, VOLUNTEER_REGISTERED.type, registration(noor, "Noor", email))
    await publish(producer, SHIFT_COMPLETED.type, recent_shift(noor))
    await eventually(lambda: smtp_server.to(email))
    await asyncio.sleep(1)
    assert kinds(smtp_server.to(email)) == [(email, "first-shift-thanks", "nl")]
    assert (sender.metrics.mail_count("sent"), consumer.metrics.mail_count("sent")) == (1, 0)


async def test_a_shift_bringing_a_volunteer_to_9_of_10_announces_the_milestone_coming_up(
        start_service, producer, mail_settings, smtp_server, infra):
    runtime = await start_service(appreciation, settings=mail_settings)
    ria, email = uid("ria"), f"ria.{uuid.uuid4().hex[:6]}@example.org"
    piet = uid("piet")  # no appreciation mail: announced all the same, with nothing to send
    await publish(producer, VOLUNTEER_REGISTERED.type, registration(ria, "Ria", email, "en"))
    await publish(producer, VOLUNTEER_REGISTERED.type, registration(piet, "Piet", f"{piet}@example.org",
                                                                    appreciation_mail_consent=False))
    # Registrations and shifts are different topics, consumed in no fixed order between
    # them: the registrations first, as the announcements' order below assumes.
    for volunteer in (ria, piet):
        await eventually(lambda: _registered(runtime, volunteer))
    for n in range(9):
        await publish(producer, SHIFT_COMPLETED.type, recent_shift(ria, hours_ago=3 + n))
        await publish(producer, SHIFT_COMPLETED.type, recent_shift(piet, hours_ago=3 + n))

    for volunteer, sends in ((ria, [{"notification": "milestone-card", "audience": "volunteer", "on": None}]),
                             (piet, [])):
        records = await read_topic(infra.kafka_bootstrap, "milestones.upcoming", volunteer.encode(), expect=2)
        upcoming = [json.loads(r.value)["data"] for r in records]
        # years-1 when the registration came; shifts-10 with the ninth shift, not before
        assert [(u["milestone"], u["measure"], u["threshold"], u["value"], u["expected_on"]) for u in upcoming] == [
            ("years-1", "years", 1, 0, "2027-11-01"), ("shifts-10", "shifts", 10, 9, None)]
        assert upcoming[1]["sends"] == sends
        assert upcoming[0]["sends"] == ([{"notification": "service-anniversary", "audience": "volunteer",
                                          "on": "2027-11-01"}] if sends else [])
        assert "name" not in upcoming[1] and "email" not in upcoming[1]
