"""The event contract: the public API organisations plug into.

One pydantic model per event type's `data`, and the catalogue tying each type to
its topic. A breaking change is a new `type` (…v2), never an edit of a v1 model.
Consumers ignore fields they do not know, so producers may add optional fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from shared.values import LongText, PersonName, SafeId, SaneDate, SaneDatetime, ShortText, clean_text

# `detail` is free text for a mail, but its length stays as published (500).
Detail = clean_text(500, multiline=True)
# A coordinator's note on a done to-do: free text, a few sentences.
TodoNote = clean_text(1000, multiline=True)
# What a to-do asks of a person; more kinds can be added to the Literal.
TodoAction = Literal["write-card"]
# Longer is a wrong date rather than a shift; it would also earn every hours milestone at once.
MAX_SHIFT_LENGTH = timedelta(days=7)


class EventData(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)

    volunteer_id: SafeId


class VolunteerRegistered(EventData):
    """A volunteer registered (or was imported from an organisation's system)."""

    name: PersonName
    email: EmailStr
    language: Literal["nl", "en"]
    registered_at: SaneDatetime
    service_started_on: SaneDate | None = Field(
        default=None, description="Start of volunteering; defaults to the date of registered_at."
    )
    coordinator_email: EmailStr | None = Field(
        default=None, description="Defaults to DEFAULT_COORDINATOR_EMAIL."
    )
    appreciation_mail_consent: bool = Field(
        default=True, description="May dankjewel send this volunteer thank-you cards and invitations?"
    )
    shift_reminder_consent: bool = Field(
        default=True, description="May dankjewel remind this volunteer of their shifts (SHIFT_REMINDER_HOURS ahead)?"
    )


class VolunteerUpdated(EventData):
    """Some of a volunteer's details changed; fields left out are unchanged."""

    name: PersonName | None = None
    email: EmailStr | None = None
    language: Literal["nl", "en"] | None = None
    coordinator_email: EmailStr | None = None
    appreciation_mail_consent: bool | None = None
    shift_reminder_consent: bool | None = None
    active: bool | None = Field(default=None, description="False when the volunteer stopped (no quiet alerts).")
    updated_at: SaneDatetime


class VolunteerErased(EventData):
    """Erase this person's personal data from every service (GDPR)."""

    requested_at: SaneDatetime


class HelpOffered(EventData):
    """A volunteer offered help, for an opportunity or in general: starts the follow-up clock."""

    application_id: SafeId
    opportunity_id: SafeId | None = None
    opportunity_title: ShortText | None = None
    offered_at: SaneDatetime
    coordinator_email: EmailStr | None = None


class OpportunityOffered(EventData):
    """A newly published opportunity fits this volunteer (for an opt-in suggestion mail)."""

    opportunity_id: SafeId
    title: ShortText
    reasons: list[ShortText] = Field(default_factory=list, max_length=20)


class ShiftCompleted(EventData):
    """A volunteer completed a shift (from the tasks service or a rostering system)."""

    shift_id: SafeId
    started_at: SaneDatetime
    ended_at: SaneDatetime = Field(description="Not before started_at, and at most 7 days after it.")
    task: ShortText | None = None

    @model_validator(mode="after")
    def _ends_after_start(self) -> "ShiftCompleted":
        if self.ended_at < self.started_at:
            raise ValueError("ended_at is before started_at")
        if self.ended_at - self.started_at > MAX_SHIFT_LENGTH:
            raise ValueError(f"a shift lasts at most {MAX_SHIFT_LENGTH.days} days")
        return self


class ShiftAssigned(EventData):
    """A volunteer was put on a scheduled shift (by the tasks service or a rostering
    system); what a reminder tells them comes from here."""

    shift_id: SafeId
    started_at: SaneDatetime
    ended_at: SaneDatetime
    task: ShortText | None = None
    place: ShortText | None = Field(default=None, description="Where to go, e.g. an address or a room.")
    contact: ShortText | None = Field(default=None, description="Whom to ask on the day, e.g. a name and a "
                                                                 "phone number.")
    bring: LongText | None = Field(default=None, description="What to expect or bring.")
    assigned_at: SaneDatetime

    @model_validator(mode="after")
    def _ends_after_start(self) -> "ShiftAssigned":
        if self.ended_at < self.started_at:
            raise ValueError("ended_at is before started_at")
        return self


class ShiftReleased(EventData):
    """The volunteer is no longer on the shift: it was cancelled, given to someone
    else, declined by them, or they were erased. No reminder goes out for it."""

    shift_id: SafeId
    reason: Literal["cancelled", "reassigned", "declined", "erased"]
    released_at: SaneDatetime


class ShiftDeclined(EventData):
    """The volunteer said they cannot come (the link in their shift reminder); the
    tasks service takes them off the shift and a coordinator finds someone else."""

    shift_id: SafeId
    declined_at: SaneDatetime


class ShiftMissed(EventData):
    """A volunteer did not turn up for a scheduled shift."""

    shift_id: SafeId
    scheduled_start: SaneDatetime


class CheckinCompleted(EventData):
    """A contact moment between coordinator and volunteer was held."""

    checkin_id: SafeId
    kind: Literal["intake", "onboarding", "periodic"]
    held_at: SaneDatetime


class FollowUpOverdue(EventData):
    """A contact moment is overdue; `rung` says whom to tell (reminder → coordinator,
    escalation → the organisation's lead)."""

    kind: Literal["intake", "onboarding", "periodic", "quiet"]
    rung: Literal["reminder", "escalation"]
    due_since: SaneDatetime
    coordinator_email: EmailStr | None = None
    escalate_to: EmailStr | None = None
    detail: Detail | None = Field(default=None, description="What is overdue, in an English sentence (for logs "
                                                          "and consoles; mail is worded from the fields below).")
    started_at: SaneDatetime | None = Field(default=None, description="When the wait began.")
    started_by: Literal["registration", "offer-of-help", "first-shift", "last-shift", "return", "check-in"] | None = \
        Field(default=None, description="What began the wait.")
    opportunity_title: ShortText | None = Field(default=None, description="The opportunity the offer of help was for.")


class MilestoneReached(EventData):
    """A milestone was reached; `celebrated` is false when it was detected too late to mail."""

    milestone: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=100, examples=["first-shift", "years-5"])
    reached_on: SaneDate
    celebrated: bool


class PlannedMail(BaseModel):
    """One mail dankjewel will send when a milestone is reached (or on a date)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    notification: str = Field(max_length=100, examples=["milestone-card", "lunch-invitation", "coordinator-reminder"])
    audience: Literal["volunteer", "coordinator", "lead"]
    on: SaneDate | None = Field(default=None, description="The day it goes out; none: when the milestone is reached.")


class MilestoneUpcoming(EventData):
    """A volunteer's next milestone of one measure, and what dankjewel will send for
    it. Replaces the previous upcoming milestone of the same measure; none is
    published once the last threshold of a measure is behind the volunteer.
    Shift and hour counts are published when nearly reached; years of service as
    soon as the anniversary before it has passed (with its date)."""

    milestone: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=100, examples=["shifts-50", "years-5"])
    measure: Literal["shifts", "hours", "years"]
    threshold: int = Field(ge=1)
    value: float = Field(ge=0, description="Where the volunteer stands now (shifts, hours or full years).")
    expected_on: SaneDate | None = Field(default=None, description="Years of service: the anniversary's date.")
    sends: list[PlannedMail] = Field(default_factory=list, max_length=20)


class AppreciationSent(EventData):
    """An appreciation or coordinator mail was accepted by the SMTP server. Superseded by v2."""

    milestone: str = Field(max_length=100)
    notification: str = Field(max_length=100, examples=["first-shift-thanks", "coordinator-reminder"])
    recipient: EmailStr


class AppreciationSentV2(EventData):
    """An appreciation or coordinator mail was accepted by the SMTP server. Supersedes
    dankjewel.appreciation.sent.v1 on the same topic: says to whom by role, not by
    e-mail address (no consumer needed the address)."""

    milestone: str = Field(max_length=100)
    notification: str = Field(max_length=100, examples=["first-shift-thanks", "coordinator-reminder"])
    audience: Literal["volunteer", "coordinator", "lead"]


class AlertRaised(EventData):
    """A coordinator was alerted that something needs attention."""

    reason: str = Field(max_length=200, examples=["follow-up-overdue", "quiet-volunteer"])
    coordinator_email: EmailStr
    due_since: SaneDatetime


class AlertAcknowledged(EventData):
    """A coordinator took on an alert in the console ("I'll take this"), so the other
    coordinators know it is in hand. `by` is the console account's opaque id."""

    reason: str = Field(max_length=200, examples=["intake-overdue", "quiet-volunteer"])
    due_since: SaneDatetime
    acknowledged_at: SaneDatetime
    by: SafeId


class TodoOpened(EventData):
    """A coordinator has something to do by hand for a volunteer (for now: write a
    card before an anniversary). `todo_id` is unique per volunteer and deterministic."""

    todo_id: SafeId
    action: TodoAction
    milestone: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=100, examples=["years-5"])
    due_on: SaneDate = Field(description="Do it before this date (the anniversary).")
    lunch_on: SaneDate | None = Field(default=None, description="The volunteer's lunch invitation, if any.")


class TodoDone(EventData):
    """A coordinator marked a to-do done in the console. `by` is the console account's opaque id."""

    todo_id: SafeId
    done_at: SaneDatetime
    by: SafeId
    note: TodoNote | None = None


class TodoSnoozed(EventData):
    """A coordinator put a to-do off until a date (it is not overdue before then)."""

    todo_id: SafeId
    until: SaneDate
    by: SafeId


class TodoOverdue(EventData):
    """A to-do's date passed and it is still not done; published once per to-do."""

    todo_id: SafeId
    action: TodoAction
    milestone: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=100, examples=["years-5"])
    due_on: SaneDate


@dataclass(frozen=True)
class EventType:
    type: str
    topic: str
    model: type[EventData]

    @property
    def dlq_topic(self) -> str:
        return dlq_topic(self.topic)


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"


VOLUNTEER_REGISTERED = EventType("dankjewel.volunteer.registered.v1", "volunteers.registered", VolunteerRegistered)
SHIFT_COMPLETED = EventType("dankjewel.shift.completed.v1", "shifts.completed", ShiftCompleted)
CHECKIN_COMPLETED = EventType("dankjewel.checkin.completed.v1", "checkins.completed", CheckinCompleted)
MILESTONE_REACHED = EventType("dankjewel.milestone.reached.v1", "milestones.reached", MilestoneReached)
APPRECIATION_SENT = EventType("dankjewel.appreciation.sent.v1", "appreciations.sent", AppreciationSent)
ALERT_RAISED = EventType("dankjewel.alert.raised.v1", "alerts.raised", AlertRaised)
# v1 is no longer published; it stays in the catalogue so records already on the topic still parse.
APPRECIATION_SENT_V2 = EventType("dankjewel.appreciation.sent.v2", "appreciations.sent", AppreciationSentV2)
ALERT_ACKNOWLEDGED = EventType("dankjewel.alert.acknowledged.v1", "alerts.acknowledged", AlertAcknowledged)

VOLUNTEER_UPDATED = EventType("dankjewel.volunteer.updated.v1", "volunteers.updated", VolunteerUpdated)
VOLUNTEER_ERASED = EventType("dankjewel.volunteer.erased.v1", "volunteers.erased", VolunteerErased)
HELP_OFFERED = EventType("dankjewel.help.offered.v1", "help.offered", HelpOffered)
OPPORTUNITY_OFFERED = EventType("dankjewel.opportunity.offered.v1", "opportunities.offered", OpportunityOffered)
SHIFT_MISSED = EventType("dankjewel.shift.missed.v1", "shifts.missed", ShiftMissed)
SHIFT_ASSIGNED = EventType("dankjewel.shift.assigned.v1", "shifts.assigned", ShiftAssigned)
SHIFT_RELEASED = EventType("dankjewel.shift.released.v1", "shifts.released", ShiftReleased)
SHIFT_DECLINED = EventType("dankjewel.shift.declined.v1", "shifts.declined", ShiftDeclined)
FOLLOWUP_OVERDUE = EventType("dankjewel.followup.overdue.v1", "followups.overdue", FollowUpOverdue)
MILESTONE_UPCOMING = EventType("dankjewel.milestone.upcoming.v1", "milestones.upcoming", MilestoneUpcoming)
TODO_OPENED = EventType("dankjewel.todo.opened.v1", "todos.opened", TodoOpened)
TODO_DONE = EventType("dankjewel.todo.done.v1", "todos.done", TodoDone)
TODO_SNOOZED = EventType("dankjewel.todo.snoozed.v1", "todos.snoozed", TodoSnoozed)
TODO_OVERDUE = EventType("dankjewel.todo.overdue.v1", "todos.overdue", TodoOverdue)

CATALOGUE: tuple[EventType, ...] = (
    VOLUNTEER_REGISTERED,
    SHIFT_COMPLETED,
    CHECKIN_COMPLETED,
    MILESTONE_REACHED,
    APPRECIATION_SENT,
    ALERT_RAISED,
    VOLUNTEER_UPDATED,
    VOLUNTEER_ERASED,
    HELP_OFFERED,
    OPPORTUNITY_OFFERED,
    SHIFT_MISSED,
    FOLLOWUP_OVERDUE,
    APPRECIATION_SENT_V2,
    ALERT_ACKNOWLEDGED,
    TODO_OPENED,
    TODO_DONE,
    TODO_SNOOZED,
    TODO_OVERDUE,
    MILESTONE_UPCOMING,
    SHIFT_ASSIGNED,
    SHIFT_RELEASED,
    SHIFT_DECLINED,
)
BY_TYPE: dict[str, EventType] = {event.type: event for event in CATALOGUE}

