"""HTTP API of the registration service."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timezone
from typing import Literal

from fastapi import APIRouter, HTTPException, status
from pydantic import AfterValidator, BaseModel, EmailStr, Field
from sqlalchemy import select
from typing_extensions import Annotated

from services.registration import domain
from services.registration.tables import volunteers
from shared.contracts import VOLUNTEER_REGISTERED, VolunteerRegistered
from shared.db import insert_if_absent
from shared.service import ServiceRuntime


class VolunteerIn(BaseModel):
    volunteer_id: str | None = Field(default=None, min_length=1, max_length=200)
    name: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(domain.clean_name)]
    email: EmailStr
    language: Literal["nl", "en"] = "nl"
    service_started_on: date | None = None
    coordinator_email: EmailStr | None = None


class VolunteerOut(BaseModel):
    volunteer_id: str
    name: str
    email: str
    language: str
    registered_at: datetime
    service_started_on: date | None
    coordinator_email: str | None


def routes(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(tags=["registration"])

    @router.post("/volunteers", status_code=status.HTTP_201_CREATED)
    async def register(body: VolunteerIn) -> VolunteerOut:
        """Register a volunteer and publish `volunteers.registered`."""
        event = VolunteerRegistered(
            **body.model_dump(exclude={"volunteer_id"}),
            volunteer_id=body.volunteer_id or str(uuid.uuid4()),
            registered_at=datetime.now(timezone.utc),
        )
        async with runtime.unit() as unit:
            row = event.model_dump(exclude={"volunteer_id"}) | {"volunteer_id": event.volunteer_id}
            if not await insert_if_absent(unit.session, volunteers, row | {"registered_via": runtime.name}):
                raise HTTPException(status.HTTP_409_CONFLICT,
                                    detail=f"volunteer {event.volunteer_id!r} is already registered")
            await unit.emit(VOLUNTEER_REGISTERED, event)
        return VolunteerOut(**row)

    @router.get("/volunteers/{volunteer_id}")
    async def get_volunteer(volunteer_id: str) -> VolunteerOut:
        async with runtime.sessions() as session:
            row = (await session.execute(select(volunteers).where(volunteers.c.volunteer_id == volunteer_id))).first()
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no volunteer {volunteer_id!r}")
        return VolunteerOut(**row._mapping)

    return router
