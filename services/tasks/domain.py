"""Task-tracking rules as pure functions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Status = Literal["scheduled", "assigned", "completed", "missed", "cancelled"]
Action = Literal["schedule", "assign", "unassign", "complete", "miss", "cancel", "report-completed"]
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
    # Only completing, missing or unassigning an unassigned shift remains.
    raise InvalidTransition(f"cannot {action} the shift: nobody is assigned to it")


def scheduled_status(assigned: bool) -> Status:
    """A new shift's status: scheduled, and assigned when a volunteer is named at once."""
    status = transition(NEW, "schedule")
    return transition(status, "assign") if assigned else status


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
