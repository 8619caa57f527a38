"""Event → effect, one function per consumed event type."""

from __future__ import annotations

from services.tasks.tables import shifts
from shared.contracts import ShiftCompleted
from shared.db import insert_if_absent
from shared.delivery import Unit
from shared.envelope import Envelope


async def record_completed_shift(unit: Unit, event: Envelope) -> None:
    """Rostering systems may report shifts this service never scheduled: keep them."""
    data: ShiftCompleted = event.data
    await insert_if_absent(unit.session, shifts, dict(
        shift_id=data.shift_id, volunteer_id=data.volunteer_id, status="completed", task=data.task,
        started_at=data.started_at, ended_at=data.ended_at, reported_by=event.source,
    ))
