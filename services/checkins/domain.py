"""Check-in rules as pure functions: when a contact moment is due, and whom to tell.

A *clock* runs per volunteer and kind of contact moment (intake, onboarding,
periodic, quiet) from a moment taken from an event (registered_at, offered_at,
ended_at, held_at), never from the wall clock, so a backfilled history gives the
same deadlines as a live one. The sweep asks `rungs_due` which rungs of the
ladder (reminder to the coordinator, then escalation to the lead) are due.
"""

from __future__ import annotations

import re

import calendar
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Literal

Kind = Literal["intake", "onboarding", "periodic", "quiet"]
Rung = Literal["reminder", "escalation"]
LADDER: tuple[Rung, ...] = ("reminder", "escalation")


@dataclass(frozen=True)
class Rules:
    """Deadlines, from settings (INTAKE_DEADLINE_DAYS, …)."""

    intake: timedelta = timedelta(days=7)
    onboarding: timedelta = timedelta(days=14)
    periodic_months: int = 6
    quiet: timedelta = timedelta(days=60)
    escalation_after: timedelta = timedelta(days=7)

    @classmethod
    def from_settings(cls, settings) -> "Rules":  # noqa: ANN001 - shared.settings.Settings
        return cls(
            intake=timedelta(days=settings.intake_deadline_days),
            onboarding=timedelta(days=settings.onboarding_deadline_days),
            periodic_months=settings.periodic_checkin_months,
            quiet=timedelta(days=settings.quiet_after_days),
            escalation_after=timedelta(days=settings.escalation_after_days),
        )


def add_months(moment: datetime, months: int) -> datetime:
    """The same day and time `months` later; the 31st becomes the month's last day."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def due_at(kind: Kind, started_at: datetime, rules: Rules) -> datetime:
    """When the contact moment of a clock started at `started_at` is due."""
    if kind == "periodic":
        return add_months(started_at, rules.periodic_months)
    return started_at + {"intake": rules.intake, "onboarding": rules.onboarding, "quiet": rules.quiet}[kind]


@dataclass(frozen=True)
class RungDue:
    rung: Rung
    due_since: datetime  # when the contact moment became overdue (the same for both rungs)


def rungs_due(kind: Kind, started_at: datetime, rules: Rules, raised: Collection[str],
              as_of: datetime) -> list[RungDue]:
    """The rungs of the ladder due at `as_of` and not raised before, in ladder order.

    The reminder is due at the deadline, the escalation `escalation_after` later.
    A sweep that first runs long after the deadline raises both at once."""
    deadline = due_at(kind, started_at, rules)
    rung_at = {"reminder": deadline, "escalation": deadline + rules.escalation_after}
    return [RungDue(rung, deadline) for rung in LADDER if rung not in raised and as_of >= rung_at[rung]]


# --- how clocks move -------------------------------------------------------

@dataclass(frozen=True)
class Clock:
    started_at: datetime
    closed_at: datetime | None = None

    @property
    def running(self) -> bool:
        return self.closed_at is None


def start_answerable(clock: Clock | None, start: datetime) -> Clock | None:
    """Intake: a registration or offer of help asks for an answer.

    The new clock, or None when nothing changes: a running clock keeps its oldest
    unanswered start; a clock answered (closed) after `start` already answered it;
    a clock answered before `start` runs again from `start`."""
    if clock is None:
        return Clock(start)
    if clock.running:
        return Clock(start) if start < clock.started_at else None
    if start > clock.closed_at:
        return Clock(start)
    return None


def start_once(clock: Clock | None, start: datetime) -> Clock | None:
    """Onboarding: after the *first* shift only; an earlier shift reported late moves
    a running clock back, a later shift changes nothing."""
    if clock is None:
        return Clock(start)
    if clock.running and start < clock.started_at:
        return Clock(start)
    return None


def start_latest(clock: Clock | None, start: datetime) -> Clock | None:
    """Periodic and quiet: the clock counts from the latest contact (or shift); a
    newer one restarts it, an older one reported late changes nothing."""
    if clock is None or start > clock.started_at:
        return Clock(start)
    return None


def closes_clock(clock_started_at: datetime, held_at: datetime) -> bool:
    """A check-in counts for an intake or onboarding clock only when held after it started."""
    return held_at >= clock_started_at


def closes_quiet_clock(quiet_started_at: datetime, held_at: datetime, rules: Rules) -> bool:
    """Getting in touch with a quiet volunteer means a check-in of any kind held once
    they had gone quiet; a talk before that does not stop them going quiet."""
    return held_at >= due_at("quiet", quiet_started_at, rules)


# --- what the coordinator reads ----------------------------------------------

def describe(kind: Kind, started_at: datetime, subject: str | None, rules: Rules, zone: tzinfo) -> str:
    """What is overdue and since when, in a sentence for the coordinator's mail.

    Contains no name or e-mail address (only ids and opportunity titles)."""
    since = started_at.astimezone(zone).date().isoformat()
    due = due_at(kind, started_at, rules).astimezone(zone).date().isoformat()
    text = {
        "intake": f"No intake conversation yet after the {subject or 'registration'} of {since}; due {due}.",
        "onboarding": f"No onboarding check-in yet after the first shift on {since}; due {due}.",
        "periodic": f"No check-in for {rules.periodic_months} months (last contact {since}); due {due}.",
        "quiet": f"No shift for {rules.quiet.days} days since the {subject or 'last shift'} on {since}; "
                 "please get in touch.",
    }[kind]
    return text if len(text) <= 500 else text[:499] + "…"


OFFER_FOR = re.compile(r"^offer of help for '(?P<title>.*)'$", re.DOTALL)


def origin(kind: Kind, subject: str | None) -> tuple[str | None, str | None]:
    """(what began the wait, the opportunity's title) from a clock's stored subject,
    for the overdue event's structured fields: the mail is worded from these in the
    reader's language, never from the English `detail`."""
    if kind == "onboarding":
        return "first-shift", None
    if kind == "periodic":
        return ("registration" if subject == "registration" else "check-in"), None
    if subject == "registration":
        return "registration", None
    if subject and subject.startswith("offer of help"):
        match = OFFER_FOR.match(subject)
        return "offer-of-help", (match.group("title")[:200] or None) if match else None
    if subject == "last shift":
        return "last-shift", None
    if subject == "return to active volunteering":
        return "return", None
    return None, None
