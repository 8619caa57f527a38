"""Time-based rules: anniversaries and the coordinator's reminder ahead of them.

Each volunteer row carries `next_sweep_on`, the first day on which a sweep has
something to do for them, so a sweep reads only the volunteers that are due."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time

from sqlalchemy import select

from services.appreciation import domain, handlers
from services.appreciation.rules import Rules
from services.appreciation.state import AppreciationState, Volunteer
from services.appreciation.tables import volunteers
from shared.contracts import TODO_OPENED, TodoOpened
from shared.delivery import Unit
from shared.service import ServiceRuntime

BATCH = 1000
TODO_EVENT_IDS = uuid.UUID("0e6b8a52-3f1d-4c7e-9b55-2d4a6f1c8e90")


async def sweep(runtime: ServiceRuntime, as_of: datetime) -> int:
    """Raise every anniversary and reminder due at `as_of`; the same sweep twice raises nothing twice."""
    settings = runtime.settings
    rules = handlers.rules_for(settings)
    today = domain.local_date(as_of, settings.timezone)
    raised, after_id = 0, ""
    while True:
        # One transaction per page: the page's volunteers are loaded and locked in a
        # few statements and everything it raises is written in one per table.
        async with runtime.unit(now=as_of) as unit:
            due = (await unit.session.scalars(
                select(volunteers.c.volunteer_id)
                .where(volunteers.c.next_sweep_on <= today, volunteers.c.erased_at.is_(None),
                       volunteers.c.volunteer_id > after_id)
                .order_by(volunteers.c.volunteer_id).limit(BATCH))).all()
            state = AppreciationState.of(unit)
            await state.load(due)
            for volunteer_id in due:
                raised += await _raise_due(unit, rules, state.volunteers[volunteer_id], today)
        if len(due) < BATCH:
            return raised
        after_id = due[-1]


async def _raise_due(unit: Unit, rules: Rules, volunteer: Volunteer, today: date) -> int:
    # Read again under the row lock: an erasure or a new start date may have come in since the page was read.
    if volunteer.erased_at is not None or volunteer.next_sweep_on is None or volunteer.next_sweep_on > today:
        return 0
    reached, remind = domain.due_on(rules, volunteer.service_started_on, today)
    raised = 0
    for anniversary in remind:
        context = _context(anniversary)
        reminded = await handlers.queue_mail(unit, volunteer.volunteer_id, anniversary.milestone,
                                             "coordinator-reminder", "coordinator", context)
        raised += reminded
        if reminded:  # the card becomes a to-do in the console, once, with the reminder
            await _open_card_todo(unit, volunteer.volunteer_id, anniversary)
        if "lunch-invitation" in anniversary.rule.notify:
            raised += await handlers.queue_mail(unit, volunteer.volunteer_id, anniversary.milestone,
                                                "lunch-invitation", "volunteer", context)
    for anniversary in reached:
        happened_at = datetime.combine(anniversary.on, time(0), tzinfo=unit.settings.timezone)
        raised += await handlers.record_milestone(unit, volunteer.volunteer_id, anniversary.milestone, happened_at,
                                                  anniversary.rule.notify, _context(anniversary))
    volunteer.set(next_sweep_on=domain.next_relevant_date(rules, volunteer.service_started_on, after=today))
    return raised


def card_todo_id(milestone: str) -> str:
    """To-do ids are per volunteer: one card per milestone."""
    return f"{milestone}-card"


async def _open_card_todo(unit: Unit, volunteer_id: str, anniversary: domain.Anniversary) -> None:
    todo_id = card_todo_id(anniversary.milestone)
    # Derived from the to-do's key, so a replayed sweep would publish the same event (deduplicated).
    event_id = str(uuid.uuid5(TODO_EVENT_IDS, f"todo-opened/{volunteer_id}/{todo_id}"))
    await unit.emit(TODO_OPENED, TodoOpened(
        volunteer_id=volunteer_id, todo_id=todo_id, action="write-card", milestone=anniversary.milestone,
        due_on=anniversary.on, lunch_on=anniversary.lunch_on), event_id=event_id)


def _context(anniversary: domain.Anniversary) -> dict:
    lunch = anniversary.rule.lunch
    return {
        "milestone": anniversary.milestone, "years": anniversary.years, "anniversary_on": anniversary.on.isoformat(),
        "lunch_on": anniversary.lunch_on.isoformat() if anniversary.lunch_on else None,
        "lunch_time": lunch.time.strftime("%H:%M") if lunch else None,
        "lunch_place": lunch.place if lunch else None,
    }
