from sqlalchemy import Column, Index, MetaData, String, Table

from shared.db import UtcDateTime, delivery_tables

SERVICE = "tasks"
metadata = MetaData()
delivery = delivery_tables(metadata, SERVICE)

shifts = Table(
    "tasks_shifts",
    metadata,
    Column("shift_id", String(200), primary_key=True),
    Column("volunteer_id", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    Column("task", String(200), nullable=True),
    Column("started_at", UtcDateTime, nullable=True),
    Column("ended_at", UtcDateTime, nullable=True),
    Column("reported_by", String(300), nullable=False),
    Index("tasks_shifts_by_volunteer", "volunteer_id"),
)
