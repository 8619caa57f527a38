"""Event → effect, one function per consumed event type. Every mail is queued in
`appreciation_mails` here and sent later by the mail sender, never from a handler."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

from sqlalchemy import select, update

from services.appreciation import domain
from services.appreciation.rules import Rules, load_rules
from services.appreciation.tables import ledger, mails, shifts, volunteers
from shared.contracts import (
    ALERT_RAISED,
    MILESTONE_REACHED,
    AlertRaised,
    FollowUpOverdue,
    MilestoneReached,
    OpportunityOffered,
    ShiftCompleted,
    ShiftMissed,
    VolunteerErased,
    VolunteerRegistered,
    VolunteerUpdated,
)
from shared.db import insert_if_absent
from shared.delivery import Unit
from shared.envelope import Envelope
from shared.settings import Settings

# A mail for a volunteer whose registration has not arrived yet waits this long
# before it is looked at again (the registration handler wakes it earlier).
WAIT_FOR_REGISTRATION = timedelta(hours=1)


@lru_cache(maxsize=4)
def _rules(path: Path | None) -> Rules:
    return load_rules(path)


def rules_for(settings: Settings) -> Rules:
    return _rules(settings.rules_file)


async def _volunteer(unit: Unit, volunteer_id: str):  # noqa: ANN202
    """The volunteer's row, created empty when an event about them comes first."""
    query = select(volunteers).where(volunteers.c.volunteer_id == volunteer_id)
    row = (await unit.session.execute(query)).first()
    if row is None:
        await insert_if_absent(unit.session, volunteers, {"volunteer_id": volunteer_id})
        row = (await unit.session.execute(query)).first()
    return row


async def set_volunteer(unit: Unit, volunteer_id: str, **values) -> None:
    await unit.session.execute(update(volunteers).where(volunteers.c.volunteer_id == volunteer_id).values(**values))


async def remember_volunteer(unit: Unit, event: Envelope) -> None:
    data: VolunteerRegistered = event.data
    row = await _volunteer(unit, data.volunteer_id)
    if row.registered_at is not None or row.erased_at is not None:
        return  # registered before (a second system, a replay), or erased
    started_on = data.service_started_on or domain.local_date(data.registered_at, unit.settings.timezone)
    await set_volunteer(unit, data.volunteer_id, name=data.name, email=data.email, language=data.language,
               coordinator_email=data.coordinator_email or unit.settings.default_coordinator_email,
               registered_at=data.registered_at, consent=data.appreciation_mail_consent,
               service_started_on=started_on,
               next_sweep_on=domain.next_relevant_date(rules_for(unit.settings), started_on, after=started_on))
    # Mail queued before the registration arrived can go now.
    await unit.session.execute(update(mails).where(mails.c.volunteer_id == data.volunteer_id,
                                                   mails.c.status == "pending").values(
        next_attempt_at=datetime.now(timezone.utc)))


async def update_volunteer(unit: Unit, event: Envelope) -> None:
    data: VolunteerUpdated = event.data
    row = await _volunteer(unit, data.volunteer_id)
    if row.erased_at is not None:
        return
    changes = {name: value for name, value in {
        "name": data.name, "email": data.email, "language": data.language,
        "coordinator_email": data.coordinator_email, "consent": data.appreciation_mail_consent,
        "active": data.active}.items() if value is not None}
    if changes:
        await set_volunteer(unit, data.volunteer_id, **changes)


async def erase_volunteer(unit: Unit, event: Envelope) -> None:
    """GDPR: forget the person; keep only pseudonymous counters and the ledger."""
    data: VolunteerErased = event.data
    await _volunteer(unit, data.volunteer_id)
    await set_volunteer(unit, data.volunteer_id, name=None, email=None, coordinator_email=None, erased_at=unit.now,
               next_sweep_on=None)
    await unit.session.execute(update(mails).where(mails.c.volunteer_id == data.volunteer_id).values(
        context={}, recipient=None))
    await unit.session.execute(update(mails).where(mails.c.volunteer_id == data.volunteer_id,
                                                   mails.c.status == "pending").values(
        status="skipped", last_error="volunteer erased"))


async def count_shift(unit: Unit, event: Envelope) -> None:
    data: ShiftCompleted = event.data
    if not await insert_if_absent(unit.session, shifts, dict(
            shift_id=data.shift_id, volunteer_id=data.volunteer_id,
            started_at=data.started_at, ended_at=data.ended_at)):
        return  # the same shift reported by a second system
    row = await _volunteer(unit, data.volunteer_id)
    hours = (data.ended_at - data.started_at).total_seconds() / 3600
    count, total = row.shift_count + 1, row.hours + hours
    await set_volunteer(unit, data.volunteer_id, shift_count=count, hours=total, missed_in_a_row=0,
               first_shift_at=min(filter(None, [row.first_shift_at, data.started_at])),
               last_activity_at=max(filter(None, [row.last_activity_at, data.ended_at])))
    rules = rules_for(unit.settings)
    context = {"shifts": count, "hours": round(total), "task": data.task}
    for hit in domain.crossed(rules, "shifts", row.shift_count, count) + domain.crossed(rules, "hours", row.hours, total):
        await record_milestone(unit, data.volunteer_id, hit.milestone, data.ended_at, hit.rule.notify, context)


async def count_missed_shift(unit: Unit, event: Envelope) -> None:
    data: ShiftMissed = event.data
    row = await _volunteer(unit, data.volunteer_id)
    missed = row.missed_in_a_row + 1
    await set_volunteer(unit, data.volunteer_id, missed_in_a_row=missed)
    if domain.missed_in_a_row_alert(rules_for(unit.settings), missed):
        await raise_alert(unit, data.volunteer_id, reason="missed-shifts", occasion=f"missed-shifts:{data.shift_id}",
                          notification="coordinator-alert", audience="coordinator",
                          due_since=data.scheduled_start, context={"missed": missed})


async def alert_on_overdue_follow_up(unit: Unit, event: Envelope) -> None:
    data: FollowUpOverdue = event.data
    alerts = rules_for(unit.settings).alerts
    if not (alerts.quiet_volunteer if data.kind == "quiet" else alerts.followup_overdue):
        return
    escalation = data.rung == "escalation"
    await raise_alert(
        unit, data.volunteer_id,
        reason="quiet-volunteer" if data.kind == "quiet" else f"{data.kind}-overdue",
        occasion=f"{data.kind}-{data.rung}:{data.due_since.isoformat()}",
        notification="coordinator-escalation" if escalation else "coordinator-alert",
        audience="lead" if escalation else "coordinator",
        due_since=data.due_since,
        context={"kind": data.kind, "detail": data.detail,
                 "recipient": str(data.escalate_to if escalation else data.coordinator_email or "") or None},
    )


async def suggest_opportunity(unit: Unit, event: Envelope) -> None:
    """A new opportunity fits this volunteer: one suggestion mail (only with consent; see the sender)."""
    data: OpportunityOffered = event.data
    await _volunteer(unit, data.volunteer_id)
    await queue_mail(unit, data.volunteer_id, f"opportunity:{data.opportunity_id}", "opportunity-suggestion",
                     "volunteer", {"title": data.title, "reasons": data.reasons})


async def record_milestone(unit: Unit, volunteer_id: str, milestone: str, happened_at: datetime,
                           notify: list[str], context: dict) -> bool:
    """Write the milestone to the ledger once, announce it, and queue its mails if it
    is still fresh (grace window). False when it was recorded before."""
    rules = rules_for(unit.settings)
    celebrated = domain.should_celebrate(happened_at, unit.now, timedelta(days=rules.grace_days))
    reached_on = domain.local_date(happened_at, unit.settings.timezone)
    if not await insert_if_absent(unit.session, ledger, dict(
            volunteer_id=volunteer_id, milestone=milestone, reached_on=reached_on,
            detected_at=unit.now, celebrated=celebrated)):
        return False
    await unit.emit(MILESTONE_REACHED, MilestoneReached(
        volunteer_id=volunteer_id, milestone=milestone, reached_on=reached_on, celebrated=celebrated,
    ), event_id=f"milestone:{volunteer_id}:{milestone}")
    if celebrated:
        for notification in notify:
            await queue_mail(unit, volunteer_id, milestone, notification, "volunteer",
                             context | {"milestone": milestone, "reached_on": reached_on.isoformat()})
    return True


async def raise_alert(unit: Unit, volunteer_id: str, *, reason: str, occasion: str, notification: str,
                      audience: str, due_since: datetime, context: dict) -> None:
    row = await _volunteer(unit, volunteer_id)
    if row.erased_at is not None:
        return
    if not await queue_mail(unit, volunteer_id, occasion, notification, audience,
                            context | {"reason": reason, "due_since": due_since.isoformat()}):
        return  # raised before
    recipient = context.get("recipient") or (
        unit.settings.lead_email if audience == "lead"
        else row.coordinator_email or unit.settings.default_coordinator_email)
    await unit.emit(ALERT_RAISED, AlertRaised(volunteer_id=volunteer_id, reason=reason,
                                              coordinator_email=recipient, due_since=due_since),
                    event_id=f"alert:{volunteer_id}:{occasion}:{notification}")


async def queue_mail(unit: Unit, volunteer_id: str, occasion: str, notification: str, audience: str,
                     context: dict) -> bool:
    """Queue one mail; a second call for the same (volunteer, occasion, notification) does nothing."""
    unit.wake("mail")
    return await insert_if_absent(unit.session, mails, dict(
        volunteer_id=volunteer_id, occasion=occasion, notification=notification, audience=audience,
        # next_attempt_at is operational (wall clock): a sweep run "as of" a later
        # moment still sends now.
        context=context, status="pending", attempts=0, next_attempt_at=datetime.now(timezone.utc),
        created_at=unit.now,
    ))
