"""What the appreciation service does, one use case per thing: load state through the
store, ask the pure rules in domain.py, store the changes and emit events (the
outbox, in the same transaction). Every mail is only queued here
(`appreciation_mails`); the mail sender (mailer.py) sends it later.

Called by the entrypoints (handlers.py for Kafka, api.py for HTTP, the sweep);
never by the store or the mail sender."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy.exc import DBAPIError

from services.appreciation import domain, store
from services.appreciation.rules import Rules, rules_for
from services.appreciation.store import Store, Volunteer
from shared.contracts import (
    ALERT_RAISED,
    MILESTONE_REACHED,
    MILESTONE_UPCOMING,
    SHIFT_DECLINED,
    TODO_OPENED,
    AlertRaised,
    EventData,
    FollowUpOverdue,
    MilestoneReached,
    MilestoneUpcoming,
    OpportunityOffered,
    ShiftAssigned,
    ShiftCompleted,
    ShiftDeclined,
    ShiftMissed,
    ShiftReleased,
    TodoOpened,
    TodoOverdue,
    VolunteerErased,
    VolunteerRegistered,
    VolunteerUpdated,
)
from shared.delivery import Unit
from shared.service import ServiceRuntime

log = logging.getLogger(__name__)
SWEEP_PAGE = 1000  # volunteers per sweep transaction
TODO_EVENT_IDS = uuid.UUID("0e6b8a52-3f1d-4c7e-9b55-2d4a6f1c8e90")


@dataclass
class Work:
    """One transaction's unit, its loaded state and the rules in force."""

    unit: Unit
    store: Store
    rules: Rules


# -- consumed events ---------------------------------------------------------------

@asynccontextmanager
async def batch(unit: Unit, events: list[EventData]) -> AsyncIterator[Work]:
    """One transaction's consumed events: every volunteer (and shift) they are about is
    loaded (and locked) in a few statements first; every change is written at the end,
    one statement per table. Apply each event with `apply_event`, in order."""
    work = Work(unit, Store(unit.session), rules_for(unit.settings))
    with unit.timed("load"):  # phases of the consumer's "handle" (metrics, benchmark)
        await work.store.load((data.volunteer_id for data in events),
                              shift_ids=(data.shift_id for data in events if isinstance(data, ShiftCompleted)))
    yield work
    with unit.timed("save"):
        await work.store.save()


async def apply_event(work: Work, data: EventData) -> None:
    await _BY_EVENT[type(data)](work, data)


async def remember_volunteer(work: Work, data: VolunteerRegistered) -> None:
    volunteer = await work.store.volunteer(data.volunteer_id)
    if volunteer.registered_at is not None or volunteer.erased_at is not None:
        return  # registered before (a second system, a replay), or erased
    settings = work.unit.settings
    started_on = data.service_started_on or domain.local_date(data.registered_at, settings.timezone)
    volunteer.set(name=data.name, email=data.email, language=data.language,
                  coordinator_email=data.coordinator_email or settings.default_coordinator_email,
                  registered_at=data.registered_at, consent=data.appreciation_mail_consent,
                  shift_reminder_consent=data.shift_reminder_consent,
                  service_started_on=started_on,
                  next_sweep_on=domain.next_relevant_date(work.rules, started_on, after=started_on))
    work.store.release_waiting_mails(data.volunteer_id)  # mail queued before the registration can go now
    await _announce_next_anniversary(work, volunteer, domain.local_date(work.unit.now, settings.timezone))


async def update_volunteer(work: Work, data: VolunteerUpdated) -> None:
    volunteer = await work.store.volunteer(data.volunteer_id)
    if volunteer.erased_at is not None:
        return
    changes = {name: value for name, value in {
        "name": data.name, "email": data.email, "language": data.language,
        "coordinator_email": data.coordinator_email, "consent": data.appreciation_mail_consent,
        "shift_reminder_consent": data.shift_reminder_consent, "active": data.active}.items() if value is not None}
    volunteer.set(**changes)


async def erase_volunteer(work: Work, data: VolunteerErased) -> None:
    """GDPR: forget the person; keep only pseudonymous counters and the ledger."""
    await work.unit.forget_pending_events(data.volunteer_id)
    volunteer = await work.store.volunteer(data.volunteer_id)
    volunteer.set(name=None, email=None, coordinator_email=None, erased_at=work.unit.now, next_sweep_on=None)
    work.store.forget_mails(data.volunteer_id)


async def count_shift(work: Work, data: ShiftCompleted) -> None:
    if not await work.store.add_shift(dict(shift_id=data.shift_id, volunteer_id=data.volunteer_id,
                                           started_at=data.started_at, ended_at=data.ended_at)):
        return  # the same shift reported by a second system
    volunteer = await work.store.volunteer(data.volunteer_id)
    after = domain.after_shift(work.rules, volunteer.shift_count, volunteer.hours, volunteer.first_shift_at,
                               volunteer.last_activity_at, data.started_at, data.ended_at)
    volunteer.set(shift_count=after.shift_count, hours=after.hours, missed_in_a_row=0,
                  first_shift_at=after.first_shift_at, last_activity_at=after.last_activity_at)
    hits = after.crossed + await _crossed_this_year(work, data)
    for hit in hits:
        await _record_milestone(work, data.volunteer_id, hit.milestone, data.ended_at, hit.rule.notify,
                                domain.shift_milestone_context(hit, after, data.task))
    if volunteer.erased_at is None:
        allowed = _volunteer_mail_allowed(volunteer)
        for measure, value in (("shifts", after.shift_count), ("hours", after.hours)):
            upcoming = domain.upcoming_count(work.rules, data.volunteer_id, measure, value, allowed)
            if upcoming is not None:
                await _announce(work, upcoming)


async def _crossed_this_year(work: Work, data: ShiftCompleted) -> list[domain.Crossed]:
    """The `per: year` milestones this shift crosses in the calendar year it ended in
    (read only when the rules have such milestones)."""
    if not (work.rules.per_year("shifts") or work.rules.per_year("hours")):
        return []
    tz = work.unit.settings.timezone
    year = domain.year_of(data.ended_at, tz)
    before = await work.store.shifts_between(data.volunteer_id, *domain.year_bounds(year, tz), but=data.shift_id)
    return domain.crossed_in_year(work.rules, year, len(before), domain.hours_of(before),
                                  domain.hours_of([(data.started_at, data.ended_at)]))


async def count_missed_shift(work: Work, data: ShiftMissed) -> None:
    volunteer = await work.store.volunteer(data.volunteer_id)
    missed = volunteer.missed_in_a_row + 1
    volunteer.set(missed_in_a_row=missed)
    alert = domain.missed_shifts_alert(work.rules, missed, data.shift_id, data.scheduled_start)
    if alert is not None:
        await _raise_alert(work, data.volunteer_id, alert)


async def alert_on_overdue_follow_up(work: Work, data: FollowUpOverdue) -> None:
    alert = domain.followup_alert(work.rules.alerts, data, work.unit.settings.timezone)
    if alert is not None:
        await _raise_alert(work, data.volunteer_id, alert)


async def mail_lead_on_overdue_todo(work: Work, data: TodoOverdue) -> None:
    """The console saw a to-do's date pass undone (a card not written): tell the lead, once."""
    volunteer = await work.store.volunteer(data.volunteer_id)
    if volunteer.erased_at is None:
        await _queue(work, data.volunteer_id, domain.todo_overdue_mail(
            work.rules, data.todo_id, data.action, data.milestone, data.due_on))


async def suggest_opportunity(work: Work, data: OpportunityOffered) -> None:
    """A new opportunity fits this volunteer: one suggestion mail (whether it goes out
    is decided when it is sent: consent, unsubscribe)."""
    await _queue(work, data.volunteer_id, domain.opportunity_mail(data.opportunity_id, data.title, data.reasons))


async def plan_shift_reminder(work: Work, data: ShiftAssigned) -> None:
    """A volunteer was put on a shift: their reminder is queued, due SHIFT_REMINDER_HOURS
    before the start (`domain.shift_reminder_plan`); whether it goes out (consent) is
    decided when it is due. An assignment older than a release consumed before it
    (another topic, no order between them) queues nothing."""
    volunteer = await work.store.volunteer(data.volunteer_id)
    if volunteer.erased_at is not None:
        return
    occasion = domain.shift_occasion(data.shift_id)
    queued = await work.store.queued_mail(data.volunteer_id, occasion, domain.SHIFT_REMINDER)
    status, known = (queued["status"], queued["context"]) if queued else (None, None)
    now = work.unit.now
    settings = work.unit.settings
    plan = domain.shift_reminder_plan(data.started_at, now, settings.shift_reminder_hours, status,
                                      data.assigned_at, known)
    if plan.queue:
        context = domain.shift_reminder_context(data, plan.due, settings.timezone)
        if known and known.get("released_at"):
            context["released_at"] = known["released_at"]
        await work.store.put_mail(data.volunteer_id, occasion, domain.SHIFT_REMINDER, "volunteer", context,
                                  due=plan.due, created_at=now)
        work.unit.wake(store.MAIL_QUEUE)
    elif queued and domain.assignment_is_current(data.assigned_at, known):
        # Back on a shift whose reminder went out (or cannot): remember the assignment,
        # so the reminder's "I cannot come" applies again.
        await work.store.note_mail(data.volunteer_id, occasion, domain.SHIFT_REMINDER, "volunteer",
                                   known | {"assigned_at": data.assigned_at.isoformat()}, skip=None, created_at=now)


async def release_shift_reminder(work: Work, data: ShiftReleased) -> None:
    """The volunteer is off the shift (cancelled, reassigned, declined, erased): their
    reminder, if not sent yet and assigned before this release, is not sent. The row
    remembers the latest release (a skipped row when the assignment has not been
    consumed yet), so an older assignment arriving later queues nothing."""
    await _release(work, data.volunteer_id, data.shift_id, data.released_at, f"shift {data.reason}")


async def _release(work: Work, volunteer_id: str, shift_id: str, released_at: datetime, reason: str) -> dict | None:
    occasion = domain.shift_occasion(shift_id)
    queued = await work.store.queued_mail(volunteer_id, occasion, domain.SHIFT_REMINDER)
    status, known = (queued["status"], queued["context"]) if queued else (None, None)
    release = domain.shift_release(released_at, status, known)
    context = (known or {"shift_id": shift_id}) | {"released_at": release.released_at.isoformat()}
    await work.store.note_mail(volunteer_id, occasion, domain.SHIFT_REMINDER, "volunteer", context,
                               skip=reason if release.skip or not queued else None, created_at=work.unit.now)
    return known


async def alert_on_declined_shift(work: Work, data: ShiftDeclined) -> bool:
    """"I cannot come": while the volunteer is on the shift as far as appreciation knows
    (their reminder waits or went out, no release since its assignment) and it has not
    started (`domain.decline_refused`), the reminder is not sent, the decline counts as
    a release, and the coordinator is alerted once per assignment to find someone else.
    From the link (api.py, applied in its own transaction) or from Kafka (its echo, or
    a rostering system): the same effect once. False when it no longer applies."""
    volunteer = await work.store.volunteer(data.volunteer_id)
    if volunteer.erased_at is not None:
        return False
    queued = await work.store.queued_mail(data.volunteer_id, domain.shift_occasion(data.shift_id),
                                          domain.SHIFT_REMINDER)
    status, known = (queued["status"], queued["context"]) if queued else (None, None)
    if domain.decline_refused(status, known, data.declined_at) is not None:
        return False
    await _release(work, data.volunteer_id, data.shift_id, data.declined_at, "shift declined")
    await _raise_alert(work, data.volunteer_id, domain.shift_declined_alert(
        data.shift_id, data.declined_at, known, work.unit.settings.timezone))
    return True


_BY_EVENT = {
    VolunteerRegistered: remember_volunteer,
    VolunteerUpdated: update_volunteer,
    VolunteerErased: erase_volunteer,
    ShiftCompleted: count_shift,
    ShiftMissed: count_missed_shift,
    FollowUpOverdue: alert_on_overdue_follow_up,
    OpportunityOffered: suggest_opportunity,
    TodoOverdue: mail_lead_on_overdue_todo,
    ShiftAssigned: plan_shift_reminder,
    ShiftReleased: release_shift_reminder,
    ShiftDeclined: alert_on_declined_shift,
}


# -- the sweep: anniversaries and the coordinator's reminder ahead of them ----------------

async def sweep(runtime: ServiceRuntime, as_of: datetime) -> int:
    """Raise every anniversary and reminder due at `as_of`; the same sweep twice raises
    nothing twice. A page of volunteers per transaction, loaded and locked together."""
    rules = rules_for(runtime.settings)
    await apply_changed_rules(runtime, rules, as_of)
    today = domain.local_date(as_of, runtime.settings.timezone)
    raised, after_id = 0, ""
    while True:
        async with runtime.unit(now=as_of) as unit:
            due = await store.due_for_sweep(unit.session, today, after_id, SWEEP_PAGE)
            work = Work(unit, Store(unit.session), rules)
            await work.store.load(due)
            for volunteer_id in due:
                raised += await _raise_due(work, work.store.volunteers[volunteer_id], today)
            await work.store.save()
        if len(due) < SWEEP_PAGE:
            return raised
        after_id = due[-1]


async def _raise_due(work: Work, volunteer: Volunteer, today: date) -> int:
    # Read again under the row lock: an erasure or a new start date may have come in since the page was read.
    if volunteer.erased_at is not None or volunteer.next_sweep_on is None or volunteer.next_sweep_on > today:
        return 0
    reached, remind = domain.due_on(work.rules, volunteer.service_started_on, today)
    raised = 0
    for anniversary in remind:
        reminder, *invitation = domain.reminder_mails(anniversary)
        reminded = await _queue(work, volunteer.volunteer_id, reminder)
        raised += reminded
        if reminded:  # the card becomes a to-do in the console, once, with the reminder
            await _open_card_todo(work.unit, volunteer.volunteer_id, anniversary)
        for mail in invitation:
            raised += await _queue(work, volunteer.volunteer_id, mail)
    recorded = 0
    for anniversary in reached:
        happened_at = datetime.combine(anniversary.on, time(0), tzinfo=work.unit.settings.timezone)
        recorded += await _record_milestone(work, volunteer.volunteer_id, anniversary.milestone, happened_at,
                                            anniversary.rule.notify, domain.anniversary_context(anniversary))
    if recorded:  # an anniversary passed: the next one is what is coming
        await _announce_next_anniversary(work, volunteer, today)
    volunteer.set(next_sweep_on=domain.next_relevant_date(work.rules, volunteer.service_started_on, after=today))
    return raised + recorded


# -- changed rules: every volunteer re-evaluated once ------------------------------------

async def apply_changed_rules(runtime: ServiceRuntime, rules: Rules, now: datetime) -> int | None:
    """When the rules' milestones or grace window differ from those last applied
    (`appreciation_rules_applied`), re-evaluate every volunteer once: each milestone
    their history has passed and the ledger lacks is recorded (celebrated and mailed
    only when it was passed inside the grace window), and `next_sweep_on` is
    recomputed. Runs first in the sweep, so under its advisory lock: one instance
    does it. The very first sweep only stores the digest (nothing was applied before
    to compare with: the rules in force were applied live). The ledger holds each
    milestone once, so a crash half-way and a second pass record nothing twice.
    Returns how many were recorded (None: nothing to re-evaluate)."""
    digest = domain.rules_digest(rules)
    async with runtime.sessions() as session:
        applied = await store.applied_rules_digest(session)
    if applied == digest:
        return None
    if applied is None:  # the first sweep (a new database, or the upgrade that brought this): the baseline
        async with runtime.unit(now=now) as unit:
            await store.record_applied_rules(unit.session, digest, now)
        return None
    tz = runtime.settings.timezone
    today = domain.local_date(now, tz)
    recorded, volunteers_seen, after_id = 0, 0, ""
    while True:
        async with runtime.unit(now=now) as unit:
            ids = await store.volunteer_ids_after(unit.session, after_id, SWEEP_PAGE)
            work = Work(unit, Store(unit.session), rules)
            await work.store.load(ids)
            shifts = await store.shifts_of(unit.session, ids)
            for volunteer_id in ids:
                recorded += await _reevaluate(work, work.store.volunteers[volunteer_id],
                                              shifts.get(volunteer_id, []), today)
            await work.store.save()
            if len(ids) < SWEEP_PAGE:
                await store.record_applied_rules(unit.session, digest, now)
        volunteers_seen += len(ids)
        if len(ids) < SWEEP_PAGE:
            break
        after_id = ids[-1]
    log.info("rules changed: %d volunteers re-evaluated, %d milestones recorded", volunteers_seen, recorded)
    return recorded


async def _reevaluate(work: Work, volunteer: Volunteer, shifts: list, today: date) -> int:
    if volunteer.erased_at is not None:  # read again under the row lock
        return 0
    passed = domain.passed_milestones(work.rules, shifts, volunteer.service_started_on, today,
                                      work.unit.settings.timezone)
    recorded = 0
    for p in passed:
        recorded += await _record_milestone(work, volunteer.volunteer_id, p.milestone, p.happened_at,
                                            p.rule.notify, p.context)
    if volunteer.service_started_on is not None:
        # From yesterday on: what is due today stays for the sweep that follows.
        volunteer.set(next_sweep_on=domain.next_relevant_date(work.rules, volunteer.service_started_on,
                                                              after=today - timedelta(days=1)))
    return recorded


async def rules_effect(sessions, rules: Rules, now: datetime, tz) -> tuple[domain.RulesEffect, int]:  # noqa: ANN001
    """What `apply_changed_rules` would record for current volunteers under `rules`,
    per milestone (celebrated now, or recorded silently), and how many volunteers
    were looked at. Reads only (`dankjewel rules check`)."""
    effect, seen, after_id = domain.RulesEffect(), 0, ""
    today = domain.local_date(now, tz)
    grace = timedelta(days=rules.grace_days)
    while True:
        async with sessions() as session:
            page = await store.volunteers_page(session, after_id, SWEEP_PAGE)
            ids = [row.volunteer_id for row in page]
            shifts = await store.shifts_of(session, ids)
            ledger = await store.ledger_names_of(session, ids)
        for row in page:
            passed = domain.passed_milestones(rules, shifts.get(row.volunteer_id, []), row.service_started_on,
                                              today, tz)
            effect.add(domain.new_milestones(passed, ledger.get(row.volunteer_id, set())), now, grace)
        seen += len(page)
        if len(page) < SWEEP_PAGE:
            return effect, seen
        after_id = ids[-1]


async def rules_differ(sessions, rules: Rules) -> bool | None:  # noqa: ANN001
    """Whether the next sweep (at every start) would re-evaluate every volunteer under
    `rules`; None when no rules were applied yet (the next sweep takes them as the baseline)."""
    async with sessions() as session:
        try:
            applied = await store.applied_rules_digest(session)
        except DBAPIError:  # a database from before the table existed
            applied = None
    return None if applied is None else applied != domain.rules_digest(rules)


async def _open_card_todo(unit: Unit, volunteer_id: str, anniversary: domain.Anniversary) -> None:
    todo_id = domain.card_todo_id(anniversary.milestone)
    # Derived from the to-do's key, so a replayed sweep would publish the same event (deduplicated).
    event_id = str(uuid.uuid5(TODO_EVENT_IDS, f"todo-opened/{volunteer_id}/{todo_id}"))
    await unit.emit(TODO_OPENED, TodoOpened(
        volunteer_id=volunteer_id, todo_id=todo_id, action="write-card", milestone=anniversary.milestone,
        due_on=anniversary.on, lunch_on=anniversary.lunch_on), event_id=event_id)


# -- HTTP ------------------------------------------------------------------------------

async def milestones_of(runtime: ServiceRuntime, volunteer_id: str) -> list[dict]:
    async with runtime.sessions() as session:
        return [{"milestone": r.milestone, "reached_on": r.reached_on.isoformat(), "celebrated": r.celebrated}
                for r in await store.ledger_of(session, volunteer_id)]


async def mail_queue(runtime: ServiceRuntime, status: str | None, limit: int) -> list[dict]:
    async with runtime.sessions() as session:
        return await store.mail_queue(session, status, limit)


async def unsubscribe(runtime: ServiceRuntime, volunteer_id: str) -> None:
    """No more appreciation mail for this volunteer (coordinator mail about them goes on,
    and so do shift reminders: their consent is their own).
    Applied here and now; it publishes nothing, so no echo comes back."""
    async with runtime.unit() as unit:
        await store.unsubscribe(unit.session, volunteer_id, unit.now, keep=domain.SHIFT_REMINDER)


async def stop_shift_reminders(runtime: ServiceRuntime, volunteer_id: str) -> None:
    """"No more shift reminders" (the link in a reminder): recorded here and now, and
    pending reminders skipped; publishes nothing. Registration's consent is not
    changed: a later `volunteers.updated` with the consent on turns them on again."""
    async with runtime.unit() as unit:
        await store.stop_shift_reminders(unit.session, volunteer_id, domain.SHIFT_REMINDER)


async def decline_shift(runtime: ServiceRuntime, volunteer_id: str, shift_id: str) -> bool:
    """The "I cannot come" link: while it applies (the volunteer is on the shift as far
    as appreciation knows, and it lies ahead: `alert_on_declined_shift`), publishes
    `shifts.declined` (tasks takes the volunteer off the shift) and applies its effect
    here at once. Otherwise (a second click, released, reassigned, cancelled, started,
    erased) publishes nothing and returns False: the link no longer applies. The echo
    coming back through Kafka finds the decline recorded and changes nothing."""
    async with runtime.unit() as unit:
        declined = ShiftDeclined(volunteer_id=volunteer_id, shift_id=shift_id, declined_at=unit.now)
        async with batch(unit, [declined]) as work:
            if not await alert_on_declined_shift(work, declined):
                return False
            await unit.emit(SHIFT_DECLINED, declined)
            return True


# -- shared steps --------------------------------------------------------------------

async def _record_milestone(work: Work, volunteer_id: str, milestone: str, happened_at: datetime,
                            notify: list[str], context: dict) -> bool:
    """Write the milestone to the ledger once, announce it, and queue its mails if it
    is still fresh (grace window). False when it was recorded before."""
    unit = work.unit
    celebrated = domain.should_celebrate(happened_at, unit.now, timedelta(days=work.rules.grace_days))
    reached_on = domain.local_date(happened_at, unit.settings.timezone)
    if not await work.store.add_milestone(dict(volunteer_id=volunteer_id, milestone=milestone, reached_on=reached_on,
                                               detected_at=unit.now, celebrated=celebrated)):
        return False
    await unit.emit(MILESTONE_REACHED, MilestoneReached(
        volunteer_id=volunteer_id, milestone=milestone, reached_on=reached_on, celebrated=celebrated,
    ), event_id=f"milestone:{volunteer_id}:{milestone}")
    for mail in domain.milestone_mails(milestone, notify, celebrated, reached_on, context):
        await _queue(work, volunteer_id, mail)
    return True


async def _raise_alert(work: Work, volunteer_id: str, alert: domain.Alert) -> None:
    volunteer = await work.store.volunteer(volunteer_id)
    if volunteer.erased_at is not None:
        return
    if not await _queue(work, volunteer_id, alert.mail()):
        return  # raised before
    recipient, _ = domain.staff_recipient(work.unit.settings, alert.audience, alert.context,
                                          volunteer.coordinator_email)
    await work.unit.emit(ALERT_RAISED, AlertRaised(volunteer_id=volunteer_id, reason=alert.reason,
                                                   coordinator_email=recipient, due_since=alert.due_since),
                         event_id=alert.event_id(volunteer_id))


async def _announce_next_anniversary(work: Work, volunteer: Volunteer, today: date) -> None:
    if volunteer.service_started_on is None or volunteer.erased_at is not None:
        return
    upcoming = domain.upcoming_anniversary(work.rules, volunteer.volunteer_id, volunteer.service_started_on, today,
                                           _volunteer_mail_allowed(volunteer))
    if upcoming is not None:
        await _announce(work, upcoming)


async def _announce(work: Work, upcoming: MilestoneUpcoming) -> None:
    await work.unit.emit(MILESTONE_UPCOMING, upcoming, event_id=domain.upcoming_event_id(upcoming))


def _volunteer_mail_allowed(volunteer: Volunteer) -> bool:
    return domain.volunteer_mail_allowed(volunteer.consent, volunteer.unsubscribed_at, volunteer.erased_at)


async def _queue(work: Work, volunteer_id: str, mail: domain.MailToQueue) -> bool:
    """Queue one mail; a second one for the same (volunteer, occasion, notification) is not queued."""
    work.unit.wake(store.MAIL_QUEUE)
    return await work.store.queue_mail(volunteer_id, mail.occasion, mail.notification, mail.audience, mail.context,
                                       created_at=work.unit.now)
