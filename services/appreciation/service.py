"""Wiring of the appreciation service."""

from pathlib import Path

from services.appreciation import api, handlers, mailer, messages, sweep
from services.appreciation.tables import SERVICE, delivery, metadata
from shared.consumer import Subscription
from shared.contracts import (
    ALERT_RAISED,
    APPRECIATION_SENT_V2,
    FOLLOWUP_OVERDUE,
    MILESTONE_REACHED,
    OPPORTUNITY_OFFERED,
    SHIFT_COMPLETED,
    SHIFT_MISSED,
    TODO_OPENED,
    TODO_OVERDUE,
    VOLUNTEER_ERASED,
    VOLUNTEER_REGISTERED,
    VOLUNTEER_UPDATED,
)
from shared.service import ServiceDefinition
from shared.settings import Settings


def check_config(settings: Settings) -> None:
    """Refuse to start on an invalid rules file or an unusable unsubscribe secret."""
    handlers.rules_for(settings)
    messages.check_unsubscribe_secrets(settings)


definition = ServiceDefinition(
    name=SERVICE,
    description="Turns milestones into thank-you cards, invitations and coordinator alerts.",
    metadata=metadata,
    tables=delivery,
    migrations_dir=Path(__file__).parent / "migrations",
    subscriptions=[
        Subscription(VOLUNTEER_REGISTERED, handlers.remember_volunteer),
        Subscription(VOLUNTEER_UPDATED, handlers.update_volunteer),
        Subscription(VOLUNTEER_ERASED, handlers.erase_volunteer),
        Subscription(SHIFT_COMPLETED, handlers.count_shift),
        Subscription(SHIFT_MISSED, handlers.count_missed_shift),
        Subscription(FOLLOWUP_OVERDUE, handlers.alert_on_overdue_follow_up),
        Subscription(OPPORTUNITY_OFFERED, handlers.suggest_opportunity),
        Subscription(TODO_OVERDUE, handlers.mail_lead_on_overdue_todo),
    ],
    prepare_batch=handlers.prepare_batch,
    publishes=[MILESTONE_REACHED, APPRECIATION_SENT_V2, ALERT_RAISED, TODO_OPENED],
    routes=api.routes,
    http_port=8004,
    sweep=sweep.sweep,
    check_config=check_config,
    background=[mailer.send_mail],
)
