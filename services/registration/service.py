"""Wiring of the registration service."""

from pathlib import Path

from services.registration import api, handlers
from services.registration.tables import SERVICE, delivery, metadata
from shared.consumer import Subscription
from shared.contracts import (
    HELP_OFFERED,
    OPPORTUNITY_OFFERED,
    VOLUNTEER_ERASED,
    VOLUNTEER_REGISTERED,
    VOLUNTEER_UPDATED,
)
from shared.service import ServiceDefinition

definition = ServiceDefinition(
    name=SERVICE,
    description="Registers volunteers, publishes opportunities and matches them.",
    metadata=metadata,
    tables=delivery,
    migrations_dir=Path(__file__).parent / "migrations",
    subscriptions=[
        Subscription(VOLUNTEER_REGISTERED, handlers.remember_registration),
        Subscription(VOLUNTEER_ERASED, handlers.erase_personal_data),
    ],
    publishes=[VOLUNTEER_REGISTERED, VOLUNTEER_UPDATED, HELP_OFFERED, OPPORTUNITY_OFFERED],
    routes=api.routes,
    http_port=8001,
)
