"""Event → effect, one function per consumed event type. Every mail is queued in
`appreciation_mails` here and sent later by the mail sender, never from a handler."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

from services.appreciation import domain
from services.appreciation.rules import Rules, load_rules
from services.appreciation.state import AppreciationState
from shared.contracts import (
    ALERT_RAISED,
    MILESTONE_REACHED,
    AlertRaised,
    FollowUpOverdue,
    MilestoneReached,
    OpportunityOffered,
    ShiftCompleted,
    ShiftMissed,
    TodoOverdue,
    VolunteerErased,
    VolunteerRegistered,
    VolunteerUpdated,
)
from shared.delivery import Unit
from shared.envelope import Envelope
from shared.settings import Settings, coordinator_address

# A mail for a volunteer whose registration has not arrived yet waits this long
# before it is looked at again (the registration handler wakes it earlier).
WAIT_FOR_REGISTRATION = timedelta(hours=1)


@lru_cache(maxsize=4)
def _rules(path: Path | None) -> Rules:
    return load_rules(path)


def rules_for(settings: Settings) -> Rules:
    return _rules(settings.rules_file)


async def prepare_batch(unit: Unit, events: list[Envelope]) -> None:
    """Load every volunteer (and shift) the batch is about in a few statements."""
    await AppreciationState.of(unit).load(
        (event.data.volunteer_id for event in events),
        shift_ids=(event.data.shift_id for event in events if isinstance(event.data, ShiftCompleted)))


async def remember_volunteer(unit: Unit, event: Envelope) -> None:
    data: VolunteerRegistered = event.data
    state = AppreciationState.of(unit)
    volunteer = await state.volunteer(data.volunteer_id)
    if volunteer.registered_at is not None or volunteer.erased_at is not None:
        return  # registered before (a second system, a replay), or erased
    started_on = data.service_started_on or domain.local_date(data.registered_at, unit.settings.timezone)
    volunteer.set(name=data.name, email=data.email, language=data.language,
                  coordinator_email=data.coordinator_email or unit.settings.default_coordinator_email,
                  registered_at=data.registered_at, consent=data.appreciation_mail_consent,
                  service_started_on=started_on,
                  next_sweep_on=domain.next_relevant_date(rules_for(unit.settings), started_on, after=started_on))
    state.release_waiting_mails(data.volunteer_id)  # mail queued before the registration can go now


async def update_volunteer(unit: Unit, event: Envelope) -> None:
    data: VolunteerUpdated = event.data
    volunteer = await AppreciationState.of(unit).volunteer(data.volunteer_id)
    if volunteer.erased_at is not None:
        return
    changes = {name: value for name, value in {
        "name": data.name, "email": data.email, "language": data.language,
        "coordinator_email": data.coordinator_email, "consent": data.appreciation_mail_consent,
        "active": data.active}.items() if value is not None}
    volunteer.set(**changes)


async def erase_volunteer(unit: Unit, event: Envelope) -> None:
    """GDPR: forget the person; keep only pseudonymous counters and the ledger."""
    data: VolunteerErased = event.data
    await unit.forget_pending_events(data.volunteer_id)
    state = AppreciationState.of(unit)
    volunteer = await state.volunteer(data.volunteer_id)
    volunteer.set(name=None, email=None, coordinator_email=None, erased_at=unit.now, next_sweep_on=None)
    state.forget_mails(data.volunteer_id)


async def count_shift(unit: Unit, event: Envelope) -> None:
    data: ShiftCompleted = event.data
    state = AppreciationState.of(unit)
    if not await state.add_shift(dict(shift_id=data.shift_id, volunteer_id=data.volunteer_id,
                                      started_at=data.started_at, ended_at=data.ended_at)):
        return  # the same shift reported by a second system
    volunteer = await state.volunteer(data.volunteer_id)
    count_before, hours_before = volunteer.shift_count, volunteer.hours
    count = count_before + 1
    hours = hours_before + (data.ended_at - data.started_at).total_seconds() / 3600
    volunteer.set(shift_count=count, hours=hours, missed_in_a_row=0,
                  first_shift_at=min(filter(None, [volunteer.first_shift_at, data.started_at])),
                  last_activity_at=max(filter(None, [volunteer.last_activity_at, data.ended_at])))
    rules = rules_for(unit.settings)
    context = {"shifts": count, "hours": round(hours), "task": data.task}
    for hit in domain.crossed(rules, "shifts", count_before, count) + domain.crossed(rules, "hours", hours_before, hours):
        await record_milestone(unit, data.volunteer_id, hit.milestone, data.ended_at, hit.rule.notify, context)


async def count_missed_shift(unit: Unit, event: Envelope) -> None:
    data: ShiftMissed = event.data
    volunteer = await AppreciationState.of(unit).volunteer(data.volunteer_id)
    missed = volunteer.missed_in_a_row + 1
    volunteer.set(missed_in_a_row=missed)
    if domain.missed_in_a_row_alert(rules_for(unit.settings), missed):
        await raise_alert(unit, data.volunteer_id, reason="missed-shifts", occasion=f"missed-shifts:{_short(data.shift_id)}",
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
        context={"kind": data.kind, "started_by": data.started_by, "opportunity_title": data.opportunity_title,
                 "started_at": data.started_at.astimezone(unit.settings.timezone).isoformat() if data.started_at else None,
                 "recipient": str(data.escalate_to if escalation else data.coordinator_email or "") or None},
    )


async def mail_lead_on_overdue_todo(unit: Unit, event: Envelope) -> None:
    """The console saw a to-do's date pass undone (a card not written): tell the lead, once."""
    data: TodoOverdue = event.data
    volunteer = await AppreciationState.of(unit).volunteer(data.volunteer_id)
    if volunteer.erased_at is not None:
        return
    years = data.milestone.removeprefix("years-")
    await queue_mail(unit, data.volunteer_id, f"todo-overdue:{_short(data.todo_id)}", "todo-overdue", "lead",
                     {"action": data.action, "milestone": data.milestone, "due_on": data.due_on.isoformat(),
                      "todo_id": data.todo_id,
                      "years": int(years) if years.isdigit() else None})


async def suggest_opportunity(unit: Unit, event: Envelope) -> None:
    """A new opportunity fits this volunteer: one suggestion mail (only with consent; see the sender)."""
    data: OpportunityOffered = event.data
    await queue_mail(unit, data.volunteer_id, f"opportunity:{data.opportunity_id}", "opportunity-suggestion",
                     "volunteer", {"title": data.title, "reasons": data.reasons})


async def record_milestone(unit: Unit, volunteer_id: str, milestone: str, happened_at: datetime,
                           notify: list[str], context: dict) -> bool:
    """Write the milestone to the ledger once, announce it, and queue its mails if it
    is still fresh (grace window). False when it was recorded before."""
    rules = rules_for(unit.settings)
    celebrated = domain.should_celebrate(happened_at, unit.now, timedelta(days=rules.grace_days))
    reached_on = domain.local_date(happened_at, unit.settings.timezone)
    if not await AppreciationState.of(unit).add_milestone(dict(
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
    volunteer = await AppreciationState.of(unit).volunteer(volunteer_id)
    if volunteer.erased_at is not None:
        return
    if not await queue_mail(unit, volunteer_id, occasion, notification, audience,
                            context | {"reason": reason, "due_since": due_since.isoformat()}):
        return  # raised before
    recipient, _ = staff_recipient(unit.settings, audience, context, volunteer.coordinator_email)
    await unit.emit(ALERT_RAISED, AlertRaised(volunteer_id=volunteer_id, reason=reason,
                                              coordinator_email=recipient, due_since=due_since),
                    event_id=f"alert:{volunteer_id}:{occasion}:{notification}")


def staff_recipient(settings: Settings, audience: str, context: dict,
                    coordinator_email: str | None) -> tuple[str, bool]:
    """Whom a coordinator or lead mail goes to, and whether an address from an event
    was replaced by DEFAULT_COORDINATOR_EMAIL (COORDINATOR_EMAIL_DOMAINS). Decided
    here only: the mail sender and `alerts.raised` name the same address.

    The event's own address (`recipient`: a follow-up's coordinator or escalate_to)
    comes first, then the lead's (from settings) or the volunteer's coordinator's."""
    if context.get("recipient"):
        return coordinator_address(context["recipient"], settings)
    if audience == "lead":
        return settings.lead_email, False  # configured here, not taken from an event
    return coordinator_address(coordinator_email, settings)


async def queue_mail(unit: Unit, volunteer_id: str, occasion: str, notification: str, audience: str,
                     context: dict) -> bool:
    """Queue one mail; a second call for the same (volunteer, occasion, notification) does nothing."""
    unit.wake("mail")
    return await AppreciationState.of(unit).add_mail(dict(
        volunteer_id=volunteer_id, occasion=occasion, notification=notification, audience=audience,
        # next_attempt_at is operational (wall clock): a sweep run "as of" a later
        # moment still sends now.
        context=context, status="pending", attempts=0, next_attempt_at=datetime.now(timezone.utc),
        created_at=unit.now,
    ))


def _short(identifier: str) -> str:
    """An id as it fits in an occasion (150 characters): itself, or a digest of a long one."""
    return identifier if len(identifier) <= 100 else "sha256-" + hashlib.sha256(identifier.encode()).hexdigest()[:40]
