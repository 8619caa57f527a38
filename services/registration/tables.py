from sqlalchemy import Column, Date, MetaData, String, Table

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
)
