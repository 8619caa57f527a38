from sqlalchemy import JSON, Boolean, Column, Date, Index, Integer, MetaData, String, Table, Text, false, true

from shared.db import UtcDateTime, delivery_tables

SERVICE = "registration"
metadata = MetaData()
delivery = delivery_tables(metadata, SERVICE)

volunteers = Table(
    "registration_volunteers",
    metadata,
    Column("volunteer_id", String(200), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("email", String(320), nullable=False),
    Column("language", String(2), nullable=False),
    Column("registered_at", UtcDateTime, nullable=False),
    Column("service_started_on", Date, nullable=True),
    Column("coordinator_email", String(320), nullable=True),
    Column("registered_via", String(300), nullable=False),
    Column("interests", JSON, nullable=False, server_default="[]"),
    Column("skills", JSON, nullable=False, server_default="[]"),
    Column("availability", JSON, nullable=True),  # domain.Availability as JSON
    Column("appreciation_mail_consent", Boolean, nullable=False, server_default=true()),
    Column("named_in_group_messages_consent", Boolean, nullable=False, server_default=false()),
    # Reminders of scheduled shifts: a consent of its own, apart from appreciation mail.
    Column("shift_reminder_consent", Boolean, nullable=False, server_default=true()),
    Column("active", Boolean, nullable=False, server_default=true()),
    Column("updated_at", UtcDateTime, nullable=True),
)

opportunities = Table(
    "registration_opportunities",
    metadata,
    Column("opportunity_id", String(200), primary_key=True),
    Column("organisation", String(200), nullable=True),
    Column("title", String(200), nullable=False),
    Column("summary", Text, nullable=True),
    Column("tasks", JSON, nullable=False),
    Column("minutes_per_occurrence", Integer, nullable=False),
    Column("how_often", String(200), nullable=True),
    Column("schedule", String(20), nullable=False),  # one-off | recurring | on-call | short-project
    Column("when", JSON, nullable=False),  # list of domain.Slot as JSON
    Column("skills", JSON, nullable=False),
    Column("interests", JSON, nullable=False),
    Column("guidance", Text, nullable=False),
    Column("onboarding_minutes", Integer, nullable=False),
    Column("contact_name", String(200), nullable=False),
    Column("contact_email", String(320), nullable=False),
    Column("is_open", Boolean, nullable=False),
    Column("published_at", UtcDateTime, nullable=False),
)

applications = Table(
    "registration_applications",
    metadata,
    Column("application_id", String(200), primary_key=True),
    Column("volunteer_id", String(200), nullable=False),
    Column("opportunity_id", String(200), nullable=True),  # None: help offered in general
    Column("offered_at", UtcDateTime, nullable=False),
    Index("registration_applications_by_volunteer", "volunteer_id"),
)

# Who was erased, and when: a registration event older than the erasure that arrives
# late (another topic, replays) must not bring the personal data back. The id alone
# names nobody.
erasures = Table(
    "registration_erasures",
    metadata,
    Column("volunteer_id", String(200), primary_key=True),
    Column("erased_at", UtcDateTime, nullable=False),
)
