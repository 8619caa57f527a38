"""HTTP API of the task-tracking service."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, HTTPException, status
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import select

from services.tasks import domain
from services.tasks.tables import shifts
from shared.contracts import SHIFT_COMPLETED, ShiftCompleted
from shared.db import insert_if_absent
from shared.service import ServiceRuntime


class CompletedShiftIn(BaseModel):
    shift_id: str | None = Field(default=None, min_length=1, max_length=200)
    volunteer_id: str = Field(min_length=1, max_length=200)
    started_at: AwareDatetime
    ended_at: AwareDatetime
    task: str | None = Field(default=None, max_length=200)


class ShiftSummaryOut(BaseModel):
    volunteer_id: str
    shifts: int
    hours: float
    first_shift_at: datetime | None
    last_shift_at: datetime | None


def routes(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(tags=["tasks"])

    @router.post("/shifts/completed", status_code=status.HTTP_201_CREATED)
    async def complete_shift(body: CompletedShiftIn) -> dict:
        """Record a completed shift and publish `shifts.completed`."""
        try:
            event = ShiftCompleted(**body.model_dump(exclude={"shift_id"}), shift_id=body.shift_id or str(uuid.uuid4()))
        except ValueError as error:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, detail=str(error)) from None
        async with runtime.unit() as unit:
            new = await insert_if_absent(unit.session, shifts, dict(
                shift_id=event.shift_id, volunteer_id=event.volunteer_id, status="completed", task=event.task,
                started_at=event.started_at, ended_at=event.ended_at, reported_by=runtime.name,
            ))
            if not new:
                raise HTTPException(status.HTTP_409_CONFLICT, detail=f"shift {event.shift_id!r} is already recorded")
            await unit.emit(SHIFT_COMPLETED, event)
        return {"shift_id": event.shift_id}

    @router.get("/volunteers/{volunteer_id}/shifts")
    async def shift_summary(volunteer_id: str) -> ShiftSummaryOut:
        """Shift count, hours, first and last shift of one volunteer."""
        async with runtime.sessions() as session:
            rows = await session.execute(select(shifts.c.started_at, shifts.c.ended_at).where(
                shifts.c.volunteer_id == volunteer_id, shifts.c.status == "completed"))
            summary = domain.summarise([(r.started_at, r.ended_at) for r in rows])
        return ShiftSummaryOut(volunteer_id=volunteer_id, **summary.__dict__)

    return router
