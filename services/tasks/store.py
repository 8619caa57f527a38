"""Tasks' SQL over its tables (tables.py): reads and writes, no decisions.

Every function runs inside the caller's transaction; shifts come back as dicts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.tasks.tables import erasures, shifts
from shared.db import insert_if_absent


async def shift(session: AsyncSession, shift_id: str, *, for_update: bool = False) -> dict | None:
    query = select(shifts).where(shifts.c.shift_id == shift_id)
    row = (await session.execute(query.with_for_update() if for_update else query)).mappings().first()
    return dict(row) if row is not None else None


async def insert_shift(session: AsyncSession, row: dict) -> bool:
    """True when inserted; False when a shift with the id exists (nothing changes)."""
    return await insert_if_absent(session, shifts, row)


async def update_shift(session: AsyncSession, shift_id: str, **values) -> None:
    await session.execute(update(shifts).where(shifts.c.shift_id == shift_id).values(**values))


async def completed_times(session: AsyncSession, volunteer_id: str) -> list[tuple[datetime, datetime]]:
    rows = await session.execute(select(shifts.c.started_at, shifts.c.ended_at).where(
        shifts.c.volunteer_id == volunteer_id, shifts.c.status == "completed"))
    return [(row.started_at, row.ended_at) for row in rows]


async def missed_count(session: AsyncSession, volunteer_id: str) -> int:
    return await session.scalar(select(func.count()).select_from(shifts).where(
        shifts.c.volunteer_id == volunteer_id, shifts.c.status == "missed"))


async def unlink_volunteer(session: AsyncSession, volunteer_id: str, *, assigned_become: str) -> None:
    """Drop the link from every shift to the volunteer; shifts they were assigned to
    get status `assigned_become`."""
    await session.execute(update(shifts).where(
        shifts.c.volunteer_id == volunteer_id, shifts.c.status == "assigned").values(
        volunteer_id=None, status=assigned_become))
    await session.execute(update(shifts).where(shifts.c.volunteer_id == volunteer_id).values(volunteer_id=None))


async def is_erased(session: AsyncSession, volunteer_id: str) -> bool:
    return bool(await session.scalar(select(1).select_from(erasures).where(erasures.c.volunteer_id == volunteer_id)))


async def record_erasure(session: AsyncSession, volunteer_id: str, requested_at: datetime) -> None:
    """Keeps the first request's moment (a second request changes nothing)."""
    await insert_if_absent(session, erasures, dict(volunteer_id=volunteer_id, requested_at=requested_at))
