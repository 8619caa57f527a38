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




def refusal_of(path: Path, text: str) -> str:
    """Why a rules file holding `text` is refused (it must be)."""
    path.write_text(text)
    with pytest.raises(RulesError) as refused:
        load_rules(path)
    return str(refused.value)

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
    refusal = refusal_of(tmp_path / "rules.yaml", text)
    assert message in refusal
    assert str(tmp_path / "rules.yaml") in refusal


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


# -- periods: `per: year` ------------------------------------------------------------

YEARLY_TEXT = """milestones:
  - measure: shifts
    at: [10]
    notify: [milestone-card]
  - measure: shifts
    at: [10, 20]
    per: year
    notify: [milestone-card]
  - measure: hours
    at: [50]
    name: busy-year
    per: year
    notify: [milestone-card]
"""


@pytest.fixture
def yearly(tmp_path: Path):
    path = tmp_path / "rules.yaml"
    path.write_text(YEARLY_TEXT)
    return load_rules(path)


@pytest.mark.parametrize(("year", "shifts_before", "hours_before", "shift_hours", "expected"), [
    (2026, 0, 0.0, 3.0, []),
    (2026, 8, 24.0, 3.0, []),
    (2026, 9, 27.0, 3.0, ["shifts-10-2026"]),  # the 10th shift of the year
    (2027, 9, 27.0, 3.0, ["shifts-10-2027"]),  # and again the next year, under its own name
    (2026, 10, 30.0, 3.0, []),
    (2026, 19, 48.0, 4.0, ["shifts-20-2026", "busy-year-2026"]),  # both measures at once
    (2026, 30, 49.5, 0.5, ["busy-year-2026"]),  # exactly 50 hours
    (2026, 30, 50.0, 8.0, []),
])
def test_yearly_milestones_crossed(yearly, year, shifts_before, hours_before, shift_hours, expected):
    hits = domain.crossed_in_year(yearly, year, shifts_before, hours_before, shift_hours)
    assert [hit.milestone for hit in hits] == expected
    assert all(hit.year == year for hit in hits)


@pytest.mark.parametrize(("before", "after", "expected"), [(9, 10, ["shifts-10"]), (10, 20, [])])
def test_lifetime_thresholds_ignore_the_yearly_rules(yearly, before, after, expected):
    assert [c.milestone for c in domain.crossed(yearly, "shifts", before, after)] == expected


@pytest.mark.parametrize(("moment", "year"), [
    (datetime(2026, 12, 31, 22, 59, tzinfo=timezone.utc), 2026),  # 23:59 in Amsterdam
    (datetime(2026, 12, 31, 23, 0, tzinfo=timezone.utc), 2027),  # midnight in Amsterdam: the new year
    (datetime(2027, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))), 2027),
])
def test_a_shift_counts_in_the_year_it_ended_in_the_organisations_time_zone(moment, year):
    from zoneinfo import ZoneInfo
    tz = ZoneInfo("Europe/Amsterdam")
    assert domain.year_of(moment, tz) == year
    start, end = domain.year_bounds(year, tz)
    assert start <= moment < end


@pytest.mark.parametrize(("milestone", "parts"), [
    ("shifts-10", ("shifts", 10)), ("shifts-10-2026", ("shifts", 10)), ("shifts-20-2031", ("shifts", 20)),
    ("busy-year-2026", ("hours", 50)), ("busy-year", None), ("shifts-20", None),
])
def test_milestone_parts_of_yearly_names(yearly, milestone, parts):
    assert domain.milestone_parts(yearly, milestone) == parts


def test_a_yearly_card_carries_its_period_for_the_template(yearly):
    hit = domain.crossed_in_year(yearly, 2026, 9, 20.0, 2.0)[0]
    engagement = domain.Engagement(40, 90.0, T0, T0, [])
    context = domain.shift_milestone_context(hit, engagement, None)
    assert (context["per"], context["year"], context["measure"], context["threshold"]) == ("year", 2026, "shifts", 10)
    assert {"per", "year"} <= set(domain.TEMPLATE_KEYS)


@pytest.mark.parametrize(("text", "message"), [
    ("milestones:\n  - measure: years\n    at: [5]\n    per: year\n    notify: [service-anniversary]\n",
     "line 2: milestones.0: Value error, `per: year` applies to shifts and hours only"),
    ("milestones:\n  - measure: shifts\n    at: [10]\n    per: month\n    notify: [milestone-card]\n",
     "line 4: milestones.0.per: Input should be 'year'"),
    ("milestones:\n  - measure: shifts\n    at: [10]\n    per: year\n    name: busy\n    notify: [milestone-card]\n"
     "  - measure: hours\n    at: [1]\n    name: busy-2026\n    notify: [milestone-card]\n",
     "milestone 'busy-2026' reads like 'busy' per year in 2026; rename one"),
])
def test_bad_periods_are_refused_naming_the_line(tmp_path: Path, text, message):
    assert message in refusal_of(tmp_path / "rules.yaml", text)


# -- re-evaluating a volunteer under changed rules ---------------------------------------

AMS = __import__("zoneinfo").ZoneInfo("Europe/Amsterdam")


def shifts_ending(*ends: datetime, hours: float = 3.0) -> list[tuple[datetime, datetime]]:
    return [(end - timedelta(hours=hours), end) for end in ends]


TWELVE = shifts_ending(*(datetime(2026, month, 15, 12, tzinfo=timezone.utc) for month in range(1, 13)))


@pytest.mark.parametrize(("extra_rule", "shifts", "expected"), [
    # a new threshold below the count: passed at the end of the shift that passed it
    ("  - measure: shifts\n    at: [11]\n    notify: [milestone-card]\n", TWELVE,
     {"shifts-11": datetime(2026, 11, 15, 12, tzinfo=timezone.utc)}),
    ("  - measure: shifts\n    at: [13]\n    notify: [milestone-card]\n", TWELVE, {}),  # not reached
    ("  - measure: hours\n    at: [30]\n    notify: [milestone-card]\n", TWELVE,  # 3 h each: the 10th shift
     {"hours-30": datetime(2026, 10, 15, 12, tzinfo=timezone.utc)}),
    ("  - measure: shifts\n    at: [5]\n    per: year\n    notify: [milestone-card]\n",
     TWELVE + shifts_ending(*(datetime(2027, 1, d, 12, tzinfo=timezone.utc) for d in (1, 2, 3, 4))),
     {"shifts-5-2026": datetime(2026, 5, 15, 12, tzinfo=timezone.utc)}),  # 2027 has only four
    ("  - measure: shifts\n    at: [11]\n    notify: [milestone-card]\n", list(reversed(TWELVE)),  # any order
     {"shifts-11": datetime(2026, 11, 15, 12, tzinfo=timezone.utc)}),
])
def test_passed_milestones(tmp_path: Path, extra_rule, shifts, expected):
    path = tmp_path / "rules.yaml"
    path.write_text("milestones:\n  - measure: shifts\n    at: [1, 10]\n    notify: [milestone-card]\n" + extra_rule)
    passed = domain.passed_milestones(load_rules(path), shifts, None, date(2027, 6, 1), AMS)
    new = domain.new_milestones(passed, {"shifts-1", "shifts-10"})  # the ledger before the change
    assert {p.milestone: p.happened_at for p in new} == expected


def test_passed_anniversaries_fall_on_their_day():
    passed = domain.passed_milestones(RULES, [], date(2020, 3, 1), date(2026, 2, 28), AMS)
    assert [(p.milestone, p.happened_at.date()) for p in passed] == [("years-1", date(2021, 3, 1)),
                                                                     ("years-5", date(2025, 3, 1))]


@pytest.mark.parametrize(("age", "bucket"), [(timedelta(days=3), "celebrated"), (timedelta(days=14), "celebrated"),
                                             (timedelta(days=15), "silent"), (timedelta(days=900), "silent")])
def test_what_a_change_would_do_depends_on_the_grace_window(age, bucket):
    passed = domain.Passed("shifts-11", RULES.milestones[0], 11, T0, {})
    effect = domain.RulesEffect()
    effect.add([passed, passed], T0 + age, timedelta(days=14))
    assert getattr(effect, bucket) == {"shifts-11": 2}
    assert getattr(effect, "silent" if bucket == "celebrated" else "celebrated") == {}


def test_the_digest_changes_with_milestones_not_with_comments_alerts_or_deadlines(tmp_path: Path):
    base = "grace_days: 14\nmilestones:\n  - measure: shifts\n    at: [10]\n    notify: [milestone-card]\n"
    variants = {"same": base, "comment": "# hello\n" + base,
                "alerts": base + "alerts:\n  missed_shifts_in_a_row: 3\n",
                "deadlines": base + "followups:\n  quiet_after_days: 30\n",
                "threshold": base.replace("[10]", "[10, 11]"), "grace": base.replace("14", "7")}
    digests = {}
    for name, text in variants.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        digests[name] = domain.rules_digest(load_rules(path))
    assert digests["same"] == digests["comment"] == digests["alerts"] == digests["deadlines"]
    assert len({digests["same"], digests["threshold"], digests["grace"]}) == 3
