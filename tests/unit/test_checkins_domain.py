"""Table-driven tests of the check-in rules: deadlines, the ladder, how clocks move."""

from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from services.checkins import domain
from services.checkins import rules as rules_file
from services.checkins.domain import Clock, Rules
from services.settings import load_settings

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)
RULES = Rules()  # the defaults: intake 7 d, onboarding 14 d, periodic 6 months, quiet 60 d, escalation +7 d


@pytest.mark.parametrize(("kind", "started", "due"), [
    ("intake", T0, T0 + 7 * DAY),
    ("onboarding", T0, T0 + 14 * DAY),
    ("quiet", T0, T0 + 60 * DAY),
    ("periodic", T0, datetime(2027, 5, 1, 9, 0, tzinfo=timezone.utc)),
    ("periodic", datetime(2026, 8, 31, 12, tzinfo=timezone.utc), datetime(2027, 2, 28, 12, tzinfo=timezone.utc)),
    ("periodic", datetime(2027, 8, 31, 12, tzinfo=timezone.utc), datetime(2028, 2, 29, 12, tzinfo=timezone.utc)),
])
def test_due_at(kind, started, due):
    assert domain.due_at(kind, started, RULES) == due


FOLLOWUPS = "followups:\n  intake_deadline_days: 3\n  onboarding_deadline_days: 5\n  periodic_months: 1\n" \
            "  quiet_after_days: 30\n  escalation_after_days: 2\n"


def test_deadlines_come_from_the_rules_file(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("grace_days: 14\nmilestones: []\n" + FOLLOWUPS)
    rules = rules_file.rules_for(load_settings(rules_file=path))
    assert domain.due_at("intake", T0, rules) == T0 + 3 * DAY
    assert domain.due_at("periodic", T0, rules) == datetime(2026, 12, 1, 9, tzinfo=timezone.utc)
    assert [r.rung for r in domain.rungs_due("intake", T0, rules, set(), T0 + 5 * DAY)] == ["reminder", "escalation"]


def test_the_shipped_file_holds_the_defaults():
    assert rules_file.load_followups() == rules_file.FollowUps()
    assert rules_file.FollowUps().rules() == RULES


@pytest.mark.parametrize(("file_text", "environment", "expected"), [
    # (intake, onboarding, periodic months, quiet, escalation) in days
    ("", {}, (7, 14, 6, 60, 7)),  # no section: today's defaults
    (FOLLOWUPS, {}, (3, 5, 1, 30, 2)),  # the file
    ("followups:\n  quiet_after_days: 90\n", {}, (7, 14, 6, 90, 7)),  # a key left out keeps its default
    (FOLLOWUPS, {"QUIET_AFTER_DAYS": "45", "INTAKE_DEADLINE_DAYS": "10"}, (10, 5, 1, 45, 2)),  # set: wins
    ("", {"ESCALATION_AFTER_DAYS": "3", "PERIODIC_CHECKIN_MONTHS": "12", "ONBOARDING_DEADLINE_DAYS": "21"},
     (7, 21, 12, 60, 3)),
])
def test_environment_variables_override_the_file(tmp_path, monkeypatch, file_text, environment, expected):
    for name in rules_file.OVERRIDES.values():
        monkeypatch.delenv(name.upper(), raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "rules.yaml"
    path.write_text("milestones: []\n" + file_text)
    f = rules_file.followups_for(load_settings(rules_file=path))
    assert (f.intake_deadline_days, f.onboarding_deadline_days, f.periodic_months, f.quiet_after_days,
            f.escalation_after_days) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("milestones: []\nfollowups:\n  intake_deadline_days: 0\n",
     "line 3: followups.intake_deadline_days: Input should be greater than or equal to 1"),
    ("milestones: []\nfollowups:\n  intake_days: 5\n", "line 3: followups.intake_days: Extra inputs"),
    ("milestones: []\nfollowups:\n  quiet_after_days: soon\n", "line 3: followups.quiet_after_days: Input should"),
    ("milestones: []\nfollowups: [7]\n", "line 2: followups: expected a mapping"),
    ("followups: {\n", "line 2: not valid YAML"),
])
def test_a_bad_followups_section_is_refused_naming_file_and_line(tmp_path, text, message):
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    with pytest.raises(rules_file.FollowUpsError) as refused:
        rules_file.load_followups(path)
    assert message in str(refused.value) and str(path) in str(refused.value)


def test_checkins_reads_its_section_without_importing_appreciation():
    for path in Path(rules_file.__file__).parent.glob("*.py"):
        assert "services.appreciation" not in path.read_text(), path


@pytest.mark.parametrize(("as_of", "raised", "expected"), [
    (T0, set(), []),
    (T0 + 7 * DAY - timedelta(minutes=1), set(), []),
    (T0 + 7 * DAY, set(), ["reminder"]),
    (T0 + 7 * DAY + timedelta(minutes=1), set(), ["reminder"]),
    (T0 + 7 * DAY + timedelta(minutes=1), {"reminder"}, []),
    (T0 + 14 * DAY - timedelta(minutes=1), {"reminder"}, []),
    (T0 + 14 * DAY, {"reminder"}, ["escalation"]),
    (T0 + 14 * DAY, set(), ["reminder", "escalation"]),  # first sweep long after the deadline
    (T0 + 14 * DAY, {"reminder", "escalation"}, []),
    (T0 + 400 * DAY, {"reminder", "escalation"}, []),
])
def test_intake_ladder(as_of, raised, expected):
    due = domain.rungs_due("intake", T0, RULES, raised, as_of)
    assert [d.rung for d in due] == expected
    assert all(d.due_since == T0 + 7 * DAY for d in due)  # both rungs name when it became overdue


@pytest.mark.parametrize(("kind", "as_of", "expected"), [
    ("onboarding", T0 + 13 * DAY, []),
    ("onboarding", T0 + 14 * DAY, ["reminder"]),
    ("onboarding", T0 + 21 * DAY, ["reminder", "escalation"]),
    ("quiet", T0 + 59 * DAY, []),
    ("quiet", T0 + 60 * DAY, ["reminder"]),
    ("periodic", datetime(2027, 4, 30, 9, tzinfo=timezone.utc), []),
    ("periodic", datetime(2027, 5, 1, 9, tzinfo=timezone.utc), ["reminder"]),
    ("periodic", datetime(2027, 5, 8, 9, tzinfo=timezone.utc), ["reminder", "escalation"]),
])
def test_ladder_of_other_kinds(kind, as_of, expected):
    assert [d.rung for d in domain.rungs_due(kind, T0, RULES, set(), as_of)] == expected


@pytest.mark.parametrize(("clock", "start", "expected"), [
    (None, T0, Clock(T0)),
    (Clock(T0), T0 + DAY, None),  # still waiting for the first answer: keep the oldest
    (Clock(T0 + DAY), T0, Clock(T0)),  # an older offer reported late
    (Clock(T0, closed_at=T0 + 3 * DAY), T0 + 2 * DAY, None),  # the intake held on day 3 answered it
    (Clock(T0, closed_at=T0 + 3 * DAY), T0 + 30 * DAY, Clock(T0 + 30 * DAY)),  # a new offer, a new intake
])
def test_intake_clock_starts_on_an_unanswered_registration_or_offer(clock, start, expected):
    assert domain.start_answerable(clock, start) == expected


@pytest.mark.parametrize(("clock", "start", "expected"), [
    (None, T0, Clock(T0)),
    (Clock(T0), T0 + DAY, None),  # the second shift is not the first
    (Clock(T0 + DAY), T0, Clock(T0)),  # an earlier first shift reported late
    (Clock(T0, closed_at=T0 + DAY), T0 + 30 * DAY, None),  # onboarding happens once
    (Clock(T0 + DAY, closed_at=T0 + 2 * DAY), T0, None),
])
def test_onboarding_clock_starts_once(clock, start, expected):
    assert domain.start_once(clock, start) == expected


@pytest.mark.parametrize(("clock", "start", "expected"), [
    (None, T0, Clock(T0)),
    (Clock(T0), T0 + DAY, Clock(T0 + DAY)),
    (Clock(T0 + DAY), T0, None),  # an older shift or check-in reported late
    (Clock(T0, closed_at=T0 + 70 * DAY), T0 + 80 * DAY, Clock(T0 + 80 * DAY)),  # quiet, then back
])
def test_periodic_and_quiet_clocks_count_from_the_latest(clock, start, expected):
    assert domain.start_latest(clock, start) == expected


@pytest.mark.parametrize(("held", "closes"), [
    (T0 + 10 * DAY, False),  # a talk before they went quiet does not count
    (T0 + 60 * DAY, True),
    (T0 + 75 * DAY, True),
])
def test_getting_in_touch_with_a_quiet_volunteer(held, closes):
    assert domain.closes_quiet_clock(T0, held, RULES) is closes


@pytest.mark.parametrize(("kind", "subject", "expected"), [
    ("intake", "registration", "No intake conversation yet after the registration of 2026-11-01; due 2026-11-08."),
    ("intake", "offer of help for 'Technical drawing'",
     "No intake conversation yet after the offer of help for 'Technical drawing' of 2026-11-01; due 2026-11-08."),
    ("onboarding", "first shift", "No onboarding check-in yet after the first shift on 2026-11-01; due 2026-11-15."),
    ("periodic", "intake check-in", "No check-in for 6 months (last contact 2026-11-01); due 2027-05-01."),
    ("quiet", "last shift", "No shift for 60 days since the last shift on 2026-11-01; please get in touch."),
])
def test_detail_names_what_is_overdue_and_since_when(kind, subject, expected):
    assert domain.describe(kind, T0, subject, RULES, ZoneInfo("Europe/Amsterdam")) == expected


def test_detail_uses_the_organisations_date():
    late_evening = datetime(2026, 11, 1, 23, 30, tzinfo=timezone.utc)
    detail = domain.describe("intake", late_evening, "registration", RULES, ZoneInfo("Europe/Amsterdam"))
    assert "of 2026-11-02; due 2026-11-09" in detail


@pytest.mark.parametrize(("kind", "subject", "expected"), [
    ("intake", "registration", ("registration", None)),
    ("intake", "offer of help for 'Technisch tekenen'", ("offer-of-help", "Technisch tekenen")),
    ("intake", "offer of help (application a-17)", ("offer-of-help", None)),
    ("quiet", "last shift", ("last-shift", None)),
    ("quiet", "registration", ("registration", None)),
    ("quiet", "return to active volunteering", ("return", None)),
    ("onboarding", None, ("first-shift", None)),
    ("periodic", "registration", ("registration", None)),
    ("periodic", "check-in", ("check-in", None)),
    ("intake", None, (None, None)),
])
def test_what_began_the_wait_for_the_mail_to_say_in_its_own_language(kind, subject, expected):
    assert domain.origin(kind, subject) == expected


# --- decisions the handlers and the sweep used to make --------------------------------------

@pytest.mark.parametrize(("kind", "held", "running", "closed"), [
    ("intake", T0 + DAY, {}, []),
    ("intake", T0 + DAY, {"intake": T0}, ["intake"]),
    ("intake", T0 - DAY, {"intake": T0}, []),                             # held before the clock started
    ("intake", T0 + DAY, {"onboarding": T0}, []),                         # answers its own kind only
    ("onboarding", T0 + DAY, {"intake": T0, "onboarding": T0}, ["onboarding"]),
    ("periodic", T0 + DAY, {"periodic": T0}, []),                         # periodic restarts, never closes
    ("periodic", T0 + 61 * DAY, {"quiet": T0}, ["quiet"]),                # any kind, once they had gone quiet
    ("intake", T0 + 10 * DAY, {"intake": T0, "quiet": T0}, ["intake"]),  # not quiet yet
    ("intake", T0 + 60 * DAY, {"intake": T0, "quiet": T0}, ["intake", "quiet"]),
])
def test_which_running_clocks_a_check_in_closes(kind, held, running, closed):
    assert domain.clocks_closed_by(kind, held, running, RULES) == closed


@pytest.mark.parametrize(("kind", "active", "followed"), [
    ("intake", False, True), ("onboarding", False, True), ("quiet", False, False), ("periodic", False, False),
    ("quiet", True, True), ("periodic", None, True),
])
def test_an_inactive_volunteer_gets_no_quiet_or_periodic_follow_ups(kind, active, followed):
    assert domain.followed_up(kind, active) is followed


@pytest.mark.parametrize(("known", "reported", "kept"), [
    (None, T0, T0), (T0, T0 + DAY, T0), (T0 + DAY, T0, T0),
])
def test_the_earliest_registration_counts(known, reported, kept):
    assert domain.earliest_registration(known, reported) == kept


@pytest.mark.parametrize(("latest_checkin", "start"), [(None, T0), (T0 - DAY, T0), (T0 + DAY, T0 + DAY)])
def test_the_periodic_clock_starts_at_the_registration_or_a_later_check_in(latest_checkin, start):
    assert domain.periodic_start_at_registration(T0, latest_checkin) == start


@pytest.mark.parametrize(("last_shift", "start"), [
    (None, (T0, "registration")), (T0 - DAY, (T0, "registration")), (T0 + DAY, (T0 + DAY, "last shift")),
])
def test_the_quiet_clock_starts_at_the_registration_or_a_later_shift(last_shift, start):
    assert domain.quiet_start_at_registration(T0, last_shift) == start


@pytest.mark.parametrize(("title", "application", "subject"), [
    ("Technisch tekenen", "a-1", "offer of help for 'Technisch tekenen'"),
    (None, "a-17", "offer of help (application a-17)"),
    ("x" * 400, "a-1", ("offer of help for '" + "x" * 400)[:300]),
])
def test_what_started_an_intake_on_an_offer_of_help_reads_back(title, application, subject):
    assert domain.offer_subject(title, application) == subject
    assert domain.origin("intake", subject)[0] == "offer-of-help"


@pytest.mark.parametrize(("applied", "update", "stale"), [
    (None, T0, False), (T0, T0 + DAY, False), (T0, T0, False), (T0 + DAY, T0, True),
])
def test_an_older_update_delivered_late_is_stale(applied, update, stale):
    assert domain.update_is_stale(applied, update) is stale


def test_an_overdue_event_id_follows_from_its_key_in_any_time_zone():
    amsterdam = T0.astimezone(ZoneInfo("Europe/Amsterdam"))
    assert domain.overdue_event_id("v1", "intake", T0, "reminder") == \
        domain.overdue_event_id("v1", "intake", amsterdam, "reminder")
    assert len({domain.overdue_event_id("v1", "intake", T0, rung) for rung in domain.LADDER}) == 2


@pytest.mark.parametrize(("now", "erased", "raise_it"), [
    (Clock(T0), False, True),  # nothing happened since the sweep looked
    (Clock(T0, closed_at=T0 + DAY), False, False),  # a check-in answered it meanwhile
    (Clock(T0 + DAY), False, False),  # started again (a later offer of help): another clock
    (None, False, False),  # gone
    (Clock(T0), True, False),  # erased meanwhile: nothing more about them
])
def test_a_rung_is_raised_only_if_still_overdue_once_the_volunteer_is_locked(now, erased, raise_it):
    assert domain.still_overdue(T0, now, erased) is raise_it
