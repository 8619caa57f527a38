"""Rendering appreciation mail: both languages, hostile names, headers, unsubscribe tokens."""

import base64
import secrets
import time
from email import message_from_bytes, policy

import pytest

from services.appreciation import domain, messages
from services.settings import load_settings
from shared.settings import SettingsError

SETTINGS = load_settings(unsubscribe_secret=secrets.token_urlsafe(32))
LUNCH = {"years": 5, "milestone": "years-5", "anniversary_on": "2026-12-04", "lunch_on": "2026-12-11",
         "lunch_time": "12:30", "lunch_place": {"nl": "de kantine", "en": "the canteen"}}


def build(notification, language="nl", name="Henk", audience="volunteer", recipient="henk@example.org", **context):
    values = domain.template_values(context, name, "v-henk", language) | {
        "unsubscribe_url": messages.unsubscribe_url(SETTINGS, "v-henk"),
        "console_url": messages.console_url(SETTINGS, "v-henk", context)}
    return messages.build_message(settings=SETTINGS, volunteer_id="v-henk", occasion=context.get("milestone", "x"),
                                  notification=notification, audience=audience, recipient=recipient,
                                  language=language, values=values)


@pytest.mark.parametrize(("notification", "language", "context", "subject", "phrase"), [
    ("first-shift-thanks", "nl", {"task": "boodschappen rijden"}, "Dank je wel voor je eerste dienst, Henk!",
     "Je eerste dienst (boodschappen rijden) zit erop"),
    ("first-shift-thanks", "en", {}, "Thank you for your first shift, Henk!", "Your first shift is done"),
    ("milestone-card", "nl", {"milestone": "shifts-25"}, "25 diensten: dank je wel, Henk!", "25 diensten"),
    ("milestone-card", "en", {"milestone": "hours-100"}, "100 hours: thank you, Henk!", "100 hours"),
    ("service-anniversary", "nl", {"years": 5}, "5 jaar vrijwilliger: gefeliciteerd, Henk!", "5 jaar"),
    ("lunch-invitation", "en", LUNCH, "Invitation: lunch to celebrate 5 years, Henk",
     "lunch on December 11, 2026 at 12:30 in the canteen"),
    ("lunch-invitation", "nl", LUNCH, "Uitnodiging: lunch ter ere van 5 jaar, Henk",
     "lunch op 11 december 2026 om 12:30 uur in de kantine"),  # the rules' place in the reader's language
])
def test_volunteer_mail_in_their_language(notification, language, context, subject, phrase):
    message = build(notification, language, **context)
    assert message["Subject"] == subject
    assert message["X-Dankjewel-Notification"] == notification
    assert message["Content-Language"] == language
    assert phrase in message.get_body(("plain",)).get_content()
    assert message["List-Unsubscribe"].startswith(f"<{SETTINGS.public_base_url}/unsubscribe/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


@pytest.mark.parametrize(("language", "subject", "line"), [
    ("nl", "Iets voor jou? Technisch tekenen <voor> de werkplaats", "- uses your skill: technical drawing"),
    ("en", "Something for you? Technisch tekenen <voor> de werkplaats", "- uses your skill: technical drawing"),
])
def test_opportunity_suggestion_lists_why_it_fits(language, subject, line):
    message = build("opportunity-suggestion", language, title="Technisch tekenen <voor> de werkplaats",
                    reasons=["uses your skill: technical drawing", "fits: first Thursday of the month"])
    assert message["Subject"] == subject
    assert line in message.get_body(("plain",)).get_content()
    assert "&lt;voor&gt;" in message.get_body(("html",)).get_content()
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_coordinator_reminder_reads_like_the_brief():
    message = build("coordinator-reminder", "en", audience="coordinator", recipient="coord@example.org", **LUNCH)
    text = message.get_body(("plain",)).get_content()
    assert message["Subject"] == "Henk reaches 5 years of volunteering on December 4, 2026"
    assert "Write Henk a personal card" in text
    assert "Henk has been invited to lunch on December 11, 2026" in text
    assert message["List-Unsubscribe"] is None  # coordinator mail has no unsubscribe


def test_alert_says_what_is_overdue_and_suggests_a_next_step():
    message = build("coordinator-alert", "nl", audience="coordinator", reason="intake-overdue",
                    due_since="2026-11-20T10:00:00+00:00")
    text = message.get_body(("plain",)).get_content()
    assert "nog geen kennismakingsgesprek" in text and "Sinds 20 november 2026" in text
    assert "Voorstel: Bel Henk deze week" in text


def test_lunch_invitation_carries_an_ics_with_the_date():
    message = build("lunch-invitation", "nl", **LUNCH)
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "lunch.ics"
    ics = attachment.get_content()
    assert "DTSTART;TZID=Europe/Amsterdam:20261211T123000" in ics and "LOCATION:de kantine" in ics


@pytest.mark.parametrize("name", ["<script>alert('x')</script>", "Zoë O'Neill & Søn", "Jan \"de Snelle\" <b>"])
def test_hostile_and_accented_names_are_escaped_in_html(name):
    message = build("first-shift-thanks", "nl", name=name)
    html = message.get_body(("html",)).get_content()
    assert name not in html or name.isalnum()
    assert "<script>" not in html
    assert "&lt;" in html or "&#39;" in html or "&amp;" in html
    assert name in message.get_body(("plain",)).get_content()  # plain text shows the name as written


def test_cr_lf_in_a_name_is_flattened_before_it_reaches_the_subject():
    message = build("first-shift-thanks", "en", name="Evil\r\nBcc: all@example.org")
    assert message["Subject"] == "Thank you for your first shift, Evil Bcc: all@example.org!"
    assert message["Bcc"] is None
    assert b"\r\nBcc:" not in message.as_bytes()


@pytest.mark.parametrize("recipient", ["henk@example.org\r\nBcc: all@example.org", "henk@example.org\n"])
def test_cr_lf_in_an_address_refuses_the_mail(recipient):
    with pytest.raises(messages.HeaderInjection):
        build("first-shift-thanks", "en", recipient=recipient)


def test_message_id_is_derived_from_the_ledger_entry():
    assert build("service-anniversary", years=5, milestone="years-5")["Message-ID"] == \
        build("service-anniversary", years=5, milestone="years-5")["Message-ID"]
    assert messages.message_id("v1", "years-5", "service-anniversary") != \
        messages.message_id("v2", "years-5", "service-anniversary")


def test_the_whole_message_serialises_as_valid_mime():
    raw = build("lunch-invitation", "nl", name="Zoë", **LUNCH).as_bytes()
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Subject"] == "Uitnodiging: lunch ter ere van 5 jaar, Zoë"


def test_unsubscribe_tokens_cannot_be_forged_or_moved_to_another_person():
    token = messages.unsubscribe_token(SETTINGS, "v-henk")
    assert messages.volunteer_of_token(SETTINGS, token) == "v-henk"
    assert messages.volunteer_of_token(SETTINGS, messages.unsubscribe_token(SETTINGS, "v-anna")) == "v-anna"
    for position in (10, len(token) // 2, len(token) - 2):  # any changed character breaks it
        changed = token[:position] + ("A" if token[position] != "A" else "B") + token[position + 1:]
        assert messages.volunteer_of_token(SETTINGS, changed) is None
    other_secret = load_settings(unsubscribe_secret=secrets.token_urlsafe(32))
    assert messages.volunteer_of_token(other_secret, token) is None
    assert messages.volunteer_of_token(SETTINGS, "garbage") is None
    assert messages.volunteer_of_token(SETTINGS, "x" * 5000) is None


def test_unsubscribe_tokens_do_not_show_whom_they_are_for():
    token = messages.unsubscribe_token(SETTINGS, "v-henk")
    decoded = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert b"v-henk" not in decoded and "v-henk" not in token
    assert messages.unsubscribe_token(SETTINGS, "v-henk") != token  # nothing to link two mails by


def test_unsubscribe_links_work_for_two_years_and_not_after():
    fernet = messages._fernet(SETTINGS)
    year_old = fernet.encrypt_at_time(b"v-henk", int(time.time()) - 365 * 86400).decode()
    too_old = fernet.encrypt_at_time(b"v-henk", int(time.time()) - 731 * 86400).decode()
    assert messages.volunteer_of_token(SETTINGS, year_old) == "v-henk"
    assert messages.volunteer_of_token(SETTINGS, too_old) is None


def test_a_rotated_secret_still_opens_old_links_and_new_links_use_the_new_secret():
    old_secret, new_secret = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    before = load_settings(unsubscribe_secret=old_secret)
    after = load_settings(unsubscribe_secret=new_secret, unsubscribe_previous_secrets=old_secret)
    old_link = messages.unsubscribe_token(before, "v-henk")
    assert messages.volunteer_of_token(after, old_link) == "v-henk"
    assert messages.volunteer_of_token(before, messages.unsubscribe_token(after, "v-henk")) is None
    messages.check_unsubscribe_secrets(after)


@pytest.mark.parametrize(("secret", "previous", "problem"), [
    (None, None, "UNSUBSCRIBE_SECRET is not set"),
    ("dankjewel-development-secret", None, "UNSUBSCRIBE_SECRET is a value published"),
    ("a-test-secret-of-enough-length", None, "UNSUBSCRIBE_SECRET is a value published"),
    ("too-short-" * 3, None, "UNSUBSCRIBE_SECRET is shorter than 32"),
    ("x" * 32, "dankjewel-development-secret", "UNSUBSCRIBE_PREVIOUS_SECRETS"),
    ("x" * 32, "short", "UNSUBSCRIBE_PREVIOUS_SECRETS"),
])
def test_start_up_refuses_an_unusable_unsubscribe_secret_and_names_it(secret, previous, problem):
    settings = load_settings(unsubscribe_secret=secret, unsubscribe_previous_secrets=previous)
    with pytest.raises(SettingsError, match=problem) as refused:
        messages.check_unsubscribe_secrets(settings)
    assert "dankjewel-development-secret" not in str(refused.value)  # the message does not repeat the secret


def test_the_unsubscribe_header_is_one_plain_line_a_mail_client_can_follow():
    raw = build("first-shift-thanks", "nl").as_bytes()
    line = next(line for line in raw.split(b"\n") if line.startswith(b"List-Unsubscribe:"))
    url = messages.unsubscribe_url(SETTINGS, "v-henk").split("/unsubscribe/")[0]
    assert line.startswith(b"List-Unsubscribe: <" + url.encode() + b"/unsubscribe/") and line.rstrip().endswith(b">")
    assert b"=?" not in line and len(line) < 998
    token = line.rstrip()[:-1].rsplit(b"/", 1)[1].decode()
    assert messages.volunteer_of_token(SETTINGS, token) is not None


@pytest.mark.parametrize(("notification", "audience", "context", "link"), [
    ("coordinator-reminder", "coordinator", LUNCH, "/console/volunteers/v-henk#todo-years-5-card"),
    ("coordinator-alert", "coordinator", {"reason": "intake-overdue", "due_since": "2026-11-20T10:00:00+00:00"},
     "/console/volunteers/v-henk"),
    ("delivery-failed", "coordinator", {"failed_notification": "first-shift-thanks"}, "/console/volunteers/v-henk"),
])
def test_coordinator_mail_links_to_where_it_is_acted_on_in_the_console(notification, audience, context, link):
    message = build(notification, "nl", audience=audience, **context)
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert f"{SETTINGS.console_base_url.removesuffix('/console')}{link}" in text
    assert f'href="{SETTINGS.console_base_url.removesuffix("/console")}{link}"' in html


def test_volunteer_mail_has_no_console_link():
    assert "/console/" not in build("first-shift-thanks", "nl").get_body(("plain",)).get_content()


@pytest.mark.parametrize(("language", "context", "phrase"), [
    ("nl", {"started_by": "offer-of-help", "opportunity_title": "Technisch tekenen", "started_at": "2026-11-21T10:00:00+01:00"},
     "(na het hulpaanbod voor ‘Technisch tekenen’ op 21 november 2026)"),
    ("en", {"started_by": "offer-of-help", "opportunity_title": "Technical drawing", "started_at": "2026-11-21T10:00:00+01:00"},
     "(since the offer of help for ‘Technical drawing’ on November 21, 2026)"),
    ("nl", {"started_by": "registration", "started_at": "2026-11-21T10:00:00+01:00"}, "(na de aanmelding op 21 november 2026)"),
    ("nl", {"started_by": "first-shift", "started_at": "2026-11-21T10:00:00+01:00"}, "(na de eerste dienst op 21 november 2026)"),
    ("nl", {}, "nog geen kennismakingsgesprek geweest.\n"),
])
def test_a_coordinator_alert_is_worded_in_the_coordinators_language_from_the_events_fields(language, context, phrase):
    message = build("coordinator-alert", language, audience="coordinator", reason="intake-overdue",
                    due_since="2026-11-28T10:00:00+01:00", detail="No intake conversation yet (English)", **context)
    text = message.get_body(("plain",)).get_content()
    assert phrase in text and "English" not in text


# -- custom milestone names: name, measure and threshold are separate template inputs ----------

from datetime import date, datetime, timedelta, timezone  # noqa: E402

from services.appreciation.rules import Rules  # noqa: E402

CUSTOM = Rules.model_validate({"milestones": [
    {"measure": "shifts", "at": [1], "name": "first-shift", "notify": ["first-shift-thanks", "milestone-card"]},
    {"measure": "shifts", "at": [100], "name": "century", "notify": ["milestone-card"]},
    {"measure": "hours", "at": [40], "name": "marathon", "notify": ["milestone-card"]},
    {"measure": "years", "at": [5], "name": "jubilee",
     "notify": ["service-anniversary", "lunch-invitation", "milestone-card"], "coordinator_reminder_days": 7,
     "lunch": {"days_after_anniversary": 7, "time": "12:30", "place": {"nl": "de kantine", "en": "the canteen"}}},
]})
ENDED = datetime(2026, 11, 28, 15, 0, tzinfo=timezone.utc)


def shift_mails(shifts_before: int, hours_before: float) -> list:
    """The mails a three-hour shift queues under the custom rules, as the use case queues them."""
    after = domain.after_shift(CUSTOM, shifts_before, hours_before, None, None, ENDED - timedelta(hours=3), ENDED)
    return [mail for hit in after.crossed for mail in domain.milestone_mails(
        hit.milestone, hit.rule.notify, True, date(2026, 11, 28), domain.shift_milestone_context(hit, after, "rijden"))]


def jubilee_mails() -> list:
    reached, _ = domain.due_on(CUSTOM, date(2021, 12, 4), date(2026, 12, 4))
    _, remind = domain.due_on(CUSTOM, date(2021, 12, 4), date(2026, 11, 27))
    on_the_day = domain.milestone_mails(reached[0].milestone, reached[0].rule.notify, True, reached[0].on,
                                        domain.anniversary_context(reached[0]))
    overdue = domain.todo_overdue_mail(CUSTOM, "jubilee-card", "write-card", "jubilee", date(2026, 12, 4))
    return domain.reminder_mails(remind[0]) + on_the_day + [overdue]


def render_queued(mail, language):
    message = build(mail.notification, language, audience=mail.audience, **mail.context)
    text, html = message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()
    return message["Subject"], text, html


@pytest.mark.parametrize(("mails", "language", "expected"), [
    (lambda: shift_mails(0, 0), "nl", {("first-shift-thanks", "Dank je wel voor je eerste dienst, Henk!"),
                                       ("milestone-card", "1 dienst: dank je wel, Henk!")}),
    (lambda: shift_mails(0, 0), "en", {("first-shift-thanks", "Thank you for your first shift, Henk!"),
                                       ("milestone-card", "1 shift: thank you, Henk!")}),
    (lambda: shift_mails(99, 10), "nl", {("milestone-card", "100 diensten: dank je wel, Henk!")}),
    (lambda: shift_mails(99, 10), "en", {("milestone-card", "100 shifts: thank you, Henk!")}),
    (lambda: shift_mails(5, 38), "nl", {("milestone-card", "40 uur: dank je wel, Henk!")}),
    (lambda: shift_mails(5, 38), "en", {("milestone-card", "40 hours: thank you, Henk!")}),
    (jubilee_mails, "nl", {("coordinator-reminder", "Henk is op 4 december 2026 5 jaar vrijwilliger"),
                           ("lunch-invitation", "Uitnodiging: lunch ter ere van 5 jaar, Henk"),
                           ("service-anniversary", "5 jaar vrijwilliger: gefeliciteerd, Henk!"),
                           ("milestone-card", "5 jaar: dank je wel, Henk!"),
                           ("todo-overdue", "De kaart voor Henk is nog niet geschreven")}),
    (jubilee_mails, "en", {("coordinator-reminder", "Henk reaches 5 years of volunteering on December 4, 2026"),
                           ("lunch-invitation", "Invitation: lunch to celebrate 5 years, Henk"),
                           ("service-anniversary", "5 years of volunteering: congratulations, Henk!"),
                           ("milestone-card", "5 years: thank you, Henk!"),
                           ("todo-overdue", "The card for Henk has not been written yet")}),
])
def test_custom_milestone_names_render_in_every_template(mails, language, expected):
    rendered = {}
    for mail in mails():
        subject, text, html = render_queued(mail, language)
        # the name stays out of the words (a coordinator's console link may name the to-do)
        assert "None" not in subject + text + html and "century" not in subject + text and "jubilee" not in subject
        rendered.setdefault((mail.notification, subject), text)
    assert set(rendered) == expected


@pytest.mark.parametrize(("language", "phrase"), [
    ("nl", "Henk was op 4 december 2026 5 jaar vrijwilliger"),
    ("en", "Henk reached 5 years of volunteering on December 4, 2026")])
def test_an_overdue_card_for_a_custom_anniversary_names_its_years(language, phrase):
    _, text, _ = render_queued(jubilee_mails()[-1], language)
    assert phrase in text


def test_a_lunch_invitation_under_a_custom_name_carries_its_calendar_entry():
    invitation = next(m for m in jubilee_mails() if m.notification == "lunch-invitation")
    [attachment] = list(build(invitation.notification, "en", **invitation.context).iter_attachments())
    assert "DTSTART;TZID=Europe/Amsterdam:20261211T123000" in attachment.get_content()
    assert "LOCATION:the canteen" in attachment.get_content()


@pytest.mark.parametrize(("language", "subject"), [("nl", "10 diensten in 2026: dank je wel, Henk!"),
                                                   ("en", "10 shifts in 2026: thank you, Henk!")])
def test_a_yearly_milestone_card_names_its_year(language, subject):
    message = build("milestone-card", language, milestone="shifts-10-2026", measure="shifts", threshold=10,
                    per="year", year=2026)
    assert message["Subject"] == subject
    assert "in 2026" in message.get_body(("plain",)).get_content()
