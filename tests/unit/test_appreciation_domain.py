"""Every mail decision of the appreciation service, table by table: whether a mail goes
out, to whom, in which language, when, with which template inputs, what an SMTP
error means, which alerts and mails an event brings, and what is coming up."""

import ast
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

from services.appreciation import domain
from services.appreciation.rules import AlertRules, Rules, load_rules
from shared.contracts import FollowUpOverdue, PlannedMail
from services.settings import load_settings

RULES = load_rules()
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
DEFAULT = "coordinator@example.org"
ORG = load_settings(coordinator_email_domains="vrijwilligers.example.org", default_coordinator_email=DEFAULT,
                    org_lead_email="lead@example.com", coordinator_language="en")
HOUR = timedelta(hours=1)


def queued(**values):
    row = dict(volunteer_id="v-42", audience="volunteer", notification="first-shift-thanks", context={},
               created_at=NOW - timedelta(minutes=5), name="Anna", email="anna@example.net", language="nl",
               coordinator_email=None, consent=True, shift_reminder_consent=True, unsubscribed_at=None,
               erased_at=None, registered_at=NOW - timedelta(days=3)) | values
    return SimpleNamespace(**row)


# -- whether, to whom, in which language, when ----------------------------------------

@pytest.mark.parametrize(("mail", "expected"), [
    (queued(), domain.Send("anna@example.net", "nl")),
    (queued(language="en"), domain.Send("anna@example.net", "en")),  # the volunteer's own language
    (queued(registered_at=None), domain.Wait(NOW + HOUR)),  # no name or address yet
    (queued(registered_at=None, created_at=NOW - 2 * HOUR), domain.Wait(NOW + HOUR)),  # volunteer mail keeps waiting
    (queued(consent=False), domain.Skip("no consent for appreciation mail")),
    (queued(unsubscribed_at=NOW - HOUR), domain.Skip("unsubscribed")),
    (queued(email=None), domain.Skip("no email address")),
    (queued(erased_at=NOW - HOUR), domain.Skip("volunteer erased")),
    (queued(erased_at=NOW - HOUR, audience="coordinator"), domain.Skip("volunteer erased")),
    # coordinator and lead mail: the coordinator's language, whatever the volunteer's
    (queued(audience="coordinator", coordinator_email="jan@vrijwilligers.example.org"),
     domain.Send("jan@vrijwilligers.example.org", "en")),
    (queued(audience="coordinator", consent=False, unsubscribed_at=NOW),  # consent is about appreciation mail
     domain.Send(DEFAULT, "en")),
    (queued(audience="coordinator", coordinator_email="x@partner.example.com"), domain.Send(DEFAULT, "en", True)),
    (queued(audience="lead"), domain.Send("lead@example.com", "en")),
    # before the registration: waits an hour for the name, then goes with the id
    (queued(audience="coordinator", registered_at=None), domain.Wait(NOW + HOUR)),
    (queued(audience="coordinator", registered_at=None, created_at=NOW - 2 * HOUR), domain.Send(DEFAULT, "en")),
])
def test_mail_decision(mail, expected):
    assert domain.mail_decision(mail, ORG, NOW) == expected


@pytest.mark.parametrize(("audience", "context", "coordinator_email", "expected"), [
    # a follow-up's own coordinator, or its escalate_to, comes first
    ("coordinator", {"recipient": "jan@vrijwilligers.example.org"}, "x@vrijwilligers.example.org",
     ("jan@vrijwilligers.example.org", False)),
    ("coordinator", {"recipient": "contact@partner.example.com"}, None, (DEFAULT, True)),
    ("lead", {"recipient": "boss@partner.example.com"}, None, (DEFAULT, True)),
    # the volunteer's coordinator (from the registration)
    ("coordinator", {}, "jan@vrijwilligers.example.org", ("jan@vrijwilligers.example.org", False)),
    ("coordinator", {"recipient": None}, "contact@partner.example.com", (DEFAULT, True)),
    ("coordinator", {}, None, (DEFAULT, False)),
    # the lead comes from settings: never replaced
    ("lead", {}, "contact@partner.example.com", ("lead@example.com", False)),
])
def test_staff_recipient(audience, context, coordinator_email, expected):
    assert domain.staff_recipient(ORG, audience, context, coordinator_email) == expected


@pytest.mark.parametrize(("code", "disconnected", "final", "reset"), [
    (550, False, True, False),  # refused for good: failed, coordinator told
    (554, False, True, False),
    (451, False, False, False),  # try again later, same session
    (421, True, False, True),  # the server hung up
    (None, False, False, True),  # no reply code: connection refused or broken
])
def test_what_an_smtp_error_means(code, disconnected, final, reset):
    assert domain.smtp_verdict(code, disconnected) == domain.SmtpVerdict(final=final, reset_session=reset)


@pytest.mark.parametrize(("attempts", "seconds"), [(0, 30), (1, 60), (3, 240), (5, 900), (20, 900)])
def test_retries_back_off_doubling_up_to_the_maximum(attempts, seconds):
    assert domain.retry_at(NOW, attempts, 30, 900) == NOW + timedelta(seconds=seconds)


# -- template inputs ---------------------------------------------------------------------

@pytest.mark.parametrize(("context", "name", "language", "expected"), [
    ({"milestone": "shifts-25"}, "Henk", "nl", {"measure": "shifts", "threshold": 25, "name": "Henk"}),
    # a mail queued before measure and threshold existed: read from the name
    ({"milestone": "hours-100"}, "Henk", "en", {"measure": "hours", "threshold": 100}),
    # a custom name: the queued context says it
    ({"milestone": "century", "measure": "shifts", "threshold": 100}, "Henk", "nl",
     {"milestone": "century", "measure": "shifts", "threshold": 100}),
    ({"milestone": "century"}, "Henk", "nl", {"measure": None, "threshold": None}),
    ({}, None, "nl", {"name": "#v-42", "task": None, "years": None}),  # before the registration: the id
    ({"lunch_place": {"nl": "de kantine", "en": "the canteen"}}, "Henk", "en", {"lunch_place": "the canteen"}),
    ({"lunch_place": {"nl": "de kantine"}}, "Henk", "en", {"lunch_place": "de kantine"}),  # one language given
    ({"lunch_place": "De Ooievaar"}, "Henk", "en", {"lunch_place": "De Ooievaar"}),
])
def test_template_values(context, name, language, expected):
    values = domain.template_values(context, name, "v-42", language)
    assert set(domain.TEMPLATE_KEYS) <= values.keys()
    assert {key: values[key] for key in expected} == expected


# -- which mails and alerts an event brings ---------------------------------------------------

CUSTOM = Rules.model_validate({"milestones": [
    {"measure": "shifts", "at": [1], "name": "first-shift", "notify": ["first-shift-thanks", "milestone-card"]},
    {"measure": "shifts", "at": [100], "name": "century", "notify": ["milestone-card"]},
    {"measure": "hours", "at": [10, 40], "notify": ["milestone-card"]},
    {"measure": "years", "at": [5], "name": "jubilee", "notify": ["service-anniversary", "lunch-invitation"],
     "coordinator_reminder_days": 7, "lunch": {"days_after_anniversary": 7, "time": "12:30", "place": "de kantine"}},
]})


@pytest.mark.parametrize(("rules", "before", "start_hours", "expected"), [
    (RULES, 0, 3, ["first-shift"]),
    (RULES, 9, 3, ["shifts-10"]),
    (RULES, 4, 3, []),
    (CUSTOM, 99, 3, ["century"]),
    (CUSTOM, 0, 0, ["first-shift"]),
    (CUSTOM, 5, 8, ["hours-10"]),  # 8 + 3 hours crosses 10
    (CUSTOM, 5, 5, []),
])
def test_a_shift_crosses_milestones(rules, before, start_hours, expected):
    start = NOW - timedelta(hours=3)
    after = domain.after_shift(rules, before, start_hours, None, None, start, NOW)
    assert (after.shift_count, after.hours) == (before + 1, start_hours + 3)
    assert [hit.milestone for hit in after.crossed] == expected
    assert after.first_shift_at == start and after.last_activity_at == NOW


def test_a_custom_milestone_keeps_measure_and_threshold_apart_from_its_name():
    [hit] = domain.after_shift(CUSTOM, 99, 0, None, None, NOW - HOUR, NOW).crossed
    context = domain.shift_milestone_context(hit, domain.after_shift(CUSTOM, 99, 0, None, None, NOW - HOUR, NOW),
                                             "rijden")
    assert (hit.milestone, context["measure"], context["threshold"], context["shifts"]) == ("century", "shifts", 100,
                                                                                            100)
    assert domain.milestone_parts(CUSTOM, "jubilee") == ("years", 5)
    assert domain.milestone_parts(CUSTOM, "years-5") is None


@pytest.mark.parametrize(("notify", "celebrated", "expected"), [
    (["first-shift-thanks"], True, [("first-shift", "first-shift-thanks", "volunteer")]),
    (["first-shift-thanks", "milestone-card"], True,
     [("first-shift", "first-shift-thanks", "volunteer"), ("first-shift", "milestone-card", "volunteer")]),
    (["first-shift-thanks"], False, []),  # found after the grace window: recorded, not mailed
])
def test_milestone_mails(notify, celebrated, expected):
    mails = domain.milestone_mails("first-shift", notify, celebrated, date(2026, 11, 28), {"task": "rijden"})
    assert [(m.occasion, m.notification, m.audience) for m in mails] == expected
    assert all(m.context == {"task": "rijden", "milestone": "first-shift", "reached_on": "2026-11-28"} for m in mails)


@pytest.mark.parametrize(("rules", "started", "expected"), [
    (RULES, date(2021, 12, 4), [("coordinator-reminder", "coordinator"), ("lunch-invitation", "volunteer")]),
    (CUSTOM, date(2021, 12, 4), [("coordinator-reminder", "coordinator"), ("lunch-invitation", "volunteer")]),
])
def test_reminder_mails_ahead_of_an_anniversary(rules, started, expected):
    [anniversary] = domain.due_on(rules, started, date(2026, 11, 27))[1]
    mails = domain.reminder_mails(anniversary)
    assert [(m.notification, m.audience) for m in mails] == expected
    assert mails[0].context["years"] == 5 and mails[0].context["anniversary_on"] == "2026-12-04"
    assert mails[0].context["lunch_on"] == "2026-12-11"


def test_a_years_rule_without_a_lunch_invites_nobody_ahead():
    rules = Rules.model_validate({"milestones": [{"measure": "years", "at": [3], "notify": ["service-anniversary"],
                                                  "coordinator_reminder_days": 5}]})
    [anniversary] = domain.due_on(rules, date(2023, 12, 4), date(2026, 11, 30))[1]
    assert [m.notification for m in domain.reminder_mails(anniversary)] == ["coordinator-reminder"]


def overdue(**values):
    return FollowUpOverdue.model_validate({"volunteer_id": "v-42", "kind": "intake", "rung": "reminder",
                                           "due_since": "2026-11-08T10:00:00+01:00"} | values)


@pytest.mark.parametrize(("alerts", "event", "expected"), [
    (AlertRules(), overdue(), ("intake-overdue", "coordinator-alert", "coordinator", None)),
    (AlertRules(), overdue(coordinator_email="jan@vrijwilligers.example.org"),
     ("intake-overdue", "coordinator-alert", "coordinator", "jan@vrijwilligers.example.org")),
    (AlertRules(), overdue(rung="escalation", escalate_to="lead@example.com", coordinator_email="jan@x.example.org"),
     ("intake-overdue", "coordinator-escalation", "lead", "lead@example.com")),
    (AlertRules(), overdue(kind="quiet"), ("quiet-volunteer", "coordinator-alert", "coordinator", None)),
    (AlertRules(quiet_volunteer=False), overdue(kind="quiet"), None),
    (AlertRules(followup_overdue=False), overdue(), None),
    (AlertRules(followup_overdue=False), overdue(kind="quiet"),
     ("quiet-volunteer", "coordinator-alert", "coordinator", None)),
])
def test_followup_alert(alerts, event, expected):
    alert = domain.followup_alert(alerts, event, ORG.timezone)
    assert (alert and (alert.reason, alert.notification, alert.audience, alert.context["recipient"])) == expected


def test_an_alert_is_one_mail_and_one_event_per_occasion():
    alert = domain.followup_alert(AlertRules(), overdue(started_by="registration",
                                                        started_at="2026-11-01T09:00:00+00:00"), ORG.timezone)
    mail = alert.mail()
    assert (mail.occasion, mail.notification) == ("intake-reminder:2026-11-08T10:00:00+01:00", "coordinator-alert")
    assert mail.context["reason"] == "intake-overdue" and mail.context["due_since"] == "2026-11-08T10:00:00+01:00"
    assert mail.context["started_at"] == "2026-11-01T10:00:00+01:00"  # in the organisation's time zone
    assert alert.event_id("v-42") == "alert:v-42:intake-reminder:2026-11-08T10:00:00+01:00:coordinator-alert"


@pytest.mark.parametrize(("missed", "raised"), [(1, False), (2, True), (3, False)])
def test_missed_shifts_alert_once_at_the_threshold(missed, raised):
    alert = domain.missed_shifts_alert(RULES, missed, "s" * 150, NOW)
    assert (alert is not None) is raised
    if alert:
        assert alert.occasion.startswith("missed-shifts:sha256-") and len(alert.occasion) < 150
        assert alert.context == {"missed": 2}


@pytest.mark.parametrize(("notification", "raised"), [("first-shift-thanks", True), ("coordinator-alert", True),
                                                       ("delivery-failed", False)])
def test_a_refused_mail_tells_the_coordinator_but_not_about_its_own_notice(notification, raised):
    alert = domain.delivery_failed_alert("first-shift", notification, NOW)
    assert (alert is not None) is raised
    if alert:
        assert (alert.occasion, alert.audience, alert.context) == (
            f"first-shift:{notification}", "coordinator", {"failed_notification": notification})


@pytest.mark.parametrize(("rules", "milestone", "years"), [
    (RULES, "years-5", 5), (CUSTOM, "jubilee", 5), (RULES, "shifts-10", None), (RULES, "gone-from-the-rules", None)])
def test_the_lead_hears_of_an_overdue_card_with_the_years_from_the_rules(rules, milestone, years):
    mail = domain.todo_overdue_mail(rules, f"{milestone}-card", "write-card", milestone, date(2026, 12, 4))
    assert (mail.occasion, mail.notification, mail.audience) == (f"todo-overdue:{milestone}-card", "todo-overdue",
                                                                 "lead")
    assert mail.context["years"] == years and mail.context["due_on"] == "2026-12-04"


# -- what is coming up -------------------------------------------------------------------------

@pytest.mark.parametrize(("threshold", "value", "nearly"), [
    (10, 9, True), (10, 8, False), (10, 10, False), (25, 23, True), (25, 22, False),
    (100, 90, True), (100, 89.9, False), (1, 0, False), (50, 49.5, True), (10, 0, False)])
def test_nearly_reached(threshold, value, nearly):
    assert domain.nearly_reached(threshold, value) is nearly


@pytest.mark.parametrize(("rules", "measure", "value", "allowed", "expected"), [
    (RULES, "shifts", 9, True, ("shifts-10", 10, 9, [PlannedMail(notification="milestone-card", audience="volunteer")])),
    (RULES, "shifts", 9, False, ("shifts-10", 10, 9, [])),  # published for the coordinator, nothing will be mailed
    (RULES, "shifts", 8, True, None),
    (RULES, "shifts", 24, True, ("shifts-25", 25, 24, [PlannedMail(notification="milestone-card",
                                                                   audience="volunteer")])),
    (RULES, "shifts", 100, True, None),  # the last threshold is behind
    (RULES, "hours", 46.04, True, ("hours-50", 50, 46.0, [PlannedMail(notification="milestone-card",
                                                                      audience="volunteer")])),
    (CUSTOM, "shifts", 95, True, ("century", 100, 95, [PlannedMail(notification="milestone-card",
                                                                   audience="volunteer")])),
])
def test_upcoming_count(rules, measure, value, allowed, expected):
    upcoming = domain.upcoming_count(rules, "v-42", measure, value, allowed)
    assert (upcoming and (upcoming.milestone, upcoming.threshold, upcoming.value, upcoming.sends)) == expected
    if upcoming:
        assert upcoming.measure == measure and upcoming.expected_on is None


@pytest.mark.parametrize(("started", "today", "expected"), [
    (date(2021, 12, 4), date(2026, 11, 1), (5, 4, date(2026, 12, 4))),
    (date(2021, 12, 4), date(2026, 12, 4), (10, 5, date(2031, 12, 4))),  # on the day: the next one
    (date(2025, 12, 4), date(2025, 12, 4), (1, 0, date(2026, 12, 4))),
    (date(2000, 1, 1), date(2026, 1, 2), None),  # past the last anniversary in the rules
])
def test_upcoming_anniversary(started, today, expected):
    upcoming = domain.upcoming_anniversary(RULES, "v-42", started, today, True)
    assert (upcoming and (upcoming.threshold, upcoming.value, upcoming.expected_on)) == expected


@pytest.mark.parametrize(("allowed", "sends"), [
    (True, [PlannedMail(notification="coordinator-reminder", audience="coordinator", on=date(2026, 11, 27)),
            PlannedMail(notification="service-anniversary", audience="volunteer", on=date(2026, 12, 4)),
            PlannedMail(notification="lunch-invitation", audience="volunteer", on=date(2026, 11, 27))]),
    (False, [PlannedMail(notification="coordinator-reminder", audience="coordinator", on=date(2026, 11, 27))]),
])
def test_an_upcoming_anniversary_says_what_goes_out_when(allowed, sends):
    upcoming = domain.upcoming_anniversary(CUSTOM, "v-42", date(2021, 12, 4), date(2026, 11, 1), allowed)
    assert (upcoming.milestone, upcoming.measure, upcoming.sends) == ("jubilee", "years", sends)
    assert domain.upcoming_event_id(upcoming) == "upcoming:v-42:jubilee"


def test_a_reminder_day_already_past_is_announced_for_today():
    # registered four days before the anniversary: the reminder (7 days ahead) goes out at the next sweep
    upcoming = domain.upcoming_anniversary(CUSTOM, "v-42", date(2021, 12, 4), date(2026, 11, 30), True)
    assert {(mail.notification, mail.on) for mail in upcoming.sends} == {
        ("coordinator-reminder", date(2026, 11, 30)), ("lunch-invitation", date(2026, 11, 30)),
        ("service-anniversary", date(2026, 12, 4))}


@pytest.mark.parametrize(("consent", "unsubscribed", "erased", "allowed"), [
    (True, None, None, True), (False, None, None, False), (True, NOW, None, False), (True, None, NOW, False)])
def test_volunteer_mail_allowed(consent, unsubscribed, erased, allowed):
    assert domain.volunteer_mail_allowed(consent, unsubscribed, erased) is allowed


@pytest.mark.parametrize(("started", "today", "years"), [
    (date(2021, 12, 4), date(2026, 12, 3), 4), (date(2021, 12, 4), date(2026, 12, 4), 5),
    (date(2020, 2, 29), date(2021, 2, 28), 1), (date(2026, 12, 4), date(2026, 11, 1), 0)])
def test_full_years(started, today, years):
    assert domain.full_years(started, today) == years


# -- the layers: dependencies only go down ----------------------------------------------------

PACKAGE = Path(domain.__file__).parent
FORBIDDEN = {
    "domain": {"handlers", "api", "usecases", "store", "mailer", "messages", "tables", "service"},
    "rules": {"handlers", "api", "usecases", "store", "mailer", "messages", "domain", "service"},
    "store": {"handlers", "api", "usecases", "mailer", "messages", "domain", "service"},
    "usecases": {"handlers", "api", "mailer", "service"},
    "mailer": {"handlers", "api", "usecases", "service"},
    "messages": {"handlers", "api", "usecases", "store", "mailer", "service"},
    "handlers": {"api", "store", "mailer", "tables", "domain", "service"},
    "api": {"handlers", "store", "mailer", "tables", "domain", "service"},
}


def appreciation_imports(module: str) -> set[str]:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "services.appreciation":
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("services.appreciation."):
            found.add(node.module.rsplit(".", 1)[1])
    return found


@pytest.mark.parametrize("module", sorted(FORBIDDEN))
def test_each_layer_imports_only_downwards(module):
    assert appreciation_imports(module) & FORBIDDEN[module] == set()

