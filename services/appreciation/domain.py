"""Appreciation rules as pure functions."""

from __future__ import annotations

from datetime import date, datetime, timedelta

DEFAULT_SHIFT_MILESTONES = (10, 25, 50, 100)
DEFAULT_GRACE = timedelta(days=14)


def shift_milestones(shift_count: int, thresholds: tuple[int, ...] = DEFAULT_SHIFT_MILESTONES) -> list[str]:
    """Milestones reached exactly by the shift that brought the count to `shift_count`."""
    reached = ["first-shift"] if shift_count == 1 else []
    reached += [f"shifts-{n}" for n in thresholds if n == shift_count]
    return reached


def should_celebrate(happened_at: datetime, detected_at: datetime, grace: timedelta = DEFAULT_GRACE) -> bool:
    """A milestone detected long after it happened is recorded but not mailed
    (importing years of history must not flood people with late cards)."""
    return detected_at - happened_at <= grace


def local_date(moment: datetime, tz) -> date:  # noqa: ANN001
    return moment.astimezone(tz).date()
