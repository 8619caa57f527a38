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

from services.tasks import domain, usecases
from shared.contracts import ShiftCompleted
from shared.http import refusals
from shared.service import ServiceRuntime
from shared.values import LongText, SafeId, SaneDatetime, ShortText


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
    place: ShortText | None = Field(default=None, description="Where to go (in the shift reminder).")
    contact: ShortText | None = Field(default=None, description="Whom to ask on the day, e.g. a name and a phone "
                                                                "number (in the shift reminder).")
    bring: LongText | None = Field(default=None, description="What to expect or bring (in the shift reminder).")
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
    place: str | None
    contact: str | None
    bring: str | None
    scheduled_start: datetime | None
    scheduled_end: datetime | None
    started_at: datetime | None
    ended_at: datetime | None

    @classmethod
    def from_row(cls, row: dict) -> "ShiftOut":
        return cls(**{name: row[name] for name in cls.model_fields})


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
        """Schedule a shift, assigned to a volunteer right away when one is named
        (publishes `shifts.assigned`)."""
        with refusals():
            async with runtime.unit() as unit:
                return ShiftOut.from_row(await usecases.schedule_shift(
                    unit, shift_id=body.shift_id or str(uuid.uuid4()), starts_at=body.starts_at,
                    ends_at=body.ends_at, task=body.task, place=body.place, contact=body.contact,
                    bring=body.bring, volunteer_id=body.volunteer_id))

    @router.get("/shifts/{shift_id}", dependencies=[can("shifts:read")])
    async def get_shift(shift_id: SafeId) -> ShiftOut:
        with refusals():
            async with runtime.sessions() as session:
                return ShiftOut.from_row(await usecases.shift(session, shift_id))

    @router.post("/shifts/{shift_id}/assign", dependencies=[can("shifts:write")])
    async def assign_shift(shift_id: SafeId, body: AssignIn) -> ShiftOut:
        """Assign the shift to a volunteer (publishes `shifts.assigned`), or to another one
        (the previous volunteer's `shifts.released`, reason `reassigned`)."""
        with refusals():
            async with runtime.unit() as unit:
                return ShiftOut.from_row(await usecases.assign(unit, shift_id, body.volunteer_id))

    @router.post("/shifts/{shift_id}/complete", dependencies=[can("shifts:write")])
    async def complete_scheduled_shift(shift_id: SafeId, body: CompleteIn | None = None) -> ShiftOut:
        """The assigned volunteer did the shift; publishes `shifts.completed`."""
        body = body or CompleteIn()
        with refusals():
            async with runtime.unit() as unit:
                return ShiftOut.from_row(await usecases.complete(unit, shift_id, body.started_at, body.ended_at))

    @router.post("/shifts/{shift_id}/missed", dependencies=[can("shifts:write")])
    async def mark_shift_missed(shift_id: SafeId) -> ShiftOut:
        """The assigned volunteer did not turn up; publishes `shifts.missed`."""
        with refusals():
            async with runtime.unit() as unit:
                return ShiftOut.from_row(await usecases.mark_missed(unit, shift_id))

    @router.post("/shifts/{shift_id}/cancel", dependencies=[can("shifts:write")])
    async def cancel_shift(shift_id: SafeId) -> ShiftOut:
        """Cancel the shift; an assigned volunteer's `shifts.released`, reason `cancelled`."""
        with refusals():
            async with runtime.unit() as unit:
                return ShiftOut.from_row(await usecases.cancel(unit, shift_id))

    @router.post("/shifts/completed", status_code=status.HTTP_201_CREATED, dependencies=[can("shifts:write")])
    async def record_completed_shift(body: CompletedShiftIn) -> dict:
        """Record a completed shift (or complete a scheduled one with this id) and publish `shifts.completed`."""
        try:
            event = ShiftCompleted(**body.model_dump(exclude={"shift_id"}), shift_id=body.shift_id or str(uuid.uuid4()))
        except ValueError:
            raise HTTPException(422, detail="the end of the shift is before its start") from None
        with refusals():
            async with runtime.unit() as unit:
                await usecases.record_completed_shift(unit, event)
        return {"shift_id": event.shift_id}

    @router.get("/volunteers/{volunteer_id}/shifts", dependencies=[can("volunteers:read")])
    async def shift_summary(volunteer_id: SafeId) -> ShiftSummaryOut:
        """Shift count, hours, first and last shift, and no-shows of one volunteer."""
        async with runtime.sessions() as session:
            summary = await usecases.summary(session, volunteer_id)
        return ShiftSummaryOut(volunteer_id=volunteer_id, **summary.__dict__)

    return router
