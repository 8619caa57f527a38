"""The rules file and the pure appreciation rules, table by table."""

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from services.appreciation import domain
from services.appreciation.rules import DEFAULT_RULES_FILE, RulesError, load_rules

RULES = load_rules()
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)


def test_the_shipped_rules_file_is_valid_and_documented():
    assert DEFAULT_RULES_FILE.read_text().startswith("# dankjewel appreciation rules")
    names = {rule.milestone(n) for rule in RULES.milestones for n in rule.at}
    assert {"first-shift", "shifts-10", "shifts-100", "hours-50", "hours-500", "years-1", "years-5", "years-25"} <= names
    assert RULES.grace_days == 14 and RULES.alerts.missed_shifts_in_a_row == 2


@pytest.mark.parametrize(("text", "message"), [
    ("milestones:\n  - measure: shifts\n    at: [1]\n    notify: [milestone-card]\n  - measure: weeks\n"
     "    at: [1]\n    notify: [milestone-card]\n",
     "line 5: milestones.1.measure: Input should be 'shifts', 'hours' or 'years'"),
    ("milestones:\n  - measure: shifts\n    at: [10, 5]\n    notify: [milestone-card]\n",
     "line 3: milestones.0.at: Value error, thresholds must be positive, ascending and distinct"),
    ("milestones:\n  - measure: shifts\n    at: [1]\n    notify: [card]\n",
     "line 4: milestones.0.notify.0: Input should be"),
    ("grace_days: 14\nmilestones:\n  - measure: hours\n    at: [1]\n    notify: [milestone-card]\n"
     "    colour: red\n", "line 6: milestones.0.colour: Extra inputs are not permitted"),
    ("milestones: [\n", "line 2: not valid YAML"),
    ("grace_days: -1\nmilestones: []\n", "line 1: grace_days: Input should be greater than or equal to 0"),
    ("milestones:\n  - measure: shifts\n    at: [1]\n    notify: [milestone-card]\n  - measure: shifts\n"
     "    at: [1]\n    notify: [milestone-card]\n", "milestone 'shifts-1' is defined twice"),
    ("- just a list\n", "expected a mapping"),
    ("milestones:\n  - measure: shifts\n    at: [100]\n    name: century\n    notify: [service-anniversary]\n",
     "line 2: milestones.0: Value error, service-anniversary and lunch-invitation apply to years of service only"),
])
def test_an_invalid_rules_file_is_refused_naming_the_line(tmp_path: Path, text, message):
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    with pytest.raises(RulesError) as refused:
        load_rules(path)
    assert message in str(refused.value)
    assert str(path) in str(refused.value)


@pytest.mark.parametrize(("measure", "before", "after", "expected"), [
    ("shifts", 0, 1, ["first-shift"]),
    ("shifts", 1, 2, []),
    ("shifts", 9, 10, ["shifts-10"]),
    ("shifts", 24, 25, ["shifts-25"]),
    ("hours", 48.5, 52.0, ["hours-50"]),
    ("hours", 49.0, 101.0, ["hours-50", "hours-100"]),  # one long import: both are crossed
    ("hours", 50.0, 60.0, []),
])
def test_milestones_crossed(measure, before, after, expected):
    assert [c.milestone for c in domain.crossed(RULES, measure, before, after)] == expected


@pytest.mark.parametrize(("age", "celebrate"), [
    (timedelta(0), True), (timedelta(days=14), True), (timedelta(days=14, seconds=1), False),
    (timedelta(days=3 * 365), False),
])
def test_grace_window(age, celebrate):
    assert domain.should_celebrate(T0, T0 + age, timedelta(days=14)) is celebrate


@pytest.mark.parametrize(("started", "years", "expected"), [
    (date(2021, 12, 4), 5, date(2026, 12, 4)),
    (date(2020, 2, 29), 1, date(2021, 2, 28)),
    (date(2020, 2, 29), 4, date(2024, 2, 29)),
])
def test_anniversary_dates(started, years, expected):
    assert domain.anniversary(started, years) == expected


@pytest.mark.parametrize(("today", "reached", "reminded"), [
    (date(2026, 11, 26), ["years-1"], []),
    (date(2026, 11, 27), ["years-1"], ["years-5"]),  # 7 days ahead of 4 December
    (date(2026, 12, 3), ["years-1"], ["years-5"]),
    (date(2026, 12, 4), ["years-1", "years-5"], []),
    (date(2022, 12, 3), [], []),
])
def test_anniversaries_and_reminders_due(today, reached, reminded):
    got_reached, got_reminded = domain.due_on(RULES, date(2021, 12, 4), today)
    assert [a.milestone for a in got_reached] == reached
    assert [a.milestone for a in got_reminded] == reminded


@pytest.mark.parametrize(("after", "expected"), [
    (date(2021, 12, 4), date(2022, 12, 4)),
    (date(2022, 12, 4), date(2026, 11, 27)),  # the reminder for years-5
    (date(2026, 11, 27), date(2026, 12, 4)),
    (date(2046, 12, 4), None),
])
def test_next_day_a_sweep_has_work(after, expected):
    assert domain.next_relevant_date(RULES, date(2021, 12, 4), after) == expected


@pytest.mark.parametrize(("missed", "alert"), [(1, False), (2, True), (3, False)])
def test_missed_shifts_alert_once_at_the_threshold(missed, alert):
    assert domain.missed_in_a_row_alert(RULES, missed) is alert
