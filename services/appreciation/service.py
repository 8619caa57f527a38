"""Wiring of the appreciation service."""

from pathlib import Path

from services.appreciation import api, handlers
from services.appreciation.tables import SERVICE, delivery, metadata
from shared.consumer import Subscription
from shared.contracts import MILESTONE_REACHED, SHIFT_COMPLETED, VOLUNTEER_REGISTERED
from shared.service import ServiceDefinition

definition = ServiceDefinition(
    name=SERVICE,
    description="Turns milestones into thank-you cards, invitations and coordinator alerts.",
    metadata=metadata,
    tables=delivery,
    migrations_dir=Path(__file__).parent / "migrations",
    subscriptions=[
        Subscription(VOLUNTEER_REGISTERED, handlers.remember_volunteer),
        Subscription(SHIFT_COMPLETED, handlers.count_shift_and_detect_milestones),
    ],
    publishes=[MILESTONE_REACHED],
    routes=api.routes,
    http_port=8004,
)
