from sqlalchemy import Boolean, Column, Date, Index, MetaData, String, Table

from shared.db import UtcDateTime, delivery_tables

SERVICE = "appreciation"
metadata = MetaData()
delivery = delivery_tables(metadata, SERVICE)

volunteers = Table(
    "appreciation_volunteers",
    metadata,
    Column("volunteer_id", String(200), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("email", String(320), nullable=False),
    Column("language", String(2), nullable=False),
    Column("service_started_on", Date, nullable=False),
    Column("coordinator_email", String(320), nullable=True),
    Column("registered_at", UtcDateTime, nullable=False),
)

shifts = Table(
    "appreciation_shifts",
    metadata,
    Column("shift_id", String(200), primary_key=True),
    Column("volunteer_id", String(200), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime, nullable=False),
    Index("appreciation_shifts_by_volunteer", "volunteer_id"),
)

# The ledger: each (volunteer, milestone) once, whatever is redelivered or replayed.
ledger = Table(
    "appreciation_ledger",
    metadata,
    Column("volunteer_id", String(200), primary_key=True),
    Column("milestone", String(100), primary_key=True),
    Column("reached_on", Date, nullable=False),
    Column("detected_at", UtcDateTime, nullable=False),
    Column("celebrated", Boolean, nullable=False),
)
