"""Wiring of the appreciation service: what it consumes and publishes, its routes,
its sweep and its mail sender. Layers and the walk of one event: docs/architecture.md."""

from pathlib import Path

from services.appreciation import api, handlers, mailer, messages, rules, usecases
from services.appreciation.settings import AppreciationSettings
from services.appreciation.tables import SERVICE, delivery, metadata
from shared.consumer import Subscription
from shared.contracts import (
    ALERT_RAISED,
    APPRECIATION_SENT_V2,
    FOLLOWUP_OVERDUE,
    MILESTONE_REACHED,
    MILESTONE_UPCOMING,
    OPPORTUNITY_OFFERED,
    SHIFT_ASSIGNED,
    SHIFT_COMPLETED,
    SHIFT_DECLINED,
    SHIFT_MISSED,
    SHIFT_RELEASED,
    TODO_OPENED,
    TODO_OVERDUE,
    VOLUNTEER_ERASED,
    VOLUNTEER_REGISTERED,
    VOLUNTEER_UPDATED,
)
from shared.service import ServiceDefinition


def check_config(settings: AppreciationSettings) -> None:
    """Refuse to start on an invalid rules file or an unusable unsubscribe secret."""
    rules.rules_for(settings)
    messages.check_unsubscribe_secrets(settings)


definition = ServiceDefinition(
    name=SERVICE,
    description="Turns milestones into thank-you cards, invitations and coordinator alerts.",
    metadata=metadata,
    tables=delivery,
    migrations_dir=Path(__file__).parent / "migrations",
    # Every consumed event goes through handlers.apply, a transaction's events at once.
    subscriptions=[Subscription(event_type) for event_type in (
        VOLUNTEER_REGISTERED, VOLUNTEER_UPDATED, VOLUNTEER_ERASED, SHIFT_COMPLETED, SHIFT_MISSED,
        FOLLOWUP_OVERDUE, OPPORTUNITY_OFFERED, TODO_OVERDUE, SHIFT_ASSIGNED, SHIFT_RELEASED, SHIFT_DECLINED)],
    handle_batch=handlers.apply,
    publishes=[MILESTONE_REACHED, MILESTONE_UPCOMING, APPRECIATION_SENT_V2, ALERT_RAISED, TODO_OPENED,
               SHIFT_DECLINED],
    routes=api.routes,
    http_port=8004,
    sweep=usecases.sweep,
    settings=AppreciationSettings,
    check_config=check_config,
    background=[mailer.send_mail],
)
