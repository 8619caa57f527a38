"""HTTP API of the check-in service."""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel
from sqlalchemy import select

from services.checkins import handlers
from services.checkins.tables import checkins, clocks
from shared.contracts import CHECKIN_COMPLETED, CheckinCompleted
from shared.http import erased_volunteer
from shared.service import ServiceRuntime
from shared.values import SafeId, SaneDatetime


class CheckinIn(BaseModel):
    checkin_id: SafeId | None = None
    volunteer_id: SafeId
    kind: Literal["intake", "onboarding", "periodic"]
    held_at: SaneDatetime


def routes(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(tags=["checkins"])
    can = runtime.auth.requires  # each data route names the scope a caller needs

    @router.post("/checkins", status_code=status.HTTP_201_CREATED, dependencies=[can("checkins:write")])
    async def record_checkin(body: CheckinIn) -> dict:
        """Record a held check-in and publish `checkins.completed`."""
        event = CheckinCompleted(**body.model_dump(exclude={"checkin_id"}),
                                 checkin_id=body.checkin_id or str(uuid.uuid4()))
        async with runtime.unit() as unit:
            if await handlers.is_erased(unit, event.volunteer_id):
                raise erased_volunteer()
            if not await handlers.record(unit, event):
                raise HTTPException(status.HTTP_409_CONFLICT, detail="this check-in is already recorded")
            await unit.emit(CHECKIN_COMPLETED, event)
        return {"checkin_id": event.checkin_id}

    @router.get("/volunteers/{volunteer_id}/checkins", dependencies=[can("volunteers:read")])
    async def volunteer_checkins(volunteer_id: SafeId) -> dict:
        """Held check-ins and running clocks of one volunteer."""
        async with runtime.sessions() as session:
            held = await session.execute(select(checkins).where(checkins.c.volunteer_id == volunteer_id)
                                         .order_by(checkins.c.held_at))
            running = await session.execute(select(clocks).where(clocks.c.volunteer_id == volunteer_id))
            return {
                "held": [{"checkin_id": r.checkin_id, "kind": r.kind, "held_at": r.held_at} for r in held],
                "clocks": [{"kind": r.kind, "started_at": r.started_at, "due_at": r.due_at, "closed_at": r.closed_at}
                           for r in running],
            }

    return router
