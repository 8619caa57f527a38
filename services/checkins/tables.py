from sqlalchemy import Column, Index, MetaData, String, Table

from shared.db import UtcDateTime, delivery_tables

SERVICE = "checkins"
metadata = MetaData()
delivery = delivery_tables(metadata, SERVICE)

# A clock runs from the moment a contact moment became due until one is held.
clocks = Table(
    "checkins_clocks",
    metadata,
    Column("volunteer_id", String(200), primary_key=True),
    Column("kind", String(20), primary_key=True),
    Column("started_at", UtcDateTime, nullable=False),
    Column("due_at", UtcDateTime, nullable=False),
    Column("closed_at", UtcDateTime, nullable=True),
)

checkins = Table(
    "checkins_checkins",
    metadata,
    Column("checkin_id", String(200), primary_key=True),
    Column("volunteer_id", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("held_at", UtcDateTime, nullable=False),
    Index("checkins_by_volunteer", "volunteer_id"),
)
