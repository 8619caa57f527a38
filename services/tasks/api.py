"""HTTP API of the task-tracking service.

A shift is scheduled, assigned, then completed, missed (no-show) or cancelled;
`domain.TRANSITIONS` says which step is allowed when. 404: no such shift;
409: the step does not apply to the shift's status (the detail says why);
422: invalid input.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.tasks import domain, handlers
from services.tasks.tables import shifts
from shared.contracts import SHIFT_COMPLETED, SHIFT_MISSED, ShiftCompleted, ShiftMissed
from shared.delivery import Unit
from shared.http import erased_volunteer
from shared.service import ServiceRuntime
from shared.values import SafeId, SaneDatetime, ShortText



def _ends_after_start(start: datetime | None, end: datetime | None) -> None:
    if start is not None and end is not None and end < start:
        raise ValueError("the end is before the start")


class CompletedShiftIn(BaseModel):
    shift_id: SafeId | None = None
    volunteer_id: SafeId
    started_at: SaneDatetime
    ended_at: SaneDatetime
    task: ShortText | None = None


class ScheduleShiftIn(BaseModel):
    shift_id: SafeId | None = None
    starts_at: SaneDatetime
    ends_at: SaneDatetime
    task: ShortText | None = None
    volunteer_id: SafeId | None = Field(default=None, description="Assign right away (optional).")

    @model_validator(mode="after")
    def _check(self) -> "ScheduleShiftIn":
        _ends_after_start(self.starts_at, self.ends_at)
        return self


class AssignIn(BaseModel):
    volunteer_id: SafeId


class CompleteIn(BaseModel):
    started_at: SaneDatetime | None = Field(default=None, description="Default: the scheduled start.")
    ended_at: SaneDatetime | None = Field(default=None, description="Default: the scheduled end.")

    @model_validator(mode="after")
    def _check(self) -> "CompleteIn":
        _ends_after_start(self.started_at, self.ended_at)
        return self


class ShiftOut(BaseModel):
    shift_id: str
    volunteer_id: str | None
    status: domain.Status
    task: str | None
    scheduled_start: datetime | None
    scheduled_end: datetime | None
    started_at: datetime | None
    ended_at: datetime | None


class ShiftSummaryOut(BaseModel):
    volunteer_id: str
    shifts: int
    hours: float
    first_shift_at: datetime | None
    last_shift_at: datetime | None
    missed: int


def routes(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(tags=["tasks"])
    can = runtime.auth.requires  # each data route names the scope a caller needs

    @router.post("/shifts", status_code=status.HTTP_201_CREATED, dependencies=[can("shifts:write")])
    async def schedule_shift(body: ScheduleShiftIn) -> ShiftOut:
        """Schedule a shift, assigned to a volunteer right away when one is named."""
        shift_id = body.shift_id or str(uuid.uuid4())
        async with runtime.unit() as unit:
            await _refuse_erased(unit, body.volunteer_id)
            if await unit.session.scalar(select(1).select_from(shifts).where(shifts.c.shift_id == shift_id)):
                raise HTTPException(status.HTTP_409_CONFLICT, detail="a shift with this id exists")
            await unit.session.execute(shifts.insert().values(
                shift_id=shift_id, volunteer_id=body.volunteer_id,
                status="assigned" if body.volunteer_id else "scheduled", task=body.task,
                scheduled_start=body.starts_at, scheduled_end=body.ends_at, reported_by=runtime.name))
            return await _shift_out(unit.session, shift_id)

    @router.get("/shifts/{shift_id}", dependencies=[can("shifts:read")])
    async def get_shift(shift_id: SafeId) -> ShiftOut:
        async with runtime.sessions() as session:
            return await _shift_out(session, shift_id)

    @router.post("/shifts/{shift_id}/assign", dependencies=[can("shifts:write")])
    async def assign_shift(shift_id: SafeId, body: AssignIn) -> ShiftOut:
        """Assign the shift to a volunteer (or to another one)."""
        async with runtime.unit() as unit:
            await _refuse_erased(unit, body.volunteer_id)
            await _step(unit, shift_id, "assign", volunteer_id=body.volunteer_id)
            return await _shift_out(unit.session, shift_id)

    @router.post("/shifts/{shift_id}/complete", dependencies=[can("shifts:write")])
    async def complete_scheduled_shift(shift_id: SafeId, body: CompleteIn | None = None) -> ShiftOut:
        """The assigned volunteer did the shift; publishes `shifts.completed`."""
        body = body or CompleteIn()
        async with runtime.unit() as unit:
            shift = await _load(unit, shift_id)
            started_at = body.started_at or shift.scheduled_start
            ended_at = body.ended_at or shift.scheduled_end
            await _step(unit, shift_id, "complete", started_at=started_at, ended_at=ended_at)
            try:
                event = ShiftCompleted(shift_id=shift_id, volunteer_id=shift.volunteer_id,
                                       started_at=started_at, ended_at=ended_at, task=shift.task)
            except ValueError:  # raised inside the transaction: the step is rolled back
                raise HTTPException(422,
                                    detail="the end of the shift is before its start") from None
            await unit.emit(SHIFT_COMPLETED, event)
            return await _shift_out(unit.session, shift_id)

    @router.post("/shifts/{shift_id}/missed", dependencies=[can("shifts:write")])
    async def mark_shift_missed(shift_id: SafeId) -> ShiftOut:
        """The assigned volunteer did not turn up; publishes `shifts.missed`."""
        async with runtime.unit() as unit:
            shift = await _step(unit, shift_id, "miss")
            await unit.emit(SHIFT_MISSED, ShiftMissed(
                shift_id=shift_id, volunteer_id=shift.volunteer_id, scheduled_start=shift.scheduled_start))
            return await _shift_out(unit.session, shift_id)

    @router.post("/shifts/{shift_id}/cancel", dependencies=[can("shifts:write")])
    async def cancel_shift(shift_id: SafeId) -> ShiftOut:
        async with runtime.unit() as unit:
            await _step(unit, shift_id, "cancel")
            return await _shift_out(unit.session, shift_id)

    @router.post("/shifts/completed", status_code=status.HTTP_201_CREATED, dependencies=[can("shifts:write")])
    async def record_completed_shift(body: CompletedShiftIn) -> dict:
        """Record a completed shift (or complete a scheduled one with this id) and publish `shifts.completed`."""
        try:
            event = ShiftCompleted(**body.model_dump(exclude={"shift_id"}), shift_id=body.shift_id or str(uuid.uuid4()))
        except ValueError:
            raise HTTPException(422, detail="the end of the shift is before its start") from None
        async with runtime.unit() as unit:
            await _refuse_erased(unit, event.volunteer_id)
            if not await handlers.complete_reported_shift(unit, event, reported_by=runtime.name):
                raise HTTPException(status.HTTP_409_CONFLICT, detail="this shift is already recorded")
            await unit.emit(SHIFT_COMPLETED, event)
        return {"shift_id": event.shift_id}

    @router.get("/volunteers/{volunteer_id}/shifts", dependencies=[can("volunteers:read")])
    async def shift_summary(volunteer_id: SafeId) -> ShiftSummaryOut:
        """Shift count, hours, first and last shift, and no-shows of one volunteer."""
        async with runtime.sessions() as session:
            rows = await session.execute(select(shifts.c.started_at, shifts.c.ended_at).where(
                shifts.c.volunteer_id == volunteer_id, shifts.c.status == "completed"))
            completed = [(r.started_at, r.ended_at) for r in rows]
            missed = await session.scalar(select(func.count()).select_from(shifts).where(
                shifts.c.volunteer_id == volunteer_id, shifts.c.status == "missed"))
        return ShiftSummaryOut(volunteer_id=volunteer_id, **domain.summarise(completed, missed).__dict__)

    return router


async def _load(unit: Unit, shift_id: str):  # noqa: ANN202 - a Row
    shift = (await unit.session.execute(
        select(shifts).where(shifts.c.shift_id == shift_id).with_for_update())).first()
    if shift is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such shift")
    return shift


async def _refuse_erased(unit: Unit, volunteer_id: str | None) -> None:
    """An erased person's id takes no new data (GDPR: they asked to be forgotten)."""
    if volunteer_id is not None and await handlers.is_erased(unit, volunteer_id):
        raise erased_volunteer()


async def _step(unit: Unit, shift_id: str, action: domain.Action, **changes):  # noqa: ANN202 - a Row
    """Apply one transition (404 / 409 with the reason) and return the shift as it was."""
    shift = await _load(unit, shift_id)
    try:
        new_status = domain.transition(shift.status, action)
    except domain.InvalidTransition as error:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(error)) from None
    await unit.session.execute(update(shifts).where(shifts.c.shift_id == shift_id)
                               .values(status=new_status, **changes))
    return shift


async def _shift_out(session: AsyncSession, shift_id: str) -> ShiftOut:
    shift = (await session.execute(select(shifts).where(shifts.c.shift_id == shift_id))).first()
    if shift is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such shift")
    return ShiftOut(**{name: getattr(shift, name) for name in ShiftOut.model_fields})
