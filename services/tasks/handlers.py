"""Kafka entrypoints: each translates one consumed event into one use case call."""

from __future__ import annotations

from services.tasks import usecases
from shared.contracts import ShiftCompleted, ShiftDeclined, VolunteerErased
from shared.delivery import Unit
from shared.envelope import Envelope


async def record_completed_shift(unit: Unit, event: Envelope) -> None:
    """Rostering systems may report shifts this service never scheduled: keep them;
    a shift scheduled here with the same id becomes completed. Our own API's
    `shifts.completed` comes back here too and changes nothing (see usecases)."""
    data: ShiftCompleted = event.data
    await usecases.complete_reported_shift(unit, data, reported_by=event.source)


async def erase_volunteer(unit: Unit, event: Envelope) -> None:
    data: VolunteerErased = event.data
    await usecases.erase(unit, data.volunteer_id, data.requested_at)


async def decline_shift(unit: Unit, event: Envelope) -> None:
    """The volunteer's "I cannot come" (the link in their shift reminder)."""
    data: ShiftDeclined = event.data
    await usecases.decline(unit, data)
