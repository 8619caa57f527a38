"""Appreciation's decisions as pure functions: which milestones a change crosses, when
an anniversary and its reminder are due, whether a late discovery is still
celebrated, which alerts and mails an event brings, and for each queued mail
whether it goes out, to whom, in which language, when, and with which template
inputs. No I/O: the use cases and the mail sender ask, then store or send."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Literal, Protocol

from services.appreciation.rules import AlertRules, MilestoneRule, Rules
from services.appreciation.settings import AppreciationSettings
from shared.contracts import FollowUpOverdue, MilestoneUpcoming, PlannedMail, ShiftAssigned
from shared.settings import coordinator_address

Audience = Literal["volunteer", "coordinator", "lead"]

# A mail for a volunteer whose registration has not arrived yet waits this long
# before it is looked at again (the registration releases it earlier).
WAIT_FOR_REGISTRATION = timedelta(hours=1)

# Every value a template may use; the ones a mail's context lacks are None.
TEMPLATE_KEYS = ("milestone", "measure", "threshold", "reached_on", "shifts", "hours", "task", "years",
                 "anniversary_on", "lunch_on", "lunch_time", "lunch_place", "kind", "detail", "reason",
                 "due_since", "missed", "started_by", "started_at", "opportunity_title",
                 "failed_notification", "title", "reasons", "action", "due_on",
                 "place", "contact", "bring", "shift_on", "shift_from", "shift_until",
                 "decline_url", "reminders_off_url", "per", "year", "shift_id")


# -- milestones ------------------------------------------------------------------

@dataclass(frozen=True)
class Crossed:
    milestone: str
    rule: MilestoneRule
    threshold: int
    year: int | None = None  # of a `per: year` rule


def crossed(rules: Rules, measure: str, before: float, after: float) -> list[Crossed]:
    """Milestones of `measure` (over the whole time of service) whose threshold lies in (before, after]."""
    return [Crossed(rule.milestone(n), rule, n) for rule in rules.for_measure(measure)
            for n in rule.at if before < n <= after]


def crossed_in_year(rules: Rules, year: int, shifts_before: int, hours_before: float,
                    shift_hours: float) -> list[Crossed]:
    """`per: year` milestones one more shift of `shift_hours` crosses, given the
    volunteer's shifts and hours in that calendar year before it."""
    return [Crossed(rule.milestone(n, year), rule, n, year)
            for measure, before, after in (("shifts", shifts_before, shifts_before + 1),
                                           ("hours", hours_before, hours_before + shift_hours))
            for rule in rules.per_year(measure) for n in rule.at if before < n <= after]


def hours_of(shifts: list[tuple[datetime, datetime]]) -> float:
    """Hours of (started_at, ended_at) shifts."""
    return sum((end - start).total_seconds() for start, end in shifts) / 3600


def year_of(moment: datetime, tz: tzinfo) -> int:
    """The calendar year (in ORG_TIMEZONE) a shift counts in: that of its end."""
    return moment.astimezone(tz).year


def year_bounds(year: int, tz: tzinfo) -> tuple[datetime, datetime]:
    """[start, end) of a calendar year in ORG_TIMEZONE."""
    return datetime(year, 1, 1, tzinfo=tz), datetime(year + 1, 1, 1, tzinfo=tz)


def should_celebrate(happened_at: datetime, detected_at: datetime, grace: timedelta) -> bool:
    """A milestone detected long after it happened is recorded but not mailed
    (importing years of history must not flood people with late cards)."""
    return detected_at - happened_at <= grace


def local_date(moment: datetime, tz) -> date:  # noqa: ANN001
    return moment.astimezone(tz).date()


def milestone_parts(rules: Rules, milestone: str) -> tuple[str, int] | None:
    """(measure, threshold) of a milestone by its name, custom names and years included."""
    stem, _, year = milestone.rpartition("-")
    return next(((rule.measure, n) for rule in rules.milestones for n in rule.at
                 if (rule.per is None and rule.milestone(n) == milestone)
                 or (rule.per and year.isdigit() and rule.base_name(n) == stem)), None)


@dataclass(frozen=True)
class Engagement:
    """A volunteer's counters after one more completed shift."""

    shift_count: int
    hours: float
    first_shift_at: datetime
    last_activity_at: datetime
    crossed: list[Crossed]


def after_shift(rules: Rules, shift_count: int, hours: float, first_shift_at: datetime | None,
                last_activity_at: datetime | None, started_at: datetime, ended_at: datetime) -> Engagement:
    """The counters after a completed shift, and the milestones it crosses (one long
    import may cross several)."""
    count = shift_count + 1
    total = hours + (ended_at - started_at).total_seconds() / 3600
    return Engagement(shift_count=count, hours=total,
                      first_shift_at=min(filter(None, [first_shift_at, started_at])),
                      last_activity_at=max(filter(None, [last_activity_at, ended_at])),
                      crossed=crossed(rules, "shifts", shift_count, count) + crossed(rules, "hours", hours, total))


# -- anniversaries ------------------------------------------------------------------

def anniversary(started_on: date, years: int) -> date:
    """The date `years` after `started_on`; 29 February falls on 28 February in other years."""
    try:
        return started_on.replace(year=started_on.year + years)
    except ValueError:
        return started_on.replace(year=started_on.year + years, day=28)


@dataclass(frozen=True)
class Anniversary:
    years: int
    on: date
    rule: MilestoneRule

    @property
    def milestone(self) -> str:
        return self.rule.milestone(self.years)

    @property
    def reminder_on(self) -> date | None:
        days = self.rule.coordinator_reminder_days
        return self.on - timedelta(days=days) if days else None

    @property
    def lunch_on(self) -> date | None:
        return self.on + timedelta(days=self.rule.lunch.days_after_anniversary) if self.rule.lunch else None


def anniversaries(rules: Rules, started_on: date) -> list[Anniversary]:
    """Every years-of-service milestone in the rules, in date order."""
    found = [Anniversary(n, anniversary(started_on, n), rule) for rule in rules.for_measure("years") for n in rule.at]
    return sorted(found, key=lambda a: a.on)


def next_relevant_date(rules: Rules, started_on: date, after: date) -> date | None:
    """The first day after `after` on which a sweep has something to do for this
    volunteer (a reminder or an anniversary); stored so sweeps read only those due."""
    days = [d for a in anniversaries(rules, started_on) for d in (a.reminder_on, a.on) if d and d > after]
    return min(days, default=None)


def due_on(rules: Rules, started_on: date, today: date) -> tuple[list[Anniversary], list[Anniversary]]:
    """(anniversaries reached by `today`, anniversaries whose coordinator reminder is due by `today`)."""
    all_of_them = anniversaries(rules, started_on)
    reached = [a for a in all_of_them if a.on <= today]
    remind = [a for a in all_of_them if a.reminder_on and a.reminder_on <= today < a.on]
    return reached, remind


def anniversary_context(a: Anniversary) -> dict:
    """Template inputs of an anniversary's mails (the rules' lunch place as written:
    one text or one per language, resolved per reader when the mail is rendered)."""
    lunch = a.rule.lunch
    return {
        "milestone": a.milestone, "measure": "years", "threshold": a.years, "years": a.years,
        "anniversary_on": a.on.isoformat(), "lunch_on": a.lunch_on.isoformat() if a.lunch_on else None,
        "lunch_time": lunch.time.strftime("%H:%M") if lunch else None,
        "lunch_place": (dict(lunch.place) if isinstance(lunch.place, dict) else lunch.place) if lunch else None,
    }


def card_todo_id(milestone: str) -> str:
    """To-do ids are per volunteer: one card per milestone."""
    return f"{milestone}-card"


# -- what gets queued -----------------------------------------------------------------

@dataclass(frozen=True)
class MailToQueue:
    """One row for the mail queue: once per (volunteer, occasion, notification)."""

    occasion: str
    notification: str
    audience: Audience
    context: dict = field(default_factory=dict)


def milestone_mails(milestone: str, notify: list[str], celebrated: bool, reached_on: date,
                    context: dict) -> list[MailToQueue]:
    """A reached milestone's mails: each notification of its rule, to the volunteer,
    and only when it was found inside the grace window."""
    if not celebrated:
        return []
    context = context | {"milestone": milestone, "reached_on": reached_on.isoformat()}
    return [MailToQueue(milestone, notification, "volunteer", context) for notification in notify]


def shift_milestone_context(hit: Crossed, engagement: Engagement, task: str | None) -> dict:
    """Template inputs of a count milestone; a yearly one adds `per` ("year") and the
    `year`, so a card reads "10 diensten dit jaar" / "10 shifts this year"."""
    return {"shifts": engagement.shift_count, "hours": round(engagement.hours), "task": task,
            "measure": hit.rule.measure, "threshold": hit.threshold, "per": hit.rule.per, "year": hit.year}


def reminder_mails(a: Anniversary) -> list[MailToQueue]:
    """Ahead of an anniversary (coordinator_reminder_days): the coordinator's reminder
    and, when the rule invites to lunch, the invitation with it."""
    context = anniversary_context(a)
    mails = [MailToQueue(a.milestone, "coordinator-reminder", "coordinator", context)]
    if "lunch-invitation" in a.rule.notify:
        mails.append(MailToQueue(a.milestone, "lunch-invitation", "volunteer", context))
    return mails


def opportunity_mail(opportunity_id: str, title: str, reasons: list[str]) -> MailToQueue:
    return MailToQueue(f"opportunity:{opportunity_id}", "opportunity-suggestion", "volunteer",
                       {"title": title, "reasons": list(reasons)})


def todo_overdue_mail(rules: Rules, todo_id: str, action: str, milestone: str, due_on: date) -> MailToQueue:
    """The lead hears of a to-do whose date passed undone; the years come from the
    rules, so a custom-named anniversary reads like any other."""
    parts = milestone_parts(rules, milestone)
    measure, threshold = parts if parts else (None, None)
    return MailToQueue(f"todo-overdue:{short(todo_id)}", "todo-overdue", "lead", {
        "action": action, "milestone": milestone, "due_on": due_on.isoformat(), "todo_id": todo_id,
        "measure": measure, "threshold": threshold, "years": threshold if measure == "years" else None})


def short(identifier: str) -> str:
    """An id as it fits in an occasion (150 characters): itself, or a digest of a long one."""
    return identifier if len(identifier) <= 100 else "sha256-" + hashlib.sha256(identifier.encode()).hexdigest()[:40]


# -- alerts --------------------------------------------------------------------------

@dataclass(frozen=True)
class Alert:
    """Something a coordinator (or the lead) must act on: one mail, and `alerts.raised`."""

    reason: str
    occasion: str
    notification: str
    audience: Audience
    due_since: datetime
    context: dict = field(default_factory=dict)

    def mail(self) -> MailToQueue:
        return MailToQueue(self.occasion, self.notification, self.audience,
                           self.context | {"reason": self.reason, "due_since": self.due_since.isoformat()})

    def event_id(self, volunteer_id: str) -> str:
        return f"alert:{volunteer_id}:{self.occasion}:{self.notification}"


def missed_in_a_row_alert(rules: Rules, missed_in_a_row: int) -> bool:
    """Alert exactly when the run of no-shows reaches the configured length."""
    return missed_in_a_row == rules.alerts.missed_shifts_in_a_row


def missed_shifts_alert(rules: Rules, missed_in_a_row: int, shift_id: str, scheduled_start: datetime) -> Alert | None:
    if not missed_in_a_row_alert(rules, missed_in_a_row):
        return None
    return Alert(reason="missed-shifts", occasion=f"missed-shifts:{short(shift_id)}",
                 notification="coordinator-alert", audience="coordinator", due_since=scheduled_start,
                 context={"missed": missed_in_a_row})


def followup_alert(alerts: AlertRules, data: FollowUpOverdue, tz) -> Alert | None:  # noqa: ANN001
    """An overdue follow-up: the coordinator on the reminder rung, the lead on the
    escalation rung, worded later from these fields (never from the English `detail`)."""
    if not (alerts.quiet_volunteer if data.kind == "quiet" else alerts.followup_overdue):
        return None
    escalation = data.rung == "escalation"
    return Alert(
        reason="quiet-volunteer" if data.kind == "quiet" else f"{data.kind}-overdue",
        occasion=f"{data.kind}-{data.rung}:{data.due_since.isoformat()}",
        notification="coordinator-escalation" if escalation else "coordinator-alert",
        audience="lead" if escalation else "coordinator",
        due_since=data.due_since,
        context={"kind": data.kind, "started_by": data.started_by, "opportunity_title": data.opportunity_title,
                 "started_at": data.started_at.astimezone(tz).isoformat() if data.started_at else None,
                 "recipient": str(data.escalate_to if escalation else data.coordinator_email or "") or None})


def delivery_failed_alert(occasion: str, notification: str, now: datetime) -> Alert | None:
    """A mail refused for good (5xx): the coordinator hears of it, unless the refused
    mail was itself such a notice (no loop)."""
    if notification == "delivery-failed":
        return None
    return Alert(reason="delivery-failed", occasion=f"{occasion}:{notification}", notification="delivery-failed",
                 audience="coordinator", due_since=now, context={"failed_notification": notification})


def staff_recipient(settings: AppreciationSettings, audience: str, context: dict,
                    coordinator_email: str | None) -> tuple[str, bool]:
    """Whom a coordinator or lead mail goes to, and whether an address from an event
    was replaced by DEFAULT_COORDINATOR_EMAIL (COORDINATOR_EMAIL_DOMAINS). The mail
    sender and `alerts.raised` both ask here, so they name the same address.

    The event's own address (`recipient`: a follow-up's coordinator or escalate_to)
    comes first, then the lead's (from settings) or the volunteer's coordinator's."""
    if context.get("recipient"):
        return coordinator_address(context["recipient"], settings)
    if audience == "lead":
        return settings.lead_email, False  # configured here, not taken from an event
    return coordinator_address(coordinator_email, settings)


# -- sending a queued mail -----------------------------------------------------------

class QueuedMail(Protocol):
    """A queued mail row joined with its volunteer's row, as the sender reads it."""

    volunteer_id: str
    audience: str
    context: dict
    created_at: datetime
    notification: str
    name: str | None
    email: str | None
    language: str
    coordinator_email: str | None
    consent: bool
    shift_reminder_consent: bool
    unsubscribed_at: datetime | None
    erased_at: datetime | None
    registered_at: datetime | None


@dataclass(frozen=True)
class Send:
    recipient: str
    language: str
    replaced: bool = False  # an event's coordinator address was outside COORDINATOR_EMAIL_DOMAINS


@dataclass(frozen=True)
class Skip:
    reason: str


@dataclass(frozen=True)
class Wait:
    until: datetime


def mail_decision(mail: QueuedMail, settings: AppreciationSettings, now: datetime) -> Send | Skip | Wait:
    """Whether a queued mail goes out now, to whom and in which language. Decided
    when it is sent, so consent, unsubscribe and erasure at that moment count.
    A shift reminder has its own consent (`shift_reminder_decision`).

    Volunteer mail waits for the registration (it brings name and address); mail
    to a coordinator or the lead waits for it a while (WAIT_FOR_REGISTRATION) and
    then goes with the volunteer's id instead of the name."""
    if mail.erased_at is not None:
        return Skip("volunteer erased")
    if mail.audience != "volunteer":
        if mail.registered_at is None and mail.created_at > now - WAIT_FOR_REGISTRATION:
            return Wait(now + WAIT_FOR_REGISTRATION)
        recipient, replaced = staff_recipient(settings, mail.audience, mail.context, mail.coordinator_email)
        return Send(recipient, settings.coordinator_language, replaced)
    if mail.registered_at is None:
        return Wait(now + WAIT_FOR_REGISTRATION)
    if mail.notification == SHIFT_REMINDER:
        return shift_reminder_decision(mail, now)
    if not mail.consent:
        return Skip("no consent for appreciation mail")
    if mail.unsubscribed_at is not None:
        return Skip("unsubscribed")
    if not mail.email:
        return Skip("no email address")
    return Send(mail.email, mail.language)


_COUNTED = re.compile(r"^(shifts|hours|years)-(\d+)$")


def milestone_inputs(context: dict) -> dict:
    """`measure` and `threshold` for templates. Mails queued now carry them; for a mail
    queued before they existed they are read from a `<measure>-<n>` milestone."""
    if context.get("measure") or not context.get("milestone"):
        return {}
    match = _COUNTED.match(context["milestone"])
    return {"measure": match[1], "threshold": int(match[2])} if match else {}


def in_language(values: dict, language: str) -> dict:
    """Template values with every per-language text of the rules (a dict such as
    {"nl": "de kantine", "en": "the canteen"}) resolved to the reader's language."""
    place = values.get("lunch_place")
    if isinstance(place, dict):
        return values | {"lunch_place": place.get(language) or next(iter(place.values()), None)}
    return values


def template_values(context: dict, name: str | None, volunteer_id: str, language: str) -> dict:
    """Everything a template gets but the links: every key (None when absent), the
    mail's context, the milestone's parts, the name (or `#id` before the registration)."""
    values = dict.fromkeys(TEMPLATE_KEYS) | milestone_inputs(context) | dict(context)
    return in_language(values | {"name": name or f"#{volunteer_id}"}, language)


@dataclass(frozen=True)
class SmtpVerdict:
    final: bool  # refused for good: failed, and the coordinator is told
    reset_session: bool  # the connection is not reused


def smtp_verdict(code: int | None, disconnected: bool) -> SmtpVerdict:
    """What an SMTP error means: 5xx is final; 4xx, a refused connection and a broken
    session are retried. A session without a reply code, or a dropped one, is reset."""
    return SmtpVerdict(final=code is not None and code >= 500, reset_session=code is None or disconnected)


def retry_at(now: datetime, attempts: int, first_seconds: float, max_seconds: float) -> datetime:
    """The next attempt after `attempts` failed ones: doubling from first_seconds, capped."""
    return now + timedelta(seconds=min(max_seconds, first_seconds * 2 ** attempts))


# -- upcoming milestones ------------------------------------------------------------------

def nearly_reached(threshold: int, value: float) -> bool:
    """A count is nearly at its threshold when it has started and is within a tenth of
    it (at least one): 9 of 10, 23 of 25, 90 of 100 hours."""
    return 0 < value < threshold and threshold - value <= max(1, threshold // 10)


def next_threshold(rules: Rules, measure: str, value: float) -> tuple[MilestoneRule, int] | None:
    """The smallest threshold of `measure` above `value`, with its rule."""
    candidates = [(n, rule) for rule in rules.for_measure(measure) for n in rule.at if n > value]
    if not candidates:
        return None
    threshold, rule = min(candidates, key=lambda candidate: candidate[0])
    return rule, threshold


def volunteer_mail_allowed(consent: bool, unsubscribed_at: datetime | None, erased_at: datetime | None) -> bool:
    """Whether appreciation mail would reach this volunteer (the sender decides again when it sends)."""
    return consent and unsubscribed_at is None and erased_at is None


def upcoming_count(rules: Rules, volunteer_id: str, measure: str, value: float,
                   volunteer_mail: bool) -> MilestoneUpcoming | None:
    """After a shift: the next `measure` milestone when the volunteer is nearly there
    (published again with each shift inside the window, with the new value)."""
    following = next_threshold(rules, measure, value)
    if following is None or not nearly_reached(following[1], value):
        return None
    rule, threshold = following
    sends = [PlannedMail(notification=n, audience="volunteer") for n in rule.notify] if volunteer_mail else []
    return MilestoneUpcoming(volunteer_id=volunteer_id, milestone=rule.milestone(threshold), measure=measure,
                             threshold=threshold, value=round(value, 1), sends=sends)


def full_years(started_on: date, today: date) -> int:
    years = today.year - started_on.year
    return years - 1 if years > 0 and anniversary(started_on, years) > today else max(years, 0)


def upcoming_anniversary(rules: Rules, volunteer_id: str, started_on: date, today: date,
                         volunteer_mail: bool) -> MilestoneUpcoming | None:
    """The next anniversary after `today`, with what goes out for it and on which day:
    the coordinator's reminder ahead of it (with the lunch invitation, when the rule
    has a reminder), the volunteer's mails on the day."""
    a = next((a for a in anniversaries(rules, started_on) if a.on > today), None)
    if a is None:
        return None
    # A reminder day already behind us (a volunteer registered within the reminder's
    # days) means the sweep sends it today.
    reminder_on = max(a.reminder_on, today) if a.reminder_on else None
    sends = []
    if reminder_on:
        sends.append(PlannedMail(notification="coordinator-reminder", audience="coordinator", on=reminder_on))
    if volunteer_mail:
        sends += [PlannedMail(notification=n, audience="volunteer",
                              on=reminder_on if n == "lunch-invitation" and reminder_on else a.on)
                  for n in a.rule.notify]
    return MilestoneUpcoming(volunteer_id=volunteer_id, milestone=a.milestone, measure="years", threshold=a.years,
                             value=full_years(started_on, today), expected_on=a.on, sends=sends)


def upcoming_event_id(upcoming: MilestoneUpcoming) -> str:
    """Counts: one event per value reached; years: one per anniversary."""
    suffix = "" if upcoming.measure == "years" else f":{upcoming.value:g}"
    return f"upcoming:{upcoming.volunteer_id}:{upcoming.milestone}{suffix}"


# -- shift reminders ----------------------------------------------------------------------

SHIFT_REMINDER = "shift-reminder"



def shift_occasion(shift_id: str) -> str:
    """One reminder per (volunteer, shift): the mail queue's key does the "never twice"."""
    return f"shift:{short(shift_id)}"


@dataclass(frozen=True)
class ReminderPlan:
    """What an assignment does to the volunteer's reminder of the shift: queue it
    (again, or with new details) to go out at `due`; or nothing, and why."""

    queue: bool
    due: datetime | None = None
    reason: str | None = None


def shift_reminder_plan(started_at: datetime, now: datetime, hours: float, queued: str | None,
                       assigned_at: datetime | None = None, queued_context: dict | None = None) -> ReminderPlan:
    """Whether and when a volunteer put on a shift is reminded of it: `hours`
    (SHIFT_REMINDER_HOURS) before the start; assigned later than that, at once, as
    long as the shift has not started. `queued` is the status of this volunteer's
    reminder of this shift in the mail queue: `sent` is never sent again, `skipped`
    was released (cancelled, reassigned, declined) and they are back on the shift,
    `pending` gets the newest details. `shifts.assigned` and `shifts.released` come
    on different topics, in no order: an assignment not later than the latest
    release the row remembers (`queued_context`), or older than the assignment it
    holds, is not queued (`assignment_is_current`)."""
    if not assignment_is_current(assigned_at, queued_context):
        return ReminderPlan(False, reason="released after this assignment, or assigned again since")
    if queued == "sent":
        return ReminderPlan(False, reason="already sent")
    if queued == "failed":
        return ReminderPlan(False, reason="refused for good by the mail server")
    if started_at <= now:
        return ReminderPlan(False, reason="the shift has started")
    return ReminderPlan(True, due=max(started_at - timedelta(hours=hours), now))


def _moment(context: dict | None, key: str) -> datetime | None:
    value = (context or {}).get(key)
    return datetime.fromisoformat(value) if value else None


def assignment_is_current(assigned_at: datetime | None, context: dict | None) -> bool:
    """An assignment counts when it is later than the latest release (or decline) of
    this volunteer from this shift, and not older than the assignment already known."""
    if assigned_at is None:
        return True  # a row from before assignments were remembered
    released_at, known = _moment(context, "released_at"), _moment(context, "assigned_at")
    return (released_at is None or assigned_at > released_at) and (known is None or assigned_at >= known)


@dataclass(frozen=True)
class Release:
    """What a release does to the volunteer's reminder of the shift: the release time
    the row remembers from now on, and whether a waiting reminder is skipped."""

    released_at: datetime
    skip: bool


def shift_release(released_at: datetime, queued: str | None, context: dict | None) -> Release:
    """A release (or decline) skips a waiting reminder only when the assignment it
    holds is older than the release; the row keeps the latest release, so an
    assignment consumed after an earlier release is not queued."""
    known_release, assigned_at = _moment(context, "released_at"), _moment(context, "assigned_at")
    latest = max(released_at, known_release) if known_release else released_at
    return Release(latest, queued == "pending" and (assigned_at is None or assigned_at <= released_at))


def on_shift(queued: str | None, context: dict | None) -> bool:
    """Whether the volunteer is on the shift as far as appreciation knows: their
    reminder waits or went out, and no release came after its assignment."""
    if queued not in ("pending", "sent"):
        return False
    released_at, assigned_at = _moment(context, "released_at"), _moment(context, "assigned_at")
    return released_at is None or (assigned_at is not None and assigned_at > released_at)


def decline_refused(queued: str | None, context: dict | None, now: datetime) -> str | None:
    """Why "I cannot come" no longer applies (None: it does): the volunteer is not on
    the shift (released, reassigned, cancelled, declined before, never known) or the
    shift has started or ended. A link lives UNSUBSCRIBE_LINK_DAYS."""
    if not on_shift(queued, context):
        return "not on the shift"
    started_at = _moment(context, "started_at")
    if started_at is None or started_at <= now:
        return "the shift has started"
    return None


def shift_reminder_context(shift: ShiftAssigned, due: datetime, tz) -> dict:  # noqa: ANN001
    """Template inputs of a shift reminder: the times in ORG_TIMEZONE as the volunteer
    reads them, UTC ones for the calendar item, and when it is due."""
    start, end = shift.started_at.astimezone(tz), shift.ended_at.astimezone(tz)
    return {"shift_id": shift.shift_id, "task": shift.task, "place": shift.place, "contact": shift.contact,
            "bring": shift.bring, "shift_on": start.date().isoformat(), "shift_from": start.strftime("%H:%M"),
            "shift_until": end.strftime("%H:%M"), "started_at": shift.started_at.isoformat(),
            "ended_at": shift.ended_at.isoformat(), "remind_at": due.isoformat(),
            "assigned_at": shift.assigned_at.isoformat()}


def shift_reminder_decision(mail: QueuedMail, now: datetime) -> Send | Skip | Wait:
    """A due shift reminder goes to the volunteer while they agree to reminders and the
    shift has not started; not before its time (a registration arriving wakes the
    volunteer's waiting mails early). Unsubscribing from appreciation mail does not
    stop it: the consent is its own."""
    if not mail.shift_reminder_consent:
        return Skip("no consent for shift reminders")
    if datetime.fromisoformat(mail.context["started_at"]) <= now:
        return Skip("the shift has started")
    remind_at = datetime.fromisoformat(mail.context["remind_at"])
    if remind_at > now:
        return Wait(remind_at)
    if not mail.email:
        return Skip("no email address")
    return Send(mail.email, mail.language)


def shift_declined_alert(shift_id: str, declined_at: datetime, reminder: dict | None, tz) -> Alert:  # noqa: ANN001
    """A volunteer said they cannot come: the coordinator finds someone else for this
    shift (its id, task and start from the reminder's context `reminder`). Once per
    volunteer and assignment, however often the link is used: put back on the same
    shift later, a second "I cannot come" alerts again."""
    reminder = reminder or {}
    started_at = _moment(reminder, "started_at")
    assigned_at = _moment(reminder, "assigned_at")
    occasion = f"shift-declined:{short(shift_id)}"
    if assigned_at is not None:
        occasion += ":" + assigned_at.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    return Alert(reason="shift-declined", occasion=occasion,
                 notification="coordinator-alert", audience="coordinator", due_since=declined_at,
                 context={"shift_id": shift_id, "task": reminder.get("task"),
                          "started_at": started_at.astimezone(tz).isoformat() if started_at else None})


# -- re-evaluating a volunteer under (changed) rules --------------------------------------

@dataclass(frozen=True)
class Passed:
    """A milestone a volunteer's history has passed, and when (for the grace window)."""

    milestone: str
    rule: MilestoneRule
    threshold: int
    happened_at: datetime
    context: dict


def _count_passes(rules: list[MilestoneRule], shifts: list[tuple[datetime, datetime]], year: int | None,
                  measure: str) -> list[Passed]:
    """Thresholds of `rules` the shifts (ordered by end) pass, each at the end of the
    shift that passed it."""
    passed, count, hours = [], 0, 0.0
    for started_at, ended_at in shifts:
        before_count, before_hours = count, hours
        count, hours = count + 1, hours + (ended_at - started_at).total_seconds() / 3600
        before, after = (before_count, count) if measure == "shifts" else (before_hours, hours)
        for rule in rules:
            for n in rule.at:
                if before < n <= after:
                    passed.append(Passed(rule.milestone(n, year), rule, n, ended_at, {
                        "shifts": count, "hours": round(hours), "task": None, "measure": measure,
                        "threshold": n, "per": rule.per, "year": year}))
    return passed


def passed_milestones(rules: Rules, shifts: list[tuple[datetime, datetime]], started_on: date | None,
                      today: date, tz: tzinfo) -> list[Passed]:
    """Every milestone of the rules the volunteer has passed by `today`: count
    thresholds (over all time, and per calendar year) at the end of the shift that
    passed them, anniversaries on their day. Whether each is new (the ledger) and
    still celebrated (the grace window) is the caller's question."""
    shifts = sorted(shifts, key=lambda shift: shift[1])
    passed = []
    for measure in ("shifts", "hours"):
        passed += _count_passes(rules.for_measure(measure), shifts, None, measure)
        if rules.per_year(measure):
            for year in sorted({year_of(end, tz) for _, end in shifts}):
                in_year = [shift for shift in shifts if year_of(shift[1], tz) == year]
                passed += _count_passes(rules.per_year(measure), in_year, year, measure)
    if started_on is not None:
        reached, _ = due_on(rules, started_on, today)
        passed += [Passed(a.milestone, a.rule, a.years, datetime.combine(a.on, time(0), tzinfo=tz),
                          anniversary_context(a)) for a in reached]
    return sorted(passed, key=lambda p: p.happened_at)


@dataclass(frozen=True)
class RulesEffect:
    """What applying rules would do for current volunteers, per milestone."""

    celebrated: dict[str, int] = field(default_factory=dict)  # recorded and mailed now
    silent: dict[str, int] = field(default_factory=dict)  # recorded, older than the grace window: not mailed

    def add(self, new: list[Passed], now: datetime, grace: timedelta) -> None:
        for p in new:
            bucket = self.celebrated if should_celebrate(p.happened_at, now, grace) else self.silent
            bucket[p.milestone] = bucket.get(p.milestone, 0) + 1


def new_milestones(passed: list[Passed], in_ledger: set[str]) -> list[Passed]:
    """Those not recorded before (the ledger holds each milestone once per volunteer)."""
    return [p for p in passed if p.milestone not in in_ledger]


def rules_digest(rules: Rules) -> str:
    """What re-evaluation depends on (milestones and the grace window), as a digest:
    comments, alerts and follow-up deadlines do not count."""
    canonical = rules.model_dump_json(include={"grace_days", "milestones"})
    return hashlib.sha256(canonical.encode()).hexdigest()
