"""Task-tracking rules as pure functions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ShiftSummary:
    shifts: int
    hours: float
    first_shift_at: datetime | None
    last_shift_at: datetime | None


def summarise(completed: list[tuple[datetime, datetime]]) -> ShiftSummary:
    """Count, hours (rounded to minutes) and first/last start of completed shifts."""
    if not completed:
        return ShiftSummary(0, 0.0, None, None)
    seconds = sum((end - start).total_seconds() for start, end in completed)
    starts = [start for start, _ in completed]
    return ShiftSummary(len(completed), round(seconds / 3600, 2), min(starts), max(starts))
