"""The console's time-based rule: a to-do whose date passed undone is reported once
(`todos.overdue`; appreciation then tells the organisation's lead).

`escalated_at` records that it was reported, and the event id is derived from the
to-do's key: a second sweep raises nothing, a replayed event carries the same id."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update

from services.console import domain
from services.console.tables import todos
from shared.contracts import TODO_OVERDUE, TodoOverdue
from shared.service import ServiceRuntime

EVENT_ID_NAMESPACE = uuid.UUID("8c2f4d1a-6b3e-4f57-a0d9-3e5b7c9a1f24")


def overdue_event_id(volunteer_id: str, todo_id: str) -> str:
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"todo-overdue/{volunteer_id}/{todo_id}"))


async def sweep(runtime: ServiceRuntime, as_of: datetime) -> int:
    """Report every to-do overdue on `as_of`'s local date (ORG_TIMEZONE); return how many."""
    today = as_of.astimezone(runtime.settings.timezone).date()
    async with runtime.unit(now=as_of) as unit:
        # Locked, so a coordinator marking one done right now either wins or waits;
        # rows another sweep holds are left to it (SKIP LOCKED).
        candidates = (await unit.session.execute(
            select(todos).where(todos.c.status == "open", todos.c.escalated_at.is_(None), todos.c.due_on < today)
            .order_by(todos.c.due_on, todos.c.volunteer_id, todos.c.todo_id)
            .with_for_update(skip_locked=True))).all()
        overdue = [row for row in candidates
                   if domain.todo_overdue(row.due_on, today, snoozed_until=row.snoozed_until)]
        for row in overdue:
            await unit.session.execute(update(todos).where(
                todos.c.volunteer_id == row.volunteer_id, todos.c.todo_id == row.todo_id).values(escalated_at=as_of))
            await unit.emit(TODO_OVERDUE, TodoOverdue(
                volunteer_id=row.volunteer_id, todo_id=row.todo_id, action=row.action, milestone=row.milestone,
                due_on=row.due_on), event_id=overdue_event_id(row.volunteer_id, row.todo_id))
    return len(overdue)
