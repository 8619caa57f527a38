"""Table-driven tests of registration's pure rules: availability, matching, flyer."""

from datetime import date, datetime, timezone

import pytest
from pydantic import TypeAdapter, ValidationError

from services.registration import domain, flyer
from services.registration.api import OpportunityIn, VolunteerPatch
from services.registration.domain import Availability, Monthly, OnCall, OneOff, Weekly

SLOT = TypeAdapter(domain.Slot)

FIRST_THURSDAY_AFTERNOON = Monthly(week="first", weekday="thursday", parts_of_day=["afternoon"])
THURSDAYS = Weekly(weekdays=["thursday"])
TUESDAY_THURSDAY_MORNINGS = Weekly(weekdays=["tuesday", "thursday"], parts_of_day=["morning"])


@pytest.mark.parametrize(("raw", "slot"), [
    ({"kind": "weekly", "weekdays": ["monday"]}, Weekly(weekdays=["monday"])),
    ({"kind": "monthly", "week": "last", "weekday": "sunday", "parts_of_day": ["evening"]},
     Monthly(week="last", weekday="sunday", parts_of_day=["evening"])),
    ({"kind": "on-call"}, OnCall()),
    ({"kind": "one-off", "on": "2026-12-05"}, OneOff(on=date(2026, 12, 5))),
])
def test_availability_vocabulary_is_a_union_chosen_by_kind(raw, slot):
    assert SLOT.validate_python(raw) == slot


@pytest.mark.parametrize(("raw", "wrong_field"), [
    ({"kind": "weekly", "weekdays": []}, "weekdays"),
    ({"kind": "weekly", "weekdays": ["funday"]}, "weekdays"),
    ({"kind": "monthly", "week": "fifth", "weekday": "monday"}, "week"),
    ({"kind": "one-off", "on": "someday"}, "on"),
    ({"kind": "weekly", "weekdays": ["monday"], "parts_of_day": ["night"]}, "parts_of_day"),
    ({"kind": "sometimes"}, None),
])
def test_bad_availability_names_the_field(raw, wrong_field):
    with pytest.raises(ValidationError) as error:
        SLOT.validate_python(raw)
    locations = [problem["loc"] for problem in error.value.errors()]
    if wrong_field is None:  # unknown kind: the discriminator itself is wrong
        assert locations == [()]
    else:
        assert all(wrong_field in location for location in locations), locations


@pytest.mark.parametrize(("day", "weeks"), [
    (date(2026, 12, 3), {"first"}),                # first Thursday of December 2026
    (date(2026, 12, 10), {"second"}),
    (date(2026, 12, 24), {"fourth"}),
    (date(2026, 12, 28), {"fourth", "last"}),      # 28 + 7 > 31
    (date(2026, 12, 31), {"last"}),                # the fifth Thursday: only "last"
    (date(2026, 2, 22), {"fourth", "last"}),       # February 2026 has 28 days
])
def test_week_of_month(day, weeks):
    assert domain.week_of_month(day) == weeks


@pytest.mark.parametrize(("available", "needed", "fit"), [
    # the same monthly slot; parts of day narrow to what both can do
    (FIRST_THURSDAY_AFTERNOON, Monthly(week="first", weekday="thursday"), FIRST_THURSDAY_AFTERNOON),
    (FIRST_THURSDAY_AFTERNOON, Monthly(week="first", weekday="thursday", parts_of_day=["morning"]), None),
    (FIRST_THURSDAY_AFTERNOON, Monthly(week="second", weekday="thursday"), None),
    (FIRST_THURSDAY_AFTERNOON, Monthly(week="first", weekday="friday"), None),
    # once a month cannot cover every week; every week covers once a month
    (FIRST_THURSDAY_AFTERNOON, THURSDAYS, None),
    (THURSDAYS, FIRST_THURSDAY_AFTERNOON, FIRST_THURSDAY_AFTERNOON),
    # weekly: the common weekdays
    (TUESDAY_THURSDAY_MORNINGS, Weekly(weekdays=["thursday", "friday"]),
     Weekly(weekdays=["thursday"], parts_of_day=["morning"])),
    (TUESDAY_THURSDAY_MORNINGS, Weekly(weekdays=["monday"]), None),
    (Weekly(weekdays=["monday"], parts_of_day=["morning", "evening"]),
     Weekly(weekdays=["monday"], parts_of_day=["afternoon", "evening"]),
     Weekly(weekdays=["monday"], parts_of_day=["evening"])),
    # one-off dates: 2026-12-03 is the first Thursday of December
    (FIRST_THURSDAY_AFTERNOON, OneOff(on=date(2026, 12, 3)), OneOff(on=date(2026, 12, 3), parts_of_day=["afternoon"])),
    (FIRST_THURSDAY_AFTERNOON, OneOff(on=date(2026, 12, 10)), None),
    (THURSDAYS, OneOff(on=date(2026, 12, 10)), OneOff(on=date(2026, 12, 10))),
    (OneOff(on=date(2026, 12, 10)), OneOff(on=date(2026, 12, 10)), OneOff(on=date(2026, 12, 10))),
    (OneOff(on=date(2026, 12, 10)), OneOff(on=date(2026, 12, 11)), None),
    (OneOff(on=date(2026, 12, 10)), THURSDAYS, None),
    # on call only meets on call
    (OnCall(), OnCall(), OnCall()),
    (OnCall(), THURSDAYS, None),
    (THURSDAYS, OnCall(), None),
])
def test_slot_fit(available, needed, fit):
    assert domain.slot_fit(available, needed) == fit


@pytest.mark.parametrize(("slot", "language", "text"), [
    (FIRST_THURSDAY_AFTERNOON, "en", "first Thursday of the month, afternoon"),
    (FIRST_THURSDAY_AFTERNOON, "nl", "eerste donderdag van de maand, middag"),
    (TUESDAY_THURSDAY_MORNINGS, "en", "every Tuesday and Thursday, morning"),
    (Weekly(weekdays=["monday", "wednesday", "friday"], parts_of_day=["morning", "afternoon"]), "nl",
     "elke maandag, woensdag en vrijdag, ochtend of middag"),
    (OneOff(on=date(2026, 12, 5), parts_of_day=["evening"]), "nl", "op 5 december 2026, avond"),
    (OneOff(on=date(2026, 12, 5)), "en", "on 5 December 2026"),
    (OnCall(), "nl", "op afroep"),
])
def test_slots_read_as_people_say_them(slot, language, text):
    assert domain.describe_slot(slot, language) == text


@pytest.mark.parametrize(("minutes", "language", "text"), [
    (150, "nl", "2 uur en 30 minuten"), (60, "nl", "1 uur"), (45, "nl", "45 minuten"),
    (150, "en", "2 hours 30 minutes"), (61, "en", "1 hour 1 minute"),
])
def test_durations(minutes, language, text):
    assert domain.describe_duration(minutes, language) == text


def volunteer(*, interests=(), skills=(), slots=None, max_hours=None, language="en"):
    availability = None if slots is None and max_hours is None else Availability(
        slots=slots or [], max_hours_per_month=max_hours)
    return domain.VolunteerProfile(interests=list(interests), skills=list(skills), availability=availability,
                                   language=language)


def opportunity(*, interests=(), skills=(), when=(), minutes=120):
    return domain.OpportunityProfile(interests=list(interests), skills=list(skills), when=list(when),
                                     minutes_per_occurrence=minutes)


DRAWING_FIRST_THURSDAY = opportunity(skills=["Technical drawing", "patience"], interests=["heritage"],
                                     when=[Monthly(week="first", weekday="thursday")])


@pytest.mark.parametrize(("who", "what", "score", "reasons"), [
    # the single mother who can only come on the first Thursday afternoon
    (volunteer(skills=["technical drawing"], slots=[FIRST_THURSDAY_AFTERNOON]), DRAWING_FIRST_THURSDAY,
     domain.SKILL_POINTS + domain.AVAILABILITY_POINTS,
     ("uses your skill: technical drawing", "fits: first Thursday of the month, afternoon")),
    # the same person in Dutch
    (volunteer(skills=["technical drawing"], slots=[FIRST_THURSDAY_AFTERNOON], language="nl"),
     DRAWING_FIRST_THURSDAY, domain.SKILL_POINTS + domain.AVAILABILITY_POINTS,
     ("gebruikt je vaardigheid: technical drawing", "past: eerste donderdag van de maand, middag")),
    # every skill and interest in common counts, case ignored, in the volunteer's words
    (volunteer(skills=["Patience", "technical drawing"], interests=["Heritage", "birds"]), DRAWING_FIRST_THURSDAY,
     2 * domain.SKILL_POINTS + domain.INTEREST_POINTS,
     ("uses your skill: Patience", "uses your skill: technical drawing", "matches your interest: Heritage")),
    # a perfect fit on skills, but the times cannot be made: no match at all
    (volunteer(skills=["technical drawing"], slots=[Weekly(weekdays=["saturday"])]), DRAWING_FIRST_THURSDAY, 0, ()),
    # fits in time but needs more hours a month than the volunteer has (4 × 2 h > 6 h)
    (volunteer(skills=["technical drawing"], slots=[THURSDAYS], max_hours=6),
     opportunity(skills=["technical drawing"], when=[THURSDAYS], minutes=120), 0, ()),
    (volunteer(skills=["technical drawing"], slots=[THURSDAYS], max_hours=8),
     opportunity(skills=["technical drawing"], when=[THURSDAYS], minutes=120),
     domain.SKILL_POINTS + domain.AVAILABILITY_POINTS,
     ("uses your skill: technical drawing", "fits: every Thursday", "within your maximum of 8 hours a month")),
    # only a maximum of hours and no slots: hours are checked, time adds no points
    (volunteer(interests=["heritage"], max_hours=1), DRAWING_FIRST_THURSDAY, 0, ()),
    (volunteer(interests=["heritage"], max_hours=2), DRAWING_FIRST_THURSDAY, domain.INTEREST_POINTS,
     ("matches your interest: heritage", "within your maximum of 2 hours a month")),
    # nothing said about time on either side: time neither adds nor excludes
    (volunteer(interests=["heritage"]), DRAWING_FIRST_THURSDAY, domain.INTEREST_POINTS,
     ("matches your interest: heritage",)),
    (volunteer(interests=["heritage"], slots=[OnCall()]), opportunity(interests=["heritage"]),
     domain.INTEREST_POINTS, ("matches your interest: heritage",)),
    # fitting time alone is a match (for the list), but nothing in common is not
    (volunteer(slots=[OnCall()]), opportunity(when=[OnCall()]), domain.AVAILABILITY_POINTS, ("fits: on call",)),
    (volunteer(skills=["cooking"], interests=["sport"]), DRAWING_FIRST_THURSDAY, 0, ()),
])
def test_match_scores_and_says_why(who, what, score, reasons):
    assert domain.match(who, what) == domain.Match(score, reasons)


@pytest.mark.parametrize(("score", "offered"), [
    (0, False), (domain.AVAILABILITY_POINTS, False), (domain.INTEREST_POINTS, False),
    (domain.SKILL_POINTS + domain.INTEREST_POINTS, True), (domain.SKILL_POINTS + domain.AVAILABILITY_POINTS, True),
])
def test_only_a_good_fit_is_worth_an_offer_mail(score, offered):
    assert domain.Match(score, ()).worth_offering is offered


@pytest.mark.parametrize(("schedule", "when", "times"), [
    ("on-call", [], [OnCall()]),
    ("recurring", [], []),
    ("recurring", [THURSDAYS], [THURSDAYS]),
])
def test_an_on_call_opportunity_without_times_is_on_call(schedule, when, times):
    assert domain.opportunity_times(schedule, when) == times


@pytest.mark.parametrize(("labels", "cleaned"), [
    (["  Technical   drawing ", "technical drawing", "Cooking"], ["Technical drawing", "Cooking"]),
    (["a\r\nb"], ["a b"]),
    ([], []),
])
def test_labels_are_cleaned_and_deduplicated(labels, cleaned):
    assert domain.clean_labels(labels) == cleaned


@pytest.mark.parametrize(("accept", "html"), [
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),  # a browser
    ("text/html", True),
    ("application/json", False),
    ("*/*", False),
    (None, False),
    ("application/json, text/html;q=0.5", False),
    ("text/html, application/json;q=0.5", True),
    ("text/html;q=bogus", False),
])
def test_html_only_for_clients_that_prefer_it(accept, html):
    assert flyer.prefers_html(accept) is html


OPPORTUNITY = dict(title="Hospice <script>alert(1)</script>", tasks=["Listen & read aloud"],
                   minutes_per_occurrence=180, schedule="recurring",
                   when=[{"kind": "weekly", "weekdays": ["wednesday"], "parts_of_day": ["evening"]}],
                   guidance="A nurse <b>always</b> present", onboarding_minutes=240,
                   contact={"name": "Joke", "email": "joke@example.org"})


def test_the_flyer_escapes_everything_and_reads_in_dutch():
    published = OpportunityIn(**OPPORTUNITY)
    row = published.model_dump(mode="json", exclude={"contact", "open"}) | dict(
        opportunity_id="o1", contact_name="Joke <i>", contact_email="joke@example.org", is_open=True,
        published_at=datetime(2026, 11, 27, tzinfo=timezone.utc))
    page = flyer.render_flyer(row)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page
    assert "A nurse &lt;b&gt;always&lt;/b&gt; present" in page
    assert "Listen &amp; read aloud" in page and "Joke &lt;i&gt;" in page
    assert "Inwerktijd: <strong>4 uur</strong>" in page
    assert "elke woensdag, avond" in page and "3 uur" in page


@pytest.mark.parametrize(("schedule", "when", "ok"), [
    ("one-off", [{"kind": "one-off", "on": "2026-12-05"}], True),
    ("one-off", [{"kind": "weekly", "weekdays": ["monday"]}], False),
    ("recurring", [{"kind": "on-call"}], False),
    ("on-call", [], True),
    ("short-project", [{"kind": "weekly", "weekdays": ["monday"]}, {"kind": "one-off", "on": "2026-12-05"}], True),
])
def test_when_must_suit_the_schedule(schedule, when, ok):
    raw = OPPORTUNITY | {"schedule": schedule, "when": when}
    if ok:
        OpportunityIn(**raw)
    else:
        with pytest.raises(ValidationError) as error:
            OpportunityIn(**raw)
        assert [problem["loc"] for problem in error.value.errors()] == [("when",)]


@pytest.mark.parametrize("patch", [{"name": None}, {"email": None}, {"interests": None}, {"nickname": "x"}])
def test_a_patch_cannot_blank_required_fields_or_invent_new_ones(patch):
    with pytest.raises(ValidationError):
        VolunteerPatch(**patch)


def test_a_patch_knows_which_fields_were_sent():
    assert VolunteerPatch(coordinator_email=None, active=False).model_fields_set == {"coordinator_email", "active"}


# --- decisions the routes used to make ----------------------------------------------------

@pytest.mark.parametrize(("schedule", "kinds", "not_allowed"), [
    ("one-off", ["one-off"], []),
    ("one-off", ["weekly", "one-off", "monthly"], ["monthly", "weekly"]),
    ("recurring", ["weekly", "monthly"], []),
    ("recurring", ["on-call", "one-off"], ["on-call", "one-off"]),
    ("on-call", ["on-call"], []),
    ("on-call", ["weekly"], ["weekly"]),
    ("short-project", ["weekly", "monthly", "one-off"], []),
    ("short-project", ["on-call"], ["on-call"]),
    ("recurring", [], []),
])
def test_which_slot_kinds_a_schedule_allows(schedule, kinds, not_allowed):
    assert domain.slot_kinds_not_allowed(schedule, kinds) == not_allowed


def _fit(score: int) -> domain.Match:
    return domain.Match(score, ("reason",)) if score else domain.NO_MATCH


@pytest.mark.parametrize(("found", "ranked"), [
    ([], []),
    ([(0, "Zorg", "a")], []),                                      # no fit at all: not listed
    ([(2, "b-title", "b"), (7, "a-title", "a")], ["a", "b"]),      # best first
    ([(4, "beta", "b"), (4, "Alpha", "a"), (4, "gamma", "g")], ["a", "b", "g"]),  # ties by title, any case
    ([(3, "x", "x"), (0, "y", "y"), (5, "z", "z")], ["z", "x"]),
])
def test_matches_are_ranked_best_first_then_by_title(found, ranked):
    result = domain.rank_matches([(_fit(score), title, item) for score, title, item in found])
    assert [item for _, item in result] == ranked


@pytest.mark.parametrize(("open_", "applied_before", "refusal"), [
    (True, False, None),
    (False, False, "the opportunity is closed"),
    (False, True, "the opportunity is closed"),
    (True, True, "the volunteer already offered help for this opportunity"),
])
def test_which_offers_of_help_are_refused(open_, applied_before, refusal):
    assert domain.refuse_application(open_, applied_before) == refusal


@pytest.mark.parametrize(("contact", "coordinator", "address"), [
    ("ingrid@example.org", "desk@example.org", "ingrid@example.org"),
    (None, "desk@example.org", "desk@example.org"),
    (None, None, None),
])
def test_who_follows_up_an_offer_of_help(contact, coordinator, address):
    assert domain.follow_up_address(contact, coordinator) == address


CURRENT = {"name": "Fatima", "email": "f@example.org", "coordinator_email": "desk@example.org",
           "skills": ["sewing"], "active": True, "shift_reminder_consent": True, "appreciation_mail_consent": True}


@pytest.mark.parametrize(("sent", "changed", "published"), [
    ({}, {}, {}),
    ({"email": "f@example.org"}, {}, {}),                                  # same value: no change
    ({"email": "new@example.org"}, {"email": "new@example.org"}, {"email": "new@example.org"}),
    ({"skills": ["drawing"]}, {"skills": ["drawing"]}, {}),                # registration's own field
    ({"coordinator_email": None}, {"coordinator_email": None}, {}),        # cleared: not published
    ({"active": False, "skills": ["sewing"], "name": "Fatima E."},
     {"active": False, "name": "Fatima E."}, {"active": False, "name": "Fatima E."}),
    ({"shift_reminder_consent": False}, {"shift_reminder_consent": False},  # its own consent, published
     {"shift_reminder_consent": False}),
    # a consent sent is heard even unchanged: turns reminders on again in appreciation
    # after the volunteer's "no more shift reminders" there
    ({"shift_reminder_consent": True}, {}, {"shift_reminder_consent": True}),
    ({"appreciation_mail_consent": True, "skills": ["sewing"]}, {}, {"appreciation_mail_consent": True}),
])
def test_what_a_change_changes_and_what_other_services_hear(sent, changed, published):
    assert domain.changed_fields(CURRENT, sent) == changed
    assert domain.published_changes(changed, sent) == published


T = datetime(2026, 6, 1, 10, tzinfo=timezone.utc)
LATER = datetime(2026, 7, 1, 10, tzinfo=timezone.utc)


@pytest.mark.parametrize(("registered_at", "erased_at", "predates"), [
    (T, None, False),
    (T, LATER, True),
    (LATER, LATER, True),
    (LATER, T, False),  # registered again after the erasure
])
def test_a_registration_older_than_the_erasure_is_ignored(registered_at, erased_at, predates):
    assert domain.registration_predates_erasure(registered_at, erased_at) is predates


@pytest.mark.parametrize(("erased_at", "requested_at", "kept"), [
    (None, T, T), (T, LATER, LATER), (LATER, T, LATER), (T, T, T),
])
def test_the_latest_erasure_request_is_kept(erased_at, requested_at, kept):
    assert domain.later_erasure(erased_at, requested_at) == kept
