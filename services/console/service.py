"""Wiring of the coordinator console."""

from pathlib import Path

from fastapi import APIRouter

from services.console import accounts, handlers, sweep, web
from services.console.settings import ConsoleSettings
from services.console.tables import SERVICE, delivery, metadata
from shared.consumer import Subscription
from shared.contracts import (
    ALERT_ACKNOWLEDGED,
    ALERT_RAISED,
    APPRECIATION_SENT,
    APPRECIATION_SENT_V2,
    CHECKIN_COMPLETED,
    HELP_OFFERED,
    MILESTONE_REACHED,
    MILESTONE_UPCOMING,
    SHIFT_COMPLETED,
    SHIFT_MISSED,
    TODO_DONE,
    TODO_OPENED,
    TODO_OVERDUE,
    TODO_SNOOZED,
    VOLUNTEER_ERASED,
    VOLUNTEER_REGISTERED,
    VOLUNTEER_UPDATED,
)
from shared.service import ServiceDefinition, ServiceRuntime
from shared.settings import require_secret


def check_config(settings: ConsoleSettings) -> None:
    """Sign-in cookies are signed with CONSOLE_SESSION_SECRET: no secret, no console."""
    require_secret(settings, "console_session_secret")


def routes(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter()
    router.include_router(accounts.routes(runtime))
    router.include_router(web.routes(runtime))
    return router


definition = ServiceDefinition(
    name=SERVICE,
    description="Where coordinators see, act on and close their work (HTML pages; sign in at /login).",
    metadata=metadata,
    tables=delivery,
    migrations_dir=Path(__file__).parent / "migrations",
    subscriptions=[
        Subscription(VOLUNTEER_REGISTERED, handlers.remember_registration),
        Subscription(VOLUNTEER_UPDATED, handlers.apply_update),
        Subscription(VOLUNTEER_ERASED, handlers.erase),
        Subscription(SHIFT_COMPLETED, handlers.count_shift),
        Subscription(SHIFT_MISSED, handlers.note_missed_shift),
        Subscription(CHECKIN_COMPLETED, handlers.note_checkin),
        Subscription(HELP_OFFERED, handlers.note_offer_of_help),
        Subscription(ALERT_RAISED, handlers.open_alert),
        Subscription(ALERT_ACKNOWLEDGED, handlers.note_acknowledgement),
        Subscription(MILESTONE_REACHED, handlers.note_milestone),
        Subscription(MILESTONE_UPCOMING, handlers.note_upcoming),
        Subscription(APPRECIATION_SENT_V2, handlers.note_mail),
        Subscription(APPRECIATION_SENT, handlers.note_mail),  # records from before v2
        Subscription(TODO_OPENED, handlers.open_todo),
        Subscription(TODO_DONE, handlers.note_todo_done),
        Subscription(TODO_SNOOZED, handlers.note_todo_snoozed),
    ],
    publishes=[CHECKIN_COMPLETED, ALERT_ACKNOWLEDGED, VOLUNTEER_ERASED, TODO_DONE, TODO_SNOOZED, TODO_OVERDUE],
    routes=routes,
    http_setup=accounts.install,
    http_port=8005,
    sweep=sweep.sweep,  # to-dos whose date passed undone
    settings=ConsoleSettings,
    check_config=check_config,
)
