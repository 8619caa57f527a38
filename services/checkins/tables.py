from sqlalchemy import Boolean, Column, Index, MetaData, String, Table

from shared.db import UtcDateTime, delivery_tables

SERVICE = "checkins"
metadata = MetaData()
delivery = delivery_tables(metadata, SERVICE)

# A clock runs from the moment a contact moment became due until one is held.
# One per volunteer and kind (intake, onboarding, periodic, quiet).
clocks = Table(
    "checkins_clocks",
    metadata,
    Column("volunteer_id", String(200), primary_key=True),
    Column("kind", String(20), primary_key=True),
    Column("started_at", UtcDateTime, nullable=False),
    Column("due_at", UtcDateTime, nullable=False),
    Column("closed_at", UtcDateTime, nullable=True),
    # What started it, for the overdue event's `detail` ("offer of help for 'Gardening'").
    Column("subject", String(300), nullable=True),
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

# What this service knows of a volunteer. Personal data (the coordinator's address)
# is erased on volunteers.erased; the row stays, with erased_at set, so that late
# events for the same pseudonymous id start no new clocks.
volunteers = Table(
    "checkins_volunteers",
    metadata,
    Column("volunteer_id", String(200), primary_key=True),
    Column("coordinator_email", String(320), nullable=True),
    Column("registered_at", UtcDateTime, nullable=True),
    Column("active", Boolean, nullable=False),
    Column("updated_at", UtcDateTime, nullable=True),  # of the newest volunteers.updated applied
    Column("last_shift_at", UtcDateTime, nullable=True),  # end of the latest completed shift
    Column("erased_at", UtcDateTime, nullable=True),
)

# Every rung the sweep raised: the same (volunteer, kind, clock start, rung) is
# raised once, and its event id is derived from this key.
raised = Table(
    "checkins_raised",
    metadata,
    Column("volunteer_id", String(200), primary_key=True),
    Column("kind", String(20), primary_key=True),
    Column("clock_started_at", UtcDateTime, primary_key=True),
    Column("rung", String(20), primary_key=True),
    Column("event_id", String(100), nullable=False),
    Column("due_since", UtcDateTime, nullable=False),
    Column("raised_at", UtcDateTime, nullable=False),  # the `as_of` of the sweep that raised it
)
