"""Event → the console's read model, one function per consumed event type.

The console keeps only what coordinators look at: a volunteer's name (for search),
language, coordinator and counts; open alerts; to-dos; upcoming milestones; and a
timeline of ids, dates and kinds. It never reads another service's tables."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import delete, select, update

from services.console import domain
from services.console.tables import alerts, timeline, todos, upcoming, volunteers
from shared.db import insert_if_absent
from shared.delivery import Unit
from shared.envelope import Envelope

log = logging.getLogger(__name__)


async def _volunteer(unit: Unit, volunteer_id: str):  # noqa: ANN202 - a Row or None
    return (await unit.session.execute(select(volunteers).where(volunteers.c.volunteer_id == volunteer_id))).first()


async def _known_and_not_erased(unit: Unit, volunteer_id: str) -> bool:
    """Make sure the volunteer has a row (events may come before the registration);
    False when they were erased: nothing more is kept about them."""
    await insert_if_absent(unit.session, volunteers, dict(volunteer_id=volunteer_id, active=True, shift_count=0))
    return (await _volunteer(unit, volunteer_id)).erased_at is None


async def _note(unit: Unit, event: Envelope, kind: str, at: datetime, **detail) -> bool:
    """Add the event to the volunteer's timeline (once, whatever is redelivered); True
    when it was not there before."""
    return await insert_if_absent(unit.session, timeline, dict(
        volunteer_id=event.data.volunteer_id, at=at, kind=kind, detail=detail,
        event_key=f"{event.source}|{event.id}"))


async def _close_alerts(unit: Unit, volunteer_id: str, closes, closed_by: str) -> None:  # noqa: ANN001
    open_alerts = await unit.session.execute(select(alerts.c.id, alerts.c.reason).where(
        alerts.c.volunteer_id == volunteer_id, alerts.c.closed_at.is_(None)))
    ids = [row.id for row in open_alerts if closes(row.reason)]
    if ids:
        await unit.session.execute(update(alerts).where(alerts.c.id.in_(ids)).values(
            closed_at=unit.now, closed_by=closed_by))


async def remember_registration(unit: Unit, event: Envelope) -> None:
    data = event.data
    if not await _known_and_not_erased(unit, data.volunteer_id):
        return
    await unit.session.execute(update(volunteers).where(volunteers.c.volunteer_id == data.volunteer_id).values(
        name=data.name, search_key=domain.search_key(data.name), language=data.language,
        coordinator_email=data.coordinator_email or unit.settings.default_coordinator_email,
        service_started_on=data.service_started_on or data.registered_at.date(),
        registered_at=data.registered_at, appreciation_mail_consent=data.appreciation_mail_consent))
    await _note(unit, event, "registered", data.registered_at)


async def apply_update(unit: Unit, event: Envelope) -> None:
    data = event.data
    if not await _known_and_not_erased(unit, data.volunteer_id):
        return
    changes = {field: value for field, value in data.model_dump(
        include={"name", "language", "coordinator_email", "appreciation_mail_consent", "active"}).items()
        if value is not None}
    if "name" in changes:
        changes["search_key"] = domain.search_key(changes["name"])
    if changes:
        await unit.session.execute(update(volunteers).where(volunteers.c.volunteer_id == data.volunteer_id)
                                   .values(**changes))
    if data.email is not None:  # the console keeps no address, but a new one answers a failed delivery
        await _close_alerts(unit, data.volunteer_id, lambda reason: domain.closed_by_update(reason, {"email"}),
                            "update")
    await _note(unit, event, "updated", data.updated_at,
                fields=sorted(set(changes) - {"search_key", "name"} | ({"name"} if "name" in changes else set())))


async def erase(unit: Unit, event: Envelope) -> None:
    """GDPR erasure: name, coordinator, timeline and to-dos go, alerts are closed; the bare id
    stays with erased_at so that late events bring nothing back."""
    volunteer_id = event.data.volunteer_id
    await unit.forget_pending_events(volunteer_id)
    await insert_if_absent(unit.session, volunteers, dict(volunteer_id=volunteer_id, active=False, shift_count=0))
    await unit.session.execute(update(volunteers).where(volunteers.c.volunteer_id == volunteer_id).values(
        name=None, search_key=None, language=None, coordinator_email=None, service_started_on=None,
        registered_at=None, appreciation_mail_consent=None, active=False, last_shift_at=None,
        erased_at=event.data.requested_at))
    await unit.session.execute(delete(timeline).where(timeline.c.volunteer_id == volunteer_id))
    await unit.session.execute(delete(todos).where(todos.c.volunteer_id == volunteer_id))
    await unit.session.execute(delete(upcoming).where(upcoming.c.volunteer_id == volunteer_id))
    await unit.session.execute(update(alerts).where(alerts.c.volunteer_id == volunteer_id).values(
        coordinator_email=None, acknowledged_by=None))
    await _close_alerts(unit, volunteer_id, lambda reason: True, "erasure")
    log.info("console: volunteer %s erased", volunteer_id)


async def count_shift(unit: Unit, event: Envelope) -> None:
    data = event.data
    if not await _known_and_not_erased(unit, data.volunteer_id):
        return
    if await _note(unit, event, "shift-completed", data.ended_at, shift_id=data.shift_id, task=data.task,
                   hours=round((data.ended_at - data.started_at).total_seconds() / 3600, 2)):
        volunteer = await _volunteer(unit, data.volunteer_id)
        last = max(filter(None, [volunteer.last_shift_at, data.ended_at]))
        await unit.session.execute(update(volunteers).where(volunteers.c.volunteer_id == data.volunteer_id)
                                   .values(shift_count=volunteers.c.shift_count + 1, last_shift_at=last))
    await _close_alerts(unit, data.volunteer_id, domain.closed_by_shift, "shift")


async def note_missed_shift(unit: Unit, event: Envelope) -> None:
    data = event.data
    if await _known_and_not_erased(unit, data.volunteer_id):
        await _note(unit, event, "shift-missed", data.scheduled_start, shift_id=data.shift_id)


async def note_checkin(unit: Unit, event: Envelope) -> None:
    data = event.data
    if not await _known_and_not_erased(unit, data.volunteer_id):
        return
    await _note(unit, event, "checkin", data.held_at, checkin_kind=data.kind)
    await _close_alerts(unit, data.volunteer_id, lambda reason: domain.closed_by_checkin(reason, data.kind),
                        "checkin")


async def note_offer_of_help(unit: Unit, event: Envelope) -> None:
    data = event.data
    if await _known_and_not_erased(unit, data.volunteer_id):
        await _note(unit, event, "help-offered", data.offered_at, opportunity=data.opportunity_title)


async def open_alert(unit: Unit, event: Envelope) -> None:
    """One open alert per volunteer and reason: a second raise of it (the escalation
    to the lead) marks it escalated rather than adding another line."""
    data = event.data
    if not await _known_and_not_erased(unit, data.volunteer_id):
        return
    if not await _note(unit, event, "alert", event.time or unit.now, reason=data.reason):
        return  # this raise was counted already
    current = (await unit.session.execute(select(alerts.c.id).where(
        alerts.c.volunteer_id == data.volunteer_id, alerts.c.reason == data.reason,
        alerts.c.closed_at.is_(None)))).first()
    if current is None:
        await unit.session.execute(alerts.insert().values(
            volunteer_id=data.volunteer_id, reason=data.reason, due_since=data.due_since,
            raised_at=event.time or unit.now, times_raised=1, coordinator_email=data.coordinator_email))
    else:
        await unit.session.execute(update(alerts).where(alerts.c.id == current.id).values(
            times_raised=alerts.c.times_raised + 1))


async def note_acknowledgement(unit: Unit, event: Envelope) -> None:
    """Another console instance (or this one's own echo) took an alert on."""
    data = event.data
    await unit.session.execute(update(alerts).where(
        alerts.c.volunteer_id == data.volunteer_id, alerts.c.reason == data.reason,
        alerts.c.closed_at.is_(None), alerts.c.acknowledged_at.is_(None)).values(
        acknowledged_at=data.acknowledged_at, acknowledged_by=data.by))


async def note_milestone(unit: Unit, event: Envelope) -> None:
    """A milestone reached: on the timeline, and no longer upcoming."""
    data = event.data
    if await _known_and_not_erased(unit, data.volunteer_id):
        await _note(unit, event, "milestone", datetime.combine(data.reached_on, datetime.min.time(), unit.now.tzinfo),
                    milestone=data.milestone, celebrated=data.celebrated)
        await unit.session.execute(delete(upcoming).where(
            upcoming.c.volunteer_id == data.volunteer_id, upcoming.c.milestone == data.milestone))


async def _reached(unit: Unit, volunteer_id: str) -> set[str]:
    """The milestones the volunteer reached, as far as the console has heard (its timeline)."""
    details = await unit.session.scalars(select(timeline.c.detail).where(
        timeline.c.volunteer_id == volunteer_id, timeline.c.kind == "milestone"))
    return {detail.get("milestone") for detail in details}


def _upsert(session, table):  # noqa: ANN001, ANN202 - the dialect's INSERT, which has ON CONFLICT DO UPDATE
    if session.bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


async def note_upcoming(unit: Unit, event: Envelope) -> None:
    """A volunteer's next milestone of a measure, and what dankjewel will send for it.
    It replaces what the console knew of that measure: the topic is keyed by volunteer,
    so the last one consumed is the newest. One already reached (the reached event,
    on another topic, came first) is out of date and changes nothing."""
    data = event.data
    if not await _known_and_not_erased(unit, data.volunteer_id):
        return
    if data.milestone in await _reached(unit, data.volunteer_id):
        return
    values = dict(milestone=data.milestone, threshold=data.threshold, value=data.value, expected_on=data.expected_on,
                  sends=[mail.model_dump(mode="json") for mail in data.sends], announced_at=event.time or unit.now)
    statement = _upsert(unit.session, upcoming).values(volunteer_id=data.volunteer_id, measure=data.measure, **values)
    await unit.session.execute(statement.on_conflict_do_update(
        index_elements=[upcoming.c.volunteer_id, upcoming.c.measure], set_=values))


async def note_mail(unit: Unit, event: Envelope) -> None:
    data = event.data
    if await _known_and_not_erased(unit, data.volunteer_id):
        await _note(unit, event, "mail-sent", event.time or unit.now, notification=data.notification,
                    audience=getattr(data, "audience", None))


def _todo(data):  # noqa: ANN001, ANN202 - the WHERE clause of one to-do
    return (todos.c.volunteer_id == data.volunteer_id) & (todos.c.todo_id == data.todo_id)


async def open_todo(unit: Unit, event: Envelope) -> None:
    """A new to-do (appreciation's reminder to write a card); a second delivery changes nothing."""
    data = event.data
    if not await _known_and_not_erased(unit, data.volunteer_id):
        return
    opened_at = event.time or unit.now
    await insert_if_absent(unit.session, todos, dict(
        volunteer_id=data.volunteer_id, todo_id=data.todo_id, action=data.action, milestone=data.milestone,
        due_on=data.due_on, lunch_on=data.lunch_on, opened_at=opened_at, status="open"))
    await _note(unit, event, "todo-opened", opened_at, action=data.action, milestone=data.milestone)


async def note_todo_done(unit: Unit, event: Envelope) -> None:
    """A to-do was marked done: usually the echo of the console's own form, which
    changed the row already (the first done wins), so mostly this adds the timeline entry."""
    data = event.data
    if not await _known_and_not_erased(unit, data.volunteer_id):
        return
    await unit.session.execute(update(todos).where(_todo(data), todos.c.status == "open").values(
        status="done", done_at=data.done_at, done_by=data.by, note=data.note))
    await _note(unit, event, "todo-done", data.done_at)


async def note_todo_snoozed(unit: Unit, event: Envelope) -> None:
    """A to-do was snoozed (usually the echo of the console's own form: the same value again)."""
    data = event.data
    await unit.session.execute(update(todos).where(_todo(data), todos.c.status == "open").values(
        snoozed_until=data.until))
