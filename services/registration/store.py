"""Registration's SQL over its tables (tables.py): reads and writes, no decisions.

Every function runs inside the caller's transaction (the session of a Unit or a
read-only session); rows come back as plain dicts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.registration.tables import applications, erasures, opportunities, volunteers
from shared.db import insert_if_absent

# --- volunteers ---------------------------------------------------------------------------


async def volunteer(session: AsyncSession, volunteer_id: str, *, for_update: bool = False) -> dict | None:
    query = select(volunteers).where(volunteers.c.volunteer_id == volunteer_id)
    row = (await session.execute(query.with_for_update() if for_update else query)).mappings().first()
    return dict(row) if row is not None else None


async def insert_volunteer(session: AsyncSession, row: dict) -> bool:
    """True when inserted; False when the id is registered already (nothing changes)."""
    return await insert_if_absent(session, volunteers, row)


async def update_volunteer(session: AsyncSession, volunteer_id: str, changes: dict, updated_at: datetime) -> None:
    await session.execute(update(volunteers).where(volunteers.c.volunteer_id == volunteer_id)
                          .values(**changes, updated_at=updated_at))


async def mail_consenting_active_volunteers(session: AsyncSession) -> list[dict]:
    """Profiles (id, language, interests, skills, availability) of the volunteers an
    opportunity may be offered to."""
    rows = await session.execute(
        select(volunteers.c.volunteer_id, volunteers.c.language, volunteers.c.interests, volunteers.c.skills,
               volunteers.c.availability)
        .where(volunteers.c.appreciation_mail_consent.is_(True), volunteers.c.active.is_(True)))
    return [dict(row) for row in rows.mappings()]


async def delete_personal_data(session: AsyncSession, volunteer_id: str) -> None:
    """The volunteer's row (name, email, availability, …) and applications."""
    await session.execute(delete(applications).where(applications.c.volunteer_id == volunteer_id))
    await session.execute(delete(volunteers).where(volunteers.c.volunteer_id == volunteer_id))


# --- erasures -----------------------------------------------------------------------------


async def erased_since(session: AsyncSession, volunteer_id: str) -> datetime | None:
    return await session.scalar(select(erasures.c.erased_at).where(erasures.c.volunteer_id == volunteer_id))


async def record_erasure(session: AsyncSession, volunteer_id: str, erased_at: datetime) -> None:
    if not await insert_if_absent(session, erasures, dict(volunteer_id=volunteer_id, erased_at=erased_at)):
        await session.execute(update(erasures).where(erasures.c.volunteer_id == volunteer_id)
                              .values(erased_at=erased_at))


# --- opportunities ------------------------------------------------------------------------


async def opportunity(session: AsyncSession, opportunity_id: str) -> dict | None:
    row = (await session.execute(select(opportunities).where(
        opportunities.c.opportunity_id == opportunity_id))).mappings().first()
    return dict(row) if row is not None else None


async def insert_opportunity(session: AsyncSession, row: dict) -> bool:
    """True when inserted; False when the id exists (nothing changes)."""
    return await insert_if_absent(session, opportunities, row)


async def set_opportunity_open(session: AsyncSession, opportunity_id: str, is_open: bool) -> None:
    await session.execute(update(opportunities).where(opportunities.c.opportunity_id == opportunity_id)
                          .values(is_open=is_open))


async def open_opportunities(session: AsyncSession) -> list[dict]:
    rows = await session.execute(select(opportunities).where(opportunities.c.is_open.is_(True)))
    return [dict(row) for row in rows.mappings()]


# --- applications -------------------------------------------------------------------------


async def has_applied(session: AsyncSession, volunteer_id: str, opportunity_id: str) -> bool:
    return await session.scalar(select(applications.c.application_id).where(
        applications.c.volunteer_id == volunteer_id, applications.c.opportunity_id == opportunity_id)) is not None


async def insert_application(session: AsyncSession, row: dict) -> bool:
    """True when inserted; False when the application id exists (nothing changes)."""
    return await insert_if_absent(session, applications, row)
