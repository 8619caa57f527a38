"""The console's own tables: accounts, and a read model built only from events."""

from sqlalchemy import (JSON, Boolean, Column, Date, Float, Index, Integer, MetaData, PrimaryKeyConstraint, String,
                        Table, Text, UniqueConstraint)

from shared.db import BigId, UtcDateTime, delivery_tables

SERVICE = "console"
metadata = MetaData()
delivery = delivery_tables(metadata, SERVICE)

# People who sign in: coordinators and administrators (`dankjewel users`).
users = Table(
    "console_users",
    metadata,
    Column("email", String(320), primary_key=True),  # stored lower-case
    Column("role", String(20), nullable=False),  # coordinator | admin
    Column("password_hash", String(200), nullable=False),  # Argon2id, PHC string
    Column("language", String(2), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("disabled_at", UtcDateTime, nullable=True),
)

# Failed sign-ins per account and per address, so that guessing is slow on every instance.
signin_failures = Table(
    "console_signin_failures",
    metadata,
    Column("key", String(400), primary_key=True),  # "account:<email>" or "address:<ip>"
    Column("failures", Integer, nullable=False),
    Column("window_started_at", UtcDateTime, nullable=False),
    Column("locked_until", UtcDateTime, nullable=True),
)

# What the console knows of a volunteer, from volunteers.* and shifts.* events.
# Erased on volunteers.erased: the row stays with erased_at and no personal data.
volunteers = Table(
    "console_volunteers",
    metadata,
    Column("volunteer_id", String(200), primary_key=True),
    Column("name", String(200), nullable=True),
    Column("search_key", String(200), nullable=True),  # the name folded for search
    Column("language", String(2), nullable=True),
    Column("coordinator_email", String(320), nullable=True),
    Column("service_started_on", Date, nullable=True),
    Column("registered_at", UtcDateTime, nullable=True),
    Column("active", Boolean, nullable=False),
    Column("appreciation_mail_consent", Boolean, nullable=True),
    Column("shift_count", Integer, nullable=False),
    Column("last_shift_at", UtcDateTime, nullable=True),
    Column("erased_at", UtcDateTime, nullable=True),
    Index("console_volunteers_search", "search_key"),
)

# Alerts raised by appreciation; one open alert per volunteer and reason. Closed by
# what answers it (a check-in, a shift) or never; acknowledged by a coordinator.
alerts = Table(
    "console_alerts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("volunteer_id", String(200), nullable=False),
    Column("reason", String(100), nullable=False),
    Column("due_since", UtcDateTime, nullable=False),
    Column("raised_at", UtcDateTime, nullable=False),
    Column("times_raised", Integer, nullable=False),  # more than once: escalated
    Column("coordinator_email", String(320), nullable=True),
    Column("acknowledged_by", String(320), nullable=True),
    Column("acknowledged_at", UtcDateTime, nullable=True),
    Column("closed_at", UtcDateTime, nullable=True),
    Column("closed_by", String(100), nullable=True),  # what closed it: checkin, shift, erasure
    Index("console_alerts_open", "closed_at", "due_since"),
    Index("console_alerts_volunteer", "volunteer_id"),
)

# A volunteer's history as the console shows it: one row per event, no personal data
# beyond the id (the name is joined from console_volunteers when shown).
timeline = Table(
    "console_timeline",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("volunteer_id", String(200), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("kind", String(50), nullable=False),
    Column("detail", JSON, nullable=False),
    Column("event_key", String(600), nullable=False),  # source + id: an event appears once
    UniqueConstraint("event_key", name="console_timeline_once"),
    Index("console_timeline_volunteer", "volunteer_id", "at"),
)

# Things a coordinator does by hand (for now: write a card before an anniversary),
# opened by appreciation's todos.opened. Done or snoozed here (todos.done /
# todos.snoozed); reported once when their date passed undone (todos.overdue).
# Deleted on volunteers.erased: the note may say anything about the person.
todos = Table(
    "console_todos",
    metadata,
    Column("volunteer_id", String(200), nullable=False),
    Column("todo_id", String(200), nullable=False),
    Column("action", String(50), nullable=False),  # write-card
    Column("milestone", String(100), nullable=False),
    Column("due_on", Date, nullable=False),
    Column("lunch_on", Date, nullable=True),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("status", String(10), nullable=False),  # open | done
    Column("snoozed_until", Date, nullable=True),
    Column("done_at", UtcDateTime, nullable=True),
    Column("done_by", String(200), nullable=True),  # the account ref (domain.account_ref), not the address
    Column("note", Text, nullable=True),
    Column("escalated_at", UtcDateTime, nullable=True),  # todos.overdue published
    PrimaryKeyConstraint("volunteer_id", "todo_id"),
    Index("console_todos_open", "status", "due_on"),
)

# A volunteer's next milestone of each measure (shifts, hours, years) and what
# dankjewel will send for it, as appreciation announced it (milestones.upcoming):
# the newest announcement of a measure replaces the previous one, the milestone's
# milestones.reached removes it, and so does the volunteer's erasure.
upcoming = Table(
    "console_upcoming",
    metadata,
    Column("volunteer_id", String(200), nullable=False),
    Column("measure", String(20), nullable=False),  # shifts | hours | years
    Column("milestone", String(100), nullable=False),  # e.g. shifts-50, years-5
    Column("threshold", Integer, nullable=False),
    Column("value", Float, nullable=False),  # where the volunteer stands now
    Column("expected_on", Date, nullable=True),  # years: the anniversary
    Column("sends", JSON, nullable=False),  # [{"notification", "audience", "on"}], as published
    Column("announced_at", UtcDateTime, nullable=False),  # the event's time
    PrimaryKeyConstraint("volunteer_id", "measure"),
    Index("console_upcoming_due", "measure", "expected_on"),
)
