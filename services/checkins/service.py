"""Wiring of the check-in service."""

from pathlib import Path

from services.checkins import api, handlers
from services.checkins.sweep import sweep
from services.checkins.tables import SERVICE, delivery, metadata
from shared.consumer import Subscription
from shared.contracts import (
    CHECKIN_COMPLETED,
    FOLLOWUP_OVERDUE,
    HELP_OFFERED,
    SHIFT_COMPLETED,
    VOLUNTEER_ERASED,
    VOLUNTEER_REGISTERED,
    VOLUNTEER_UPDATED,
)
from shared.service import ServiceDefinition

definition = ServiceDefinition(
    name=SERVICE,
    description="Contact moments between coordinator and volunteer, and their deadlines.",
    metadata=metadata,
    tables=delivery,
    migrations_dir=Path(__file__).parent / "migrations",
    subscriptions=[
        Subscription(VOLUNTEER_REGISTERED, handlers.start_clocks_after_registration),
        Subscription(HELP_OFFERED, handlers.start_intake_after_offer_of_help),
        Subscription(CHECKIN_COMPLETED, handlers.record_checkin),
        Subscription(SHIFT_COMPLETED, handlers.start_onboarding_after_first_shift),
        Subscription(VOLUNTEER_UPDATED, handlers.apply_volunteer_update),
        Subscription(VOLUNTEER_ERASED, handlers.erase_volunteer),
    ],
    publishes=[CHECKIN_COMPLETED, FOLLOWUP_OVERDUE],
    routes=api.routes,
    http_port=8003,
    sweep=sweep,
)
