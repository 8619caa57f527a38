"""Wiring of the check-in service."""

from pathlib import Path

from services.checkins import api, handlers
from services.checkins.tables import SERVICE, delivery, metadata
from shared.consumer import Subscription
from shared.contracts import CHECKIN_COMPLETED, VOLUNTEER_REGISTERED
from shared.service import ServiceDefinition

definition = ServiceDefinition(
    name=SERVICE,
    description="Contact moments between coordinator and volunteer, and their deadlines.",
    metadata=metadata,
    tables=delivery,
    migrations_dir=Path(__file__).parent / "migrations",
    subscriptions=[
        Subscription(VOLUNTEER_REGISTERED, handlers.start_intake_clock),
        Subscription(CHECKIN_COMPLETED, handlers.record_checkin),
    ],
    publishes=[CHECKIN_COMPLETED],
    routes=api.routes,
    http_port=8003,
)
