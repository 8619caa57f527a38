"""Event → effect, one function per consumed event type."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from services.appreciation import domain
from services.appreciation.tables import ledger, shifts, volunteers
from shared.contracts import MILESTONE_REACHED, MilestoneReached, ShiftCompleted, VolunteerRegistered
from shared.db import insert_if_absent
from shared.delivery import Unit
from shared.envelope import Envelope


async def remember_volunteer(unit: Unit, event: Envelope) -> None:
    data: VolunteerRegistered = event.data
    await insert_if_absent(unit.session, volunteers, dict(
        volunteer_id=data.volunteer_id, name=data.name, email=data.email, language=data.language,
        service_started_on=data.service_started_on or domain.local_date(data.registered_at, unit.settings.timezone),
        coordinator_email=data.coordinator_email or unit.settings.default_coordinator_email,
        registered_at=data.registered_at,
    ))


async def count_shift_and_detect_milestones(unit: Unit, event: Envelope) -> None:
    data: ShiftCompleted = event.data
    new = await insert_if_absent(unit.session, shifts, dict(
        shift_id=data.shift_id, volunteer_id=data.volunteer_id, started_at=data.started_at, ended_at=data.ended_at,
    ))
    if not new:
        return  # the same shift reported by a second system
    count = await unit.session.scalar(
        select(func.count()).select_from(shifts).where(shifts.c.volunteer_id == data.volunteer_id))
    for milestone in domain.shift_milestones(count):
        await record_milestone(unit, data.volunteer_id, milestone, data.ended_at)


async def record_milestone(unit: Unit, volunteer_id: str, milestone: str, happened_at: datetime) -> None:
    """Write the milestone to the ledger once, and announce it on `milestones.reached`."""
    celebrated = domain.should_celebrate(happened_at, unit.now)
    reached_on = domain.local_date(happened_at, unit.settings.timezone)
    new = await insert_if_absent(unit.session, ledger, dict(
        volunteer_id=volunteer_id, milestone=milestone, reached_on=reached_on,
        detected_at=unit.now, celebrated=celebrated,
    ))
    if not new:
        return
    await unit.emit(MILESTONE_REACHED, MilestoneReached(
        volunteer_id=volunteer_id, milestone=milestone, reached_on=reached_on, celebrated=celebrated,
    ), event_id=f"milestone:{volunteer_id}:{milestone}")
