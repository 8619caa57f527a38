"""HTTP API of the check-in service."""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, status
from pydantic import BaseModel

from services.checkins import usecases
from shared.contracts import CheckinCompleted
from shared.http import refusals
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
        held = CheckinCompleted(**body.model_dump(exclude={"checkin_id"}),
                                checkin_id=body.checkin_id or str(uuid.uuid4()))
        with refusals():
            async with runtime.unit() as unit:
                await usecases.record_checkin_on_request(unit, held)
        return {"checkin_id": held.checkin_id}

    @router.get("/volunteers/{volunteer_id}/checkins", dependencies=[can("volunteers:read")])
    async def volunteer_checkins(volunteer_id: SafeId) -> dict:
        """Held check-ins and running clocks of one volunteer."""
        async with runtime.sessions() as session:
            held, clocks = await usecases.checkins_and_clocks(session, volunteer_id)
        return {
            "held": [{"checkin_id": r["checkin_id"], "kind": r["kind"], "held_at": r["held_at"]} for r in held],
            "clocks": [{"kind": r["kind"], "started_at": r["started_at"], "due_at": r["due_at"],
                        "closed_at": r["closed_at"]} for r in clocks],
        }

    return router
