"""What the task-tracking service does, one function per thing: load through the
store, ask the domain (every status change is a `domain.transition`), store the
changes, emit events (outbox, same transaction).

Refusals are raised as NotFound, Conflict, Invalid or Erased, which the HTTP API
answers with 404, 409, 422 or 410.

The HTTP echo: a shift completed through the API is completed here and then
published; the `shifts.completed` coming back through the service's own
subscription runs `complete_reported_shift`, whose transition from `completed` is
refused: the fact is known and nothing changes. No state depends on the echo.
`shifts.assigned` and `shifts.released` (for shift reminders) are published, never
consumed here; `shifts.declined` comes from the reminder's "I cannot come" link."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.tasks import domain, store
from shared.contracts import (
    SHIFT_ASSIGNED,
    SHIFT_COMPLETED,
    SHIFT_MISSED,
    SHIFT_RELEASED,
    ShiftAssigned,
    ShiftCompleted,
    ShiftDeclined,
    ShiftMissed,
    ShiftReleased,
)
from shared.refusals import Conflict, Erased, Invalid, NotFound  # what the entrypoints turn into answers
from shared.delivery import Unit

log = logging.getLogger(__name__)






async def shift(session: AsyncSession, shift_id: str, *, for_update: bool = False) -> dict:
    row = await store.shift(session, shift_id, for_update=for_update)
    if row is None:
        raise NotFound("no such shift")
    return row


async def schedule_shift(unit: Unit, *, shift_id: str, starts_at: datetime, ends_at: datetime, task: str | None,
                         volunteer_id: str | None, place: str | None = None, contact: str | None = None,
                         bring: str | None = None) -> dict:
    """Schedule a shift, assigned at once when a volunteer is named (publishes
    `shifts.assigned`); the shift stored."""
    await _refuse_erased(unit, volunteer_id)
    row = dict(shift_id=shift_id, volunteer_id=volunteer_id, status=domain.scheduled_status(volunteer_id is not None),
               task=task, place=place, contact=contact, bring=bring, scheduled_start=starts_at,
               scheduled_end=ends_at, reported_by=unit.source)
    if not await store.insert_shift(unit.session, row):
        raise Conflict("a shift with this id exists")
    stored = await shift(unit.session, shift_id)
    if volunteer_id is not None:
        await _emit_assigned(unit, stored)
    return stored


async def assign(unit: Unit, shift_id: str, volunteer_id: str) -> dict:
    """Assign the shift to a volunteer (or to another one: the previous one is
    released, reason `reassigned`); publishes `shifts.assigned` for a new volunteer."""
    await _refuse_erased(unit, volunteer_id)
    before = await _step(unit, shift_id, "assign", volunteer_id=volunteer_id)
    change = domain.assignment_change(before["volunteer_id"], volunteer_id)
    if change.released is not None:
        await _emit_released(unit, shift_id, change.released, change.reason)
    stored = await shift(unit.session, shift_id)
    if change.assigned:
        await _emit_assigned(unit, stored)
    return stored


async def complete(unit: Unit, shift_id: str, started_at: datetime | None, ended_at: datetime | None) -> dict:
    """The assigned volunteer did the shift (times default to the scheduled ones);
    publishes `shifts.completed`."""
    current = await shift(unit.session, shift_id, for_update=True)
    started_at = started_at or current["scheduled_start"]
    ended_at = ended_at or current["scheduled_end"]
    await _step(unit, shift_id, "complete", started_at=started_at, ended_at=ended_at)
    try:
        event = ShiftCompleted(shift_id=shift_id, volunteer_id=current["volunteer_id"],
                               started_at=started_at, ended_at=ended_at, task=current["task"])
    except ValueError:  # raised inside the transaction: the step is rolled back
        raise Invalid("the end of the shift is before its start") from None
    await unit.emit(SHIFT_COMPLETED, event)
    return await shift(unit.session, shift_id)


async def mark_missed(unit: Unit, shift_id: str) -> dict:
    """The assigned volunteer did not turn up; publishes `shifts.missed`."""
    before = await _step(unit, shift_id, "miss")
    await unit.emit(SHIFT_MISSED, ShiftMissed(
        shift_id=shift_id, volunteer_id=before["volunteer_id"], scheduled_start=before["scheduled_start"]))
    return await shift(unit.session, shift_id)


async def cancel(unit: Unit, shift_id: str) -> dict:
    """Cancel the shift; its volunteer, if any, is released (reason `cancelled`)."""
    before = await _step(unit, shift_id, "cancel")
    if before["volunteer_id"] is not None:
        await _emit_released(unit, shift_id, before["volunteer_id"], "cancelled")
    return await shift(unit.session, shift_id)


async def decline(unit: Unit, declined: ShiftDeclined) -> bool:
    """The volunteer said they cannot come: taken off the shift (open again for
    someone else) and released, reason `declined`, for the coordinator to act on.
    False when it no longer applies (not on the shift, or the shift is done,
    cancelled or unknown): nothing changes."""
    current = await store.shift(unit.session, declined.shift_id, for_update=True)
    if current is None or not domain.decline_applies(current["status"], current["volunteer_id"],
                                                     declined.volunteer_id):
        log.info("decline of shift %s by %s no longer applies", declined.shift_id, declined.volunteer_id)
        return False
    await store.update_shift(unit.session, declined.shift_id, volunteer_id=None,
                             status=domain.transition(current["status"], "decline"))
    await _emit_released(unit, declined.shift_id, declined.volunteer_id, "declined")
    log.info("volunteer %s declined shift %s; it is open again", declined.volunteer_id, declined.shift_id)
    return True


async def record_completed_shift(unit: Unit, completed: ShiftCompleted) -> None:
    """A completed shift reported through the API: recorded (or a scheduled one with
    the id completed) and published as `shifts.completed`."""
    await _refuse_erased(unit, completed.volunteer_id)
    if not await complete_reported_shift(unit, completed, reported_by=unit.source):
        raise Conflict("this shift is already recorded")
    await unit.emit(SHIFT_COMPLETED, completed)


async def complete_reported_shift(unit: Unit, completed: ShiftCompleted, *, reported_by: str) -> bool:
    """A shift reported completed (by a rostering system, or our own event coming
    back): recorded, or the shift with the id completed, with the report's volunteer
    and times. False when it was completed before: nothing changes. A shift of an
    erased volunteer is kept without the link to them."""
    volunteer_id = None if await store.is_erased(unit.session, completed.volunteer_id) else completed.volunteer_id
    existing = await store.shift(unit.session, completed.shift_id, for_update=True)
    try:
        status = domain.transition(existing["status"] if existing else domain.NEW, "report-completed")
    except domain.InvalidTransition:
        return False  # completed already: the same fact reported twice
    if existing is None:
        return await store.insert_shift(unit.session, dict(
            shift_id=completed.shift_id, volunteer_id=volunteer_id, status=status, task=completed.task,
            started_at=completed.started_at, ended_at=completed.ended_at, reported_by=reported_by))
    await store.update_shift(unit.session, completed.shift_id, status=status, volunteer_id=volunteer_id,
                             task=completed.task or existing["task"], started_at=completed.started_at,
                             ended_at=completed.ended_at)
    return True


async def summary(session: AsyncSession, volunteer_id: str) -> domain.ShiftSummary:
    return domain.summarise(await store.completed_times(session, volunteer_id),
                            await store.missed_count(session, volunteer_id))


async def erase(unit: Unit, volunteer_id: str, requested_at: datetime) -> None:
    """GDPR erasure: the shifts stay (the organisation's hours), without the link to
    the volunteer; shifts they were assigned to are open again."""
    await unit.forget_pending_events(volunteer_id)
    await store.record_erasure(unit.session, volunteer_id, requested_at)
    await store.unlink_volunteer(unit.session, volunteer_id,
                                 assigned_become=domain.transition("assigned", "unassign"))
    log.info("shifts of volunteer %s unlinked (erasure)", volunteer_id)


async def _emit_assigned(unit: Unit, row: dict) -> None:
    """`shifts.assigned`: what a reminder tells the volunteer about the shift."""
    await unit.emit(SHIFT_ASSIGNED, ShiftAssigned(
        shift_id=row["shift_id"], volunteer_id=row["volunteer_id"], started_at=row["scheduled_start"],
        ended_at=row["scheduled_end"], task=row["task"], place=row["place"], contact=row["contact"],
        bring=row["bring"], assigned_at=unit.now))


async def _emit_released(unit: Unit, shift_id: str, volunteer_id: str, reason: domain.ReleaseReason) -> None:
    await unit.emit(SHIFT_RELEASED, ShiftReleased(
        shift_id=shift_id, volunteer_id=volunteer_id, reason=reason, released_at=unit.now))


async def _refuse_erased(unit: Unit, volunteer_id: str | None) -> None:
    """An erased person's id takes no new data (GDPR: they asked to be forgotten)."""
    if volunteer_id is not None and await store.is_erased(unit.session, volunteer_id):
        raise Erased()


async def _step(unit: Unit, shift_id: str, action: domain.Action, **changes) -> dict:
    """Apply one transition and return the shift as it was (NotFound; Conflict with the reason)."""
    current = await shift(unit.session, shift_id, for_update=True)
    try:
        status = domain.transition(current["status"], action)
    except domain.InvalidTransition as error:
        raise Conflict(str(error)) from None
    await store.update_shift(unit.session, shift_id, status=status, **changes)
    return current
