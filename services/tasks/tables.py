from sqlalchemy import Column, Index, MetaData, String, Table, Text

from shared.db import UtcDateTime, delivery_tables

SERVICE = "tasks"
metadata = MetaData()
delivery = delivery_tables(metadata, SERVICE)

# One row per shift, scheduled here or reported completed by a rostering system.
# status: scheduled | assigned | completed | missed | cancelled (see domain.TRANSITIONS).
shifts = Table(
    "tasks_shifts",
    metadata,
    Column("shift_id", String(200), primary_key=True),
    # Null while nobody is assigned, and after the volunteer's erasure (GDPR).
    Column("volunteer_id", String(200), nullable=True),
    Column("status", String(20), nullable=False),
    Column("task", String(200), nullable=True),
    # What a shift reminder tells the volunteer: where, whom to ask, what to expect or bring.
    Column("place", String(200), nullable=True),
    Column("contact", String(200), nullable=True),
    Column("bring", Text, nullable=True),
    Column("scheduled_start", UtcDateTime, nullable=True),
    Column("scheduled_end", UtcDateTime, nullable=True),
    Column("started_at", UtcDateTime, nullable=True),  # actual start and end, once completed
    Column("ended_at", UtcDateTime, nullable=True),
    Column("reported_by", String(300), nullable=False),
    Index("tasks_shifts_by_volunteer", "volunteer_id"),
)

# Volunteers erased on request (GDPR), by pseudonymous id: their shifts lost the
# link to them, and shifts reported later for them are kept without it.
erasures = Table(
    "tasks_erasures",
    metadata,
    Column("volunteer_id", String(200), primary_key=True),
    Column("requested_at", UtcDateTime, nullable=False),
)
