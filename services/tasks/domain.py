"""Task-tracking rules as pure functions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Status = Literal["scheduled", "assigned", "completed", "missed", "cancelled"]
Action = Literal["schedule", "assign", "unassign", "decline", "complete", "miss", "cancel", "report-completed"]
# The "status" of a shift id not stored yet: creating a shift is a transition too.
NEW = None

# (status, action) → new status. Anything not listed is refused with a reason.
TRANSITIONS: dict[tuple[Status | None, Action], Status] = {
    (NEW, "schedule"): "scheduled",
    (NEW, "report-completed"): "completed",  # a rostering system's shift never scheduled here
    ("scheduled", "assign"): "assigned",
    ("assigned", "assign"): "assigned",  # someone else takes the shift
    ("scheduled", "cancel"): "cancelled",
    ("assigned", "cancel"): "cancelled",
    ("assigned", "complete"): "completed",
    ("assigned", "miss"): "missed",
    ("assigned", "unassign"): "scheduled",  # the volunteer was erased: open for someone else
    ("assigned", "decline"): "scheduled",  # the volunteer cannot come: open for someone else
    # A rostering system's shifts.completed is a fact about what happened: it wins
    # over our plan, also over a no-show or cancellation recorded here.
    ("scheduled", "report-completed"): "completed",
    ("assigned", "report-completed"): "completed",
    ("missed", "report-completed"): "completed",
    ("cancelled", "report-completed"): "completed",
}

FINAL: dict[Status, str] = {
    "completed": "the shift is already completed",
    "missed": "the shift is already marked missed",
    "cancelled": "the shift is cancelled",
}


class InvalidTransition(Exception):
    """The action does not apply to a shift in this status; the message says why."""


def transition(status: Status | None, action: Action) -> Status:
    """The status after `action` (`status` NEW: no such shift yet), or
    InvalidTransition with the reason."""
    new = TRANSITIONS.get((status, action))
    if new is not None:
        return new
    if status is NEW:
        raise InvalidTransition(f"cannot {action} the shift: there is no such shift")
    if action == "schedule":
        raise InvalidTransition("a shift with this id exists")
    if status in FINAL:
        raise InvalidTransition(f"cannot {action} the shift: {FINAL[status]}")
    # Only completing, missing, unassigning or declining an unassigned shift remains.
    raise InvalidTransition(f"cannot {action} the shift: nobody is assigned to it")


def scheduled_status(assigned: bool) -> Status:
    """A new shift's status: scheduled, and assigned when a volunteer is named at once."""
    status = transition(NEW, "schedule")
    return transition(status, "assign") if assigned else status


ReleaseReason = Literal["cancelled", "reassigned", "declined", "erased"]


@dataclass(frozen=True)
class AssignmentChange:
    """What putting someone on a shift tells others: whom it releases (and why) and
    whether the new volunteer hears of it (`shifts.assigned`)."""

    released: str | None
    reason: ReleaseReason | None
    assigned: bool


def assignment_change(previous: str | None, volunteer_id: str) -> AssignmentChange:
    """Assigning `volunteer_id` to a shift that `previous` (or nobody) was on. The same
    volunteer again changes nothing, so no second reminder is planned."""
    if previous == volunteer_id:
        return AssignmentChange(None, None, False)
    if previous is None:
        return AssignmentChange(None, None, True)
    return AssignmentChange(previous, "reassigned", True)


def decline_applies(status: Status, assigned_to: str | None, volunteer_id: str) -> bool:
    """A volunteer's "I cannot come" takes them off the shift only while they are on
    it: a late or repeated decline, or one for a shift given to someone else,
    cancelled or done, changes nothing."""
    return assigned_to == volunteer_id and TRANSITIONS.get((status, "decline")) is not None


@dataclass(frozen=True)
class ShiftSummary:
    shifts: int
    hours: float
    first_shift_at: datetime | None
    last_shift_at: datetime | None
    missed: int = 0


def summarise(completed: list[tuple[datetime, datetime]], missed: int = 0) -> ShiftSummary:
    """Count, hours (rounded to hundredths) and first/last start of completed shifts,
    plus the number of no-shows."""
    if not completed:
        return ShiftSummary(0, 0.0, None, None, missed)
    seconds = sum((end - start).total_seconds() for start, end in completed)
    starts = [start for start, _ in completed]
    return ShiftSummary(len(completed), round(seconds / 3600, 2), min(starts), max(starts), missed)
