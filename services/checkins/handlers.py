"""Event → effect, one function per consumed event type."""

from __future__ import annotations

from sqlalchemy import select, update

from services.checkins import domain
from services.checkins.tables import checkins, clocks
from shared.contracts import CheckinCompleted, VolunteerRegistered
from shared.db import insert_if_absent
from shared.delivery import Unit
from shared.envelope import Envelope


async def start_intake_clock(unit: Unit, event: Envelope) -> None:
    data: VolunteerRegistered = event.data
    await insert_if_absent(unit.session, clocks, dict(
        volunteer_id=data.volunteer_id, kind="intake", started_at=data.registered_at,
        due_at=domain.intake_due(data.registered_at), closed_at=None,
    ))


async def record_checkin(unit: Unit, event: Envelope) -> None:
    await record(unit, event.data)


async def record(unit: Unit, data: CheckinCompleted) -> bool:
    """Store a held check-in and stop the matching clock; False if it was known."""
    if not await insert_if_absent(unit.session, checkins, dict(
            checkin_id=data.checkin_id, volunteer_id=data.volunteer_id, kind=data.kind, held_at=data.held_at)):
        return False
    clock = (await unit.session.execute(select(clocks).where(
        clocks.c.volunteer_id == data.volunteer_id, clocks.c.kind == data.kind,
        clocks.c.closed_at.is_(None)))).first()
    if clock is not None and domain.closes_clock(clock.started_at, data.held_at):
        await unit.session.execute(update(clocks).where(
            clocks.c.volunteer_id == data.volunteer_id, clocks.c.kind == data.kind).values(closed_at=data.held_at))
    return True
