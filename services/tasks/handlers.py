"""Event → effect, one function per consumed event type."""

from __future__ import annotations

from sqlalchemy import select, update

from services.tasks import domain
from services.tasks.tables import erasures, shifts
from shared.contracts import ShiftCompleted, VolunteerErased
from shared.db import insert_if_absent
from shared.delivery import Unit
from shared.envelope import Envelope


async def record_completed_shift(unit: Unit, event: Envelope) -> None:
    """Rostering systems may report shifts this service never scheduled: keep them;
    a shift scheduled here with the same id becomes completed."""
    await complete_reported_shift(unit, event.data, reported_by=event.source)


async def erase_volunteer(unit: Unit, event: Envelope) -> None:
    """GDPR erasure: the shifts stay (the organisation's hours), without the link to
    the volunteer; shifts they were assigned to are open again."""
    data: VolunteerErased = event.data
    await unit.forget_pending_events(data.volunteer_id)
    await insert_if_absent(unit.session, erasures, dict(volunteer_id=data.volunteer_id,
                                                        requested_at=data.requested_at))
    await unit.session.execute(update(shifts).where(
        shifts.c.volunteer_id == data.volunteer_id, shifts.c.status == "assigned").values(
        volunteer_id=None, status="scheduled"))
    await unit.session.execute(update(shifts).where(shifts.c.volunteer_id == data.volunteer_id)
                               .values(volunteer_id=None))


async def complete_reported_shift(unit: Unit, data: ShiftCompleted, *, reported_by: str) -> bool:
    """Record a shift reported completed; False if it was completed before (nothing changes)."""
    volunteer_id = None if await is_erased(unit, data.volunteer_id) else data.volunteer_id
    existing = (await unit.session.execute(
        select(shifts).where(shifts.c.shift_id == data.shift_id).with_for_update())).first()
    if existing is None:
        await insert_if_absent(unit.session, shifts, dict(
            shift_id=data.shift_id, volunteer_id=volunteer_id, status="completed", task=data.task,
            started_at=data.started_at, ended_at=data.ended_at, reported_by=reported_by))
        return True
    try:
        status = domain.transition(existing.status, "report-completed")
    except domain.InvalidTransition:
        return False  # completed already: the same fact reported twice
    await unit.session.execute(update(shifts).where(shifts.c.shift_id == data.shift_id).values(
        status=status, volunteer_id=volunteer_id, task=data.task or existing.task,
        started_at=data.started_at, ended_at=data.ended_at))
    return True


async def is_erased(unit: Unit, volunteer_id: str) -> bool:
    return bool(await unit.session.scalar(select(1).select_from(erasures).where(
        erasures.c.volunteer_id == volunteer_id)))
