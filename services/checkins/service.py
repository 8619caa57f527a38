"""Wiring of the check-in service."""

from pathlib import Path

from services.checkins import api, handlers, rules
from services.checkins.settings import CheckinsSettings
from services.checkins.sweep import sweep
from services.checkins.tables import SERVICE, delivery, metadata
from shared.consumer import Subscription
from shared.contracts import CHECKIN_COMPLETED, FOLLOWUP_OVERDUE
from shared.service import ServiceDefinition

definition = ServiceDefinition(
    name=SERVICE,
    description="Contact moments between coordinator and volunteer, and their deadlines.",
    metadata=metadata,
    tables=delivery,
    migrations_dir=Path(__file__).parent / "migrations",
    subscriptions=[Subscription(event_type) for event_type in handlers.HANDLERS],
    # One transaction at a time per volunteer (see usecases): the batch takes their locks first.
    handle_batch=handlers.handle_batch,
    publishes=[CHECKIN_COMPLETED, FOLLOWUP_OVERDUE],
    routes=api.routes,
    http_port=8003,
    sweep=sweep,
    settings=CheckinsSettings,
    check_config=rules.check_config,
)
