"""Wiring of the task-tracking service."""

from pathlib import Path

from services.tasks import api, handlers
from services.tasks.tables import SERVICE, delivery, metadata
from shared.consumer import Subscription
from shared.contracts import (
    SHIFT_ASSIGNED,
    SHIFT_COMPLETED,
    SHIFT_DECLINED,
    SHIFT_MISSED,
    SHIFT_RELEASED,
    VOLUNTEER_ERASED,
)
from shared.service import ServiceDefinition

definition = ServiceDefinition(
    name=SERVICE,
    description="Tracks shifts and tasks: scheduled, assigned, completed, missed, cancelled.",
    metadata=metadata,
    tables=delivery,
    migrations_dir=Path(__file__).parent / "migrations",
    subscriptions=[
        Subscription(SHIFT_COMPLETED, handlers.record_completed_shift),
        Subscription(VOLUNTEER_ERASED, handlers.erase_volunteer),
        Subscription(SHIFT_DECLINED, handlers.decline_shift),
    ],
    publishes=[SHIFT_COMPLETED, SHIFT_MISSED, SHIFT_ASSIGNED, SHIFT_RELEASED],
    routes=api.routes,
    http_port=8002,
)
