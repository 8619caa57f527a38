"""Check-in rules as pure functions."""

from __future__ import annotations

from datetime import datetime, timedelta

INTAKE_DEADLINE = timedelta(days=7)


def intake_due(registered_at: datetime, deadline: timedelta = INTAKE_DEADLINE) -> datetime:
    """When an intake conversation is due after a registration or an offer of help."""
    return registered_at + deadline


def closes_clock(clock_started_at: datetime, held_at: datetime) -> bool:
    """A check-in counts for a clock only when it was held after the clock started."""
    return held_at >= clock_started_at
