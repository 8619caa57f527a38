"""Shift reminders: whether and when one goes out, what it says, its calendar item and its links."""

import secrets
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from services.appreciation import domain, messages
from shared.contracts import ShiftAssigned
from services.settings import load_settings

SETTINGS = load_settings(unsubscribe_secret=secrets.token_urlsafe(32))
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)
START = datetime(2026, 12, 5, 8, 0, tzinfo=timezone.utc)  # 09:00 in Amsterdam


# -- whether and when: at assignment ------------------------------------------------------

@pytest.mark.parametrize(("started_at", "queued", "expected"), [
    # assigned well ahead: due SHIFT_REMINDER_HOURS before the start
    (START, None, domain.ReminderPlan(True, START - 48 * HOUR)),
    # assigned inside the window: at once (the later the assignment, the more it helps)
    (NOW + 5 * HOUR, None, domain.ReminderPlan(True, NOW)),
    (NOW + 48 * HOUR, None, domain.ReminderPlan(True, NOW)),
    # too late: the shift has started (or is over)
    (NOW, None, domain.ReminderPlan(False, reason="the shift has started")),
    (NOW - HOUR, None, domain.ReminderPlan(False, reason="the shift has started")),
    # never twice
    (START, "sent", domain.ReminderPlan(False, reason="already sent")),
    (NOW + HOUR, "sent", domain.ReminderPlan(False, reason="already sent")),
    (START, "failed", domain.ReminderPlan(False, reason="refused for good by the mail server")),
    # released (cancelled, reassigned, declined) and then assigned back: queued again
    (START, "skipped", domain.ReminderPlan(True, START - 48 * HOUR)),
    # assigned again while pending (e.g. new times from a rostering system): the newest details
    (START + 24 * HOUR, "pending", domain.ReminderPlan(True, START - 24 * HOUR)),
])
def test_when_an_assignment_brings_a_reminder(started_at, queued, expected):
    assert domain.shift_reminder_plan(started_at, NOW, 48, queued) == expected


def test_the_reminder_hours_are_a_setting():
    assert domain.shift_reminder_plan(START, NOW, 24, None).due == START - 24 * HOUR


# -- whether: when it is due (consent and unsubscribe at that moment count) ----------------

CONTEXT = {"shift_id": "s-1", "started_at": START.isoformat(), "ended_at": (START + 3 * HOUR).isoformat(),
           "remind_at": (START - 48 * HOUR).isoformat()}


def reminder(**values):
    row = dict(volunteer_id="v-7", audience="volunteer", notification=domain.SHIFT_REMINDER, context=CONTEXT,
               created_at=NOW - 2 * HOUR, name="Ans", email="ans@example.net", language="en",
               coordinator_email=None, consent=True, shift_reminder_consent=True, unsubscribed_at=None,
               erased_at=None, registered_at=NOW - timedelta(days=30)) | values
    return SimpleNamespace(**row)


@pytest.mark.parametrize(("mail", "now", "expected"), [
    (reminder(), START - 48 * HOUR, domain.Send("ans@example.net", "en")),
    (reminder(), START - 47 * HOUR, domain.Send("ans@example.net", "en")),
    # woken early (a registration releases waiting mail): waits for its time
    (reminder(), START - 50 * HOUR, domain.Wait(START - 48 * HOUR)),
    (reminder(shift_reminder_consent=False), START - 48 * HOUR, domain.Skip("no consent for shift reminders")),
    # a consent of its own: no thank-you mail, still reminded; and the other way round
    (reminder(consent=False, unsubscribed_at=NOW - HOUR), START - 48 * HOUR, domain.Send("ans@example.net", "en")),
    (reminder(), START, domain.Skip("the shift has started")),  # held up (SMTP down) until too late
    (reminder(erased_at=NOW - HOUR), START - 48 * HOUR, domain.Skip("volunteer erased")),
    (reminder(registered_at=None), START - 48 * HOUR, domain.Wait(START - 47 * HOUR)),
    (reminder(email=None), START - 48 * HOUR, domain.Skip("no email address")),
])
def test_whether_a_due_reminder_goes_out(mail, now, expected):
    assert domain.mail_decision(mail, SETTINGS, now) == expected


# -- what it says ------------------------------------------------------------------------------

SHIFT = ShiftAssigned(volunteer_id="v-7", shift_id="s-1", started_at=START, ended_at=START + 3.5 * HOUR,
                      task="Voedselbank: sorteren", place="Kerkstraat 12, Utrecht <achterom>",
                      contact="Ingrid, 06-12345678", bring="Stevige schoenen.\nKoffie staat klaar om 8:45.",
                      assigned_at=NOW)


def test_the_context_holds_the_times_in_the_organisations_time_zone():
    context = domain.shift_reminder_context(SHIFT, START - 48 * HOUR, AMSTERDAM)
    assert (context["shift_on"], context["shift_from"], context["shift_until"]) == ("2026-12-05", "09:00", "12:30")
    assert datetime.fromisoformat(context["started_at"]) == START
    assert datetime.fromisoformat(context["remind_at"]) == START - 48 * HOUR


def build(language: str):
    context = domain.shift_reminder_context(SHIFT, START - 48 * HOUR, AMSTERDAM)
    values = domain.template_values(context, "Ans", "v-7", language) | {
        "unsubscribe_url": messages.unsubscribe_url(SETTINGS, "v-7"), "console_url": "-",
        "decline_url": messages.decline_url(SETTINGS, "v-7", "s-1"),
        "reminders_off_url": messages.shift_reminders_off_url(SETTINGS, "v-7")}
    return messages.build_message(settings=SETTINGS, volunteer_id="v-7", occasion=domain.shift_occasion("s-1"),
                                  notification=domain.SHIFT_REMINDER, audience="volunteer",
                                  recipient="ans@example.net", language=language, values=values)


@pytest.mark.parametrize(("language", "subject", "phrases"), [
    ("nl", "Herinnering: Voedselbank: sorteren op 5 december 2026 om 09:00 uur",
     ["5 december 2026, van 09:00 tot 12:30 uur", "Waar: Kerkstraat 12, Utrecht <achterom>",
      "Vraag naar: Ingrid, 06-12345678", "Stevige schoenen.\nKoffie staat klaar om 8:45.", "Kun je toch niet?"]),
    ("en", "Reminder: Voedselbank: sorteren on December 5, 2026 at 09:00",
     ["December 5, 2026, 09:00 to 12:30", "Where: Kerkstraat 12, Utrecht <achterom>",
      "Ask for: Ingrid, 06-12345678", "Stevige schoenen.\nKoffie staat klaar om 8:45.", "Can't make it"]),
])
def test_the_reminder_in_the_volunteers_language(language, subject, phrases):
    message = message_from_bytes(build(language).as_bytes(), policy=policy.default)
    assert message["Subject"] == subject
    assert message["Content-Language"] == language
    text = message.get_body(("plain",)).get_content()
    for phrase in phrases:
        assert phrase in text
    html = message.get_body(("html",)).get_content()
    assert "&lt;achterom&gt;" in html and "<achterom>" not in html  # autoescaped
    decline = messages.decline_url(SETTINGS, "v-7", "s-1").rsplit("/", 1)[0]
    assert f"{decline}/" in text and f'href="{decline}/' in html
    # one-click unsubscribe of a reminder turns off reminders only
    off = message["List-Unsubscribe"].strip("<>")
    assert off.startswith(f"{SETTINGS.public_base_url}/unsubscribe/") and off.endswith("/shift-reminders")
    assert messages.volunteer_of_token(SETTINGS, off.split("/")[-2]) == "v-7"
    assert off in text
    [calendar] = [part for part in message.iter_attachments() if part.get_content_type() == "text/calendar"]
    assert calendar.get_filename() == "shift.ics"
    assert calendar.get_param("method") == "PUBLISH"
    ics = calendar.get_payload(decode=True)
    assert b"UID:shift-s-1@dankjewel\r\n" in ics and b"DTSTART:20261205T080000Z\r\n" in ics
    assert b"LOCATION:Kerkstraat 12\\, Utrecht <achterom>\r\n" in ics


# -- the calendar item ---------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "escaped"), [
    ("plain", "plain"),
    ("a,b;c", "a\\,b\\;c"),
    ("back\\slash", "back\\\\slash"),
    ("two\nlines", "two\\nlines"),
    ("windows\r\nline", "windows\\nline"),
    ("tab\there\x07", "tabhere"),  # other control characters dropped
    ("café ☕", "café ☕"),
])
def test_ics_text_escaping(text, escaped):
    assert messages.ics_text(text) == escaped


def test_ics_lines_are_folded_at_75_octets_never_inside_a_character():
    line = "DESCRIPTION:" + "é" * 100
    folded = messages.ics_fold(line)
    parts = folded.split("\r\n")
    assert all(len(part.encode()) <= 75 for part in parts)
    assert all(part.startswith(" ") for part in parts[1:])
    assert "".join(part[1:] if i else part for i, part in enumerate(parts)) == line
    assert messages.ics_fold("SUMMARY:short") == "SUMMARY:short"


def test_the_calendar_item_of_a_shift():
    ics = messages.shift_calendar(shift_id="r-2291", started_at=datetime(2026, 12, 5, 9, tzinfo=AMSTERDAM),
                                  ended_at=datetime(2026, 12, 5, 12, 30, tzinfo=AMSTERDAM), summary="Rijden; boodschappen",
                                  location=None, description="Ingrid\nStevige schoenen", stamp=NOW)
    assert ics.endswith(b"\r\n") and b"\n" not in ics.replace(b"\r\n", b"")
    assert ics.decode().split("\r\n")[:-1] == [
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//dankjewel//shift reminder//EN", "METHOD:PUBLISH",
        "BEGIN:VEVENT", "UID:shift-r-2291@dankjewel", "DTSTAMP:20261201T090000Z", "DTSTART:20261205T080000Z",
        "DTEND:20261205T113000Z", "SUMMARY:Rijden\\; boodschappen", "DESCRIPTION:Ingrid\\nStevige schoenen",
        "END:VEVENT", "END:VCALENDAR"]


# -- the links -------------------------------------------------------------------------------------

def test_an_i_cannot_come_link_names_its_volunteer_and_shift_and_opens_nothing_else():
    token = messages.decline_token(SETTINGS, "v-7", "s-1")
    assert "v-7" not in token and "s-1" not in token  # encrypted
    assert messages.shift_of_decline_token(SETTINGS, token) == ("v-7", "s-1")
    assert messages.volunteer_of_token(SETTINGS, token) is None  # not an unsubscribe link
    unsubscribe = messages.unsubscribe_token(SETTINGS, "v-7")
    assert messages.shift_of_decline_token(SETTINGS, unsubscribe) is None
    assert messages.shift_of_decline_token(SETTINGS, token[:-4] + "AAAA") is None  # tampered
    other = load_settings(unsubscribe_secret=secrets.token_urlsafe(32))
    assert messages.shift_of_decline_token(other, token) is None


def test_a_declined_shift_alerts_the_coordinator_once_per_assignment_saying_which_shift():
    reminder = domain.shift_reminder_context(SHIFT, START - 48 * HOUR, AMSTERDAM)
    alert = domain.shift_declined_alert("s-1", NOW, reminder, AMSTERDAM)
    assert (alert.reason, alert.notification, alert.audience, alert.due_since) == (
        "shift-declined", "coordinator-alert", "coordinator", NOW)
    assert alert.occasion == "shift-declined:s-1:20261201T090000000000Z"  # the assignment's moment
    assert alert.context == {"shift_id": "s-1", "task": "Voedselbank: sorteren",
                             "started_at": "2026-12-05T09:00:00+01:00"}
    # put back on the same shift later: a new assignment, a new occasion, a new alert
    again = reminder | {"assigned_at": (NOW + 2 * HOUR).isoformat()}
    assert domain.shift_declined_alert("s-1", NOW + 3 * HOUR, again, AMSTERDAM).occasion != alert.occasion
    assert domain.shift_declined_alert("s-1", NOW, None, AMSTERDAM).context == {
        "shift_id": "s-1", "task": None, "started_at": None}


@pytest.mark.parametrize(("language", "phrases"), [
    ("nl", ["Ans kan niet komen naar de dienst ‘Voedselbank: sorteren’ op 5 december 2026 om 09:00 uur "
            "(dienst s-1)", "Zoek iemand anders voor de dienst"]),
    ("en", ["Ans cannot come to the shift ‘Voedselbank: sorteren’ on December 5, 2026 at 09:00 (shift s-1)",
            "Find someone else for the shift"]),
])
def test_the_coordinators_alert_says_which_shift(language, phrases):
    reminder = domain.shift_reminder_context(SHIFT, START - 48 * HOUR, AMSTERDAM)
    alert = domain.shift_declined_alert("s-1", NOW, reminder, AMSTERDAM)
    mail = alert.mail()
    values = domain.template_values(mail.context, "Ans", "v-7", language) | {"console_url": "-"}
    message = message_from_bytes(messages.build_message(
        settings=SETTINGS, volunteer_id="v-7", occasion=mail.occasion, notification=mail.notification,
        audience="coordinator", recipient="c@example.org", language=language, values=values).as_bytes(),
        policy=policy.default)
    for body in (message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()):
        for phrase in phrases:
            assert phrase in body


# -- the order of assignments and releases (different topics, no order between them) ------

T1, T2, T3 = NOW - 3 * HOUR, NOW - 2 * HOUR, NOW - HOUR


def row(assigned_at=None, released_at=None, **more):
    context = dict(CONTEXT) | more
    if assigned_at:
        context["assigned_at"] = assigned_at.isoformat()
    if released_at:
        context["released_at"] = released_at.isoformat()
    return context


@pytest.mark.parametrize(("assigned_at", "queued", "context", "expected"), [
    # assigned, nothing known yet: queued
    (T1, None, None, domain.ReminderPlan(True, START - 48 * HOUR)),
    # the release came first (a skipped row remembering it): the older assignment queues nothing
    (T1, "skipped", row(released_at=T2), domain.ReminderPlan(
        False, reason="released after this assignment, or assigned again since")),
    (T2, "skipped", row(released_at=T2), domain.ReminderPlan(
        False, reason="released after this assignment, or assigned again since")),
    # released, then put back on the shift: queued again
    (T3, "skipped", row(assigned_at=T1, released_at=T2), domain.ReminderPlan(True, START - 48 * HOUR)),
    (T3, "skipped", row(released_at=T2), domain.ReminderPlan(True, START - 48 * HOUR)),
    # an assignment older than the one the reminder holds changes nothing
    (T1, "pending", row(assigned_at=T3), domain.ReminderPlan(
        False, reason="released after this assignment, or assigned again since")),
    (T3, "pending", row(assigned_at=T1), domain.ReminderPlan(True, START - 48 * HOUR)),
    # rows from before assignments were remembered, and events without one
    (T1, "pending", row(), domain.ReminderPlan(True, START - 48 * HOUR)),
    (None, "skipped", row(released_at=T2), domain.ReminderPlan(True, START - 48 * HOUR)),
])
def test_an_assignment_counts_only_after_the_latest_release(assigned_at, queued, context, expected):
    assert domain.shift_reminder_plan(START, NOW, 48, queued, assigned_at, context) == expected


@pytest.mark.parametrize(("released_at", "queued", "context", "expected"), [
    # no reminder yet (the assignment not consumed): remembered, nothing to skip
    (T2, None, None, domain.Release(T2, skip=False)),
    # the release of this assignment: skipped
    (T2, "pending", row(assigned_at=T1), domain.Release(T2, skip=True)),
    (T2, "pending", row(assigned_at=T2), domain.Release(T2, skip=True)),
    (T2, "pending", row(), domain.Release(T2, skip=True)),  # a row from before
    # an old release read after a newer assignment: the reminder stays
    (T2, "pending", row(assigned_at=T3), domain.Release(T2, skip=False)),
    # the latest release is kept whatever order releases come in
    (T1, "skipped", row(released_at=T2), domain.Release(T2, skip=False)),
    (T3, "skipped", row(released_at=T2), domain.Release(T3, skip=False)),
    # a sent reminder stays sent; the release is remembered
    (T2, "sent", row(assigned_at=T1), domain.Release(T2, skip=False)),
])
def test_what_a_release_does_to_the_reminder(released_at, queued, context, expected):
    assert domain.shift_release(released_at, queued, context) == expected


@pytest.mark.parametrize(("queued", "context", "now", "refused"), [
    ("pending", row(assigned_at=T1), NOW, None),
    ("sent", row(assigned_at=T1), NOW, None),
    ("sent", row(assigned_at=T3, released_at=T2), NOW, None),  # released, then back on it
    ("pending", row(), NOW, None),  # a reminder from before assignments were remembered
    # no longer on the shift: released, reassigned, cancelled, declined before
    ("sent", row(assigned_at=T1, released_at=T2), NOW, "not on the shift"),
    ("skipped", row(assigned_at=T1, released_at=T2), NOW, "not on the shift"),
    ("skipped", row(released_at=T2), NOW, "not on the shift"),
    ("failed", row(assigned_at=T1), NOW, "not on the shift"),
    (None, None, NOW, "not on the shift"),
    # the shift has started or ended (the link lives 730 days)
    ("sent", row(assigned_at=T1), START, "the shift has started"),
    ("sent", row(assigned_at=T1), START + 400 * 24 * HOUR, "the shift has started"),
])
def test_when_i_cannot_come_still_applies(queued, context, now, refused):
    assert domain.decline_refused(queued, context, now) == refused
