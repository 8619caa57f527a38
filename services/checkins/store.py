"""Check-ins' SQL over its tables (tables.py): reads and writes, no decisions.

Every function runs inside the caller's transaction; rows come back as dicts."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import and_, bindparam, delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import BigInteger

from services.checkins.tables import SERVICE, checkins, clocks, raised, volunteers
from shared.db import advisory_key, insert_if_absent

_LOCK_ALL = text("SELECT pg_advisory_xact_lock(key) FROM unnest(:keys) AS key").bindparams(
    bindparam("keys", type_=ARRAY(BigInteger)))


async def lock_volunteers(session: AsyncSession, volunteer_ids: Iterable[str]) -> None:
    """Hold a transaction-level lock per volunteer until the transaction ends, so that
    two transactions about the same volunteer run one after the other. Taken in one
    order (sorted keys): two batches never wait for each other in a circle.
    PostgreSQL only; elsewhere a no-op."""
    keys = sorted({advisory_key(SERVICE, f"volunteer/{volunteer_id}") for volunteer_id in volunteer_ids})
    if keys and session.bind.dialect.name == "postgresql":
        await session.execute(_LOCK_ALL, {"keys": keys})


# --- volunteers ------------------------------------------------------------------------------


async def volunteer(session: AsyncSession, volunteer_id: str) -> dict | None:
    query = select(volunteers).where(volunteers.c.volunteer_id == volunteer_id)
    row = (await session.execute(query)).mappings().first()
    return dict(row) if row is not None else None


async def insert_volunteer(session: AsyncSession, volunteer_id: str, **values) -> bool:
    """True when inserted; False when the volunteer is known (nothing changes)."""
    return await insert_if_absent(session, volunteers, dict(volunteer_id=volunteer_id, **values))


async def update_volunteer(session: AsyncSession, volunteer_id: str, **changes) -> None:
    await session.execute(update(volunteers).where(volunteers.c.volunteer_id == volunteer_id).values(**changes))


async def delete_follow_ups(session: AsyncSession, volunteer_id: str) -> None:
    """The volunteer's clocks, check-ins and raised rungs."""
    for table in (clocks, checkins, raised):
        await session.execute(delete(table).where(table.c.volunteer_id == volunteer_id))


# --- check-ins -------------------------------------------------------------------------------


async def insert_checkin(session: AsyncSession, row: dict) -> bool:
    """True when inserted; False when the check-in id is known (nothing changes)."""
    return await insert_if_absent(session, checkins, row)


async def latest_checkin_at(session: AsyncSession, volunteer_id: str) -> datetime | None:
    return await session.scalar(select(func.max(checkins.c.held_at)).where(checkins.c.volunteer_id == volunteer_id))


async def earliest_checkin_at(session: AsyncSession, volunteer_id: str, kind: str, since: datetime) -> datetime | None:
    """The first check-in of `kind` held at or after `since`."""
    return await session.scalar(select(func.min(checkins.c.held_at)).where(
        checkins.c.volunteer_id == volunteer_id, checkins.c.kind == kind, checkins.c.held_at >= since))


async def checkins_of(session: AsyncSession, volunteer_id: str) -> list[dict]:
    rows = await session.execute(select(checkins).where(checkins.c.volunteer_id == volunteer_id)
                                 .order_by(checkins.c.held_at))
    return [dict(row) for row in rows.mappings()]


# --- clocks ----------------------------------------------------------------------------------


async def clock(session: AsyncSession, volunteer_id: str, kind: str) -> dict | None:
    row = (await session.execute(select(clocks).where(
        clocks.c.volunteer_id == volunteer_id, clocks.c.kind == kind))).mappings().first()
    return dict(row) if row is not None else None


async def clocks_of(session: AsyncSession, volunteer_id: str) -> list[dict]:
    rows = await session.execute(select(clocks).where(clocks.c.volunteer_id == volunteer_id))
    return [dict(row) for row in rows.mappings()]


async def running_clock_starts(session: AsyncSession, volunteer_id: str) -> dict[str, datetime]:
    """kind → started_at of the volunteer's running clocks."""
    rows = await session.execute(select(clocks.c.kind, clocks.c.started_at).where(
        clocks.c.volunteer_id == volunteer_id, clocks.c.closed_at.is_(None)))
    return {row.kind: row.started_at for row in rows}


async def save_clock(session: AsyncSession, volunteer_id: str, kind: str, *, exists: bool, **values) -> None:
    if exists:
        await session.execute(update(clocks).where(
            clocks.c.volunteer_id == volunteer_id, clocks.c.kind == kind).values(**values))
    else:
        await session.execute(insert(clocks).values(volunteer_id=volunteer_id, kind=kind, **values))


async def close_clock(session: AsyncSession, volunteer_id: str, kind: str, closed_at: datetime) -> None:
    """Close the clock if it is running (a closed one keeps its moment)."""
    await session.execute(update(clocks).where(
        clocks.c.volunteer_id == volunteer_id, clocks.c.kind == kind, clocks.c.closed_at.is_(None))
        .values(closed_at=closed_at))


# --- the sweep -------------------------------------------------------------------------------


async def running_clocks_started_by(session: AsyncSession, as_of: datetime) -> list[dict]:
    """Running clocks started at or before `as_of`, with the volunteer's coordinator and `active`."""
    rows = await session.execute(
        select(clocks, volunteers.c.coordinator_email, volunteers.c.active)
        .join(volunteers, volunteers.c.volunteer_id == clocks.c.volunteer_id, isouter=True)
        .where(clocks.c.closed_at.is_(None), clocks.c.started_at <= as_of))
    return [dict(row) for row in rows.mappings()]


async def raised_rungs_of_running_clocks(session: AsyncSession) -> dict[tuple[str, str, datetime], set[str]]:
    """(volunteer, kind, clock start) → the rungs raised for that running clock."""
    rows = await session.execute(
        select(raised.c.volunteer_id, raised.c.kind, raised.c.clock_started_at, raised.c.rung)
        .join(clocks, and_(clocks.c.volunteer_id == raised.c.volunteer_id, clocks.c.kind == raised.c.kind,
                           clocks.c.started_at == raised.c.clock_started_at))
        .where(clocks.c.closed_at.is_(None)))
    found: dict[tuple[str, str, datetime], set[str]] = {}
    for row in rows:
        found.setdefault((row.volunteer_id, row.kind, row.clock_started_at), set()).add(row.rung)
    return found


async def record_raised(session: AsyncSession, row: dict) -> bool:
    """True when recorded; False when the rung was raised before."""
    return await insert_if_absent(session, raised, row)
