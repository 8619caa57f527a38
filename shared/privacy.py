"""GDPR articles 15 and 20: what a service holds about one person, as JSON.

Every table of a service with a `volunteer_id` column is read for that id, so a
table added later is part of the export without anyone remembering to add it.
The inbox and outbox are left out: they hold event ids and events in transit."""

from __future__ import annotations

from fastapi.encoders import jsonable_encoder
from sqlalchemy import MetaData, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession


def personal_tables(metadata: MetaData) -> list:
    return [table for table in metadata.sorted_tables
            if "volunteer_id" in table.c and not table.name.endswith(("_inbox", "_outbox"))]


def export_document(volunteer_id: str, tables_by_service: dict[str, dict]) -> dict:
    """What dankjewel holds about a person across services, in the one shape every
    export has (`dankjewel export`, `run all`'s endpoint, the console's download)."""
    return {"volunteer_id": volunteer_id, "services": tables_by_service}


async def export_volunteer(connection: AsyncConnection | AsyncSession, metadata: MetaData,
                           volunteer_id: str) -> dict[str, list[dict]]:
    """{table name: [row, …]} of every row about `volunteer_id`, JSON-ready."""
    found = {}
    for table in personal_tables(metadata):
        rows = await connection.execute(select(table).where(table.c.volunteer_id == volunteer_id))
        found[table.name] = jsonable_encoder([dict(row._mapping) for row in rows])
    return found
