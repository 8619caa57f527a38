from sqlalchemy import JSON, Boolean, Column, Date, Float, Index, Integer, MetaData, String, Table, UniqueConstraint

from shared.db import BigId, UtcDateTime, delivery_tables

SERVICE = "appreciation"
metadata = MetaData()
delivery = delivery_tables(metadata, SERVICE)

# The engagement picture of one volunteer, kept from the events. A row may exist
# before the registration arrives (a shift first): then name and email are empty.
volunteers = Table(
    "appreciation_volunteers",
    metadata,
    Column("volunteer_id", String(200), primary_key=True),
    Column("name", String(200), nullable=True),
    Column("email", String(320), nullable=True),
    Column("language", String(2), nullable=False, server_default="nl"),
    Column("service_started_on", Date, nullable=True),
    Column("coordinator_email", String(320), nullable=True),
    Column("registered_at", UtcDateTime, nullable=True),
    Column("consent", Boolean, nullable=False, server_default="1"),
    Column("unsubscribed_at", UtcDateTime, nullable=True),
    # Shift reminders: a consent of its own (registration's, or "no more reminders" here).
    Column("shift_reminder_consent", Boolean, nullable=False, server_default="1"),
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("shift_count", Integer, nullable=False, server_default="0"),
    Column("hours", Float, nullable=False, server_default="0"),
    Column("first_shift_at", UtcDateTime, nullable=True),
    Column("last_activity_at", UtcDateTime, nullable=True),
    Column("missed_in_a_row", Integer, nullable=False, server_default="0"),
    Column("next_sweep_on", Date, nullable=True),
    Column("erased_at", UtcDateTime, nullable=True),
    Index("appreciation_volunteers_next_sweep", "next_sweep_on"),
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

# Mail to send: one row per (volunteer, occasion, notification), so never twice.
# Rendered and addressed when sent, so consent, unsubscribe and erasure at that
# moment decide, and a mail queued before the registration arrived waits for it.
mails = Table(
    "appreciation_mails",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("volunteer_id", String(200), nullable=False),
    Column("occasion", String(150), nullable=False),
    Column("notification", String(50), nullable=False),
    Column("audience", String(20), nullable=False),  # volunteer | coordinator | lead
    Column("context", JSON, nullable=False),
    Column("status", String(20), nullable=False),  # pending | sent | failed | skipped
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("last_error", String(500), nullable=True),
    Column("recipient", String(320), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime, nullable=True),
    UniqueConstraint("volunteer_id", "occasion", "notification", name="appreciation_mails_once"),
    Index("appreciation_mails_due", "status", "next_attempt_at"),
)

# The rules last applied to every volunteer (`usecases.apply_changed_rules`): one row,
# the digest of the rules' milestones and grace window. A different digest at the
# next sweep re-evaluates every volunteer once.
rules_applied = Table(
    "appreciation_rules_applied",
    metadata,
    Column("name", String(20), primary_key=True),  # always "rules"
    Column("digest", String(64), nullable=False),
    Column("applied_at", UtcDateTime, nullable=False),
)
