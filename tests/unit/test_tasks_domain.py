"""Table-driven tests of the shift lifecycle."""

from datetime import datetime, timedelta, timezone

import pytest

from services.tasks import domain

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)

ALLOWED = [
    (None, "schedule", "scheduled"),
    (None, "report-completed", "completed"),
    ("assigned", "unassign", "scheduled"),
    ("assigned", "decline", "scheduled"),
    ("scheduled", "assign", "assigned"),
    ("assigned", "assign", "assigned"),
    ("scheduled", "cancel", "cancelled"),
    ("assigned", "cancel", "cancelled"),
    ("assigned", "complete", "completed"),
    ("assigned", "miss", "missed"),
    ("scheduled", "report-completed", "completed"),
    ("assigned", "report-completed", "completed"),
    ("missed", "report-completed", "completed"),
    ("cancelled", "report-completed", "completed"),
]

REFUSED = [
    (None, "assign", "no such shift"),
    (None, "unassign", "no such shift"),
    (None, "complete", "no such shift"),
    (None, "miss", "no such shift"),
    (None, "cancel", "no such shift"),
    ("scheduled", "schedule", "a shift with this id exists"),
    ("assigned", "schedule", "a shift with this id exists"),
    ("completed", "schedule", "a shift with this id exists"),
    ("missed", "schedule", "a shift with this id exists"),
    ("cancelled", "schedule", "a shift with this id exists"),
    ("scheduled", "unassign", "nobody is assigned"),
    ("completed", "unassign", "already completed"),
    ("missed", "unassign", "already marked missed"),
    ("cancelled", "unassign", "cancelled"),
    (None, "decline", "no such shift"),
    ("scheduled", "decline", "nobody is assigned"),
    ("completed", "decline", "already completed"),
    ("missed", "decline", "already marked missed"),
    ("cancelled", "decline", "cancelled"),
    ("scheduled", "complete", "nobody is assigned"),
    ("scheduled", "miss", "nobody is assigned"),
    ("completed", "assign", "already completed"),
    ("completed", "complete", "already completed"),
    ("completed", "miss", "already completed"),
    ("completed", "cancel", "already completed"),
    ("completed", "report-completed", "already completed"),
    ("missed", "assign", "already marked missed"),
    ("missed", "complete", "already marked missed"),
    ("missed", "miss", "already marked missed"),
    ("missed", "cancel", "already marked missed"),
    ("cancelled", "assign", "cancelled"),
    ("cancelled", "complete", "cancelled"),
    ("cancelled", "miss", "cancelled"),
    ("cancelled", "cancel", "cancelled"),
]


@pytest.mark.parametrize(("status", "action", "after"), ALLOWED)
def test_allowed_transitions(status, action, after):
    assert domain.transition(status, action) == after


@pytest.mark.parametrize(("status", "action", "reason"), REFUSED)
def test_refused_transitions_say_why(status, action, reason):
    with pytest.raises(domain.InvalidTransition, match=reason):
        domain.transition(status, action)


def test_every_status_and_action_is_either_allowed_or_refused():
    statuses = [None, "scheduled", "assigned", "completed", "missed", "cancelled"]
    actions = ["schedule", "assign", "unassign", "decline", "complete", "miss", "cancel", "report-completed"]
    covered = {(s, a) for s, a, _ in ALLOWED} | {(s, a) for s, a, _ in REFUSED}
    assert covered == {(s, a) for s in statuses for a in actions}


@pytest.mark.parametrize(("assigned", "status"), [(False, "scheduled"), (True, "assigned")])
def test_a_new_shift_is_scheduled_and_assigned_when_someone_is_named(assigned, status):
    assert domain.scheduled_status(assigned) == status


@pytest.mark.parametrize(("previous", "volunteer", "expected"), [
    (None, "ans", domain.AssignmentChange(None, None, True)),              # first assignment: a reminder planned
    ("ans", "ans", domain.AssignmentChange(None, None, False)),            # the same again: nothing new
    ("ans", "piet", domain.AssignmentChange("ans", "reassigned", True)),   # Ans released, Piet reminded
])
def test_what_an_assignment_tells_others(previous, volunteer, expected):
    assert domain.assignment_change(previous, volunteer) == expected


@pytest.mark.parametrize(("status", "assigned_to", "applies"), [
    ("assigned", "ans", True),
    ("assigned", "piet", False),     # given to someone else since the reminder
    ("scheduled", None, False),      # declined before (a repeated click) or released
    ("cancelled", "ans", False),
    ("completed", "ans", False),
    ("missed", "ans", False),
])
def test_a_decline_applies_only_while_the_volunteer_is_on_the_shift(status, assigned_to, applies):
    assert domain.decline_applies(status, assigned_to, "ans") is applies


@pytest.mark.parametrize(("completed", "missed", "expected"), [
    ([], 0, domain.ShiftSummary(0, 0.0, None, None, 0)),
    ([], 2, domain.ShiftSummary(0, 0.0, None, None, 2)),
    ([(T0, T0 + timedelta(hours=3))], 1, domain.ShiftSummary(1, 3.0, T0, T0, 1)),
    ([(T0 + timedelta(days=7), T0 + timedelta(days=7, hours=1)), (T0, T0 + timedelta(minutes=20))], 0,
     domain.ShiftSummary(2, 1.33, T0, T0 + timedelta(days=7), 0)),
])
def test_summary_of_a_volunteers_shifts(completed, missed, expected):
    assert domain.summarise(completed, missed) == expected
