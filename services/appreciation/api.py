"""HTTP API of the appreciation service."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from services.appreciation.tables import ledger
from shared.service import ServiceRuntime


def routes(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(tags=["appreciation"])

    @router.get("/volunteers/{volunteer_id}/milestones")
    async def milestones(volunteer_id: str) -> list[dict]:
        """The milestones in the ledger for one volunteer, oldest first."""
        async with runtime.sessions() as session:
            rows = await session.execute(
                select(ledger).where(ledger.c.volunteer_id == volunteer_id).order_by(ledger.c.reached_on))
            return [{"milestone": r.milestone, "reached_on": r.reached_on.isoformat(), "celebrated": r.celebrated}
                    for r in rows]

    return router
