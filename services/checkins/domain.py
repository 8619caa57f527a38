"""Check-in rules as pure functions: when a contact moment is due, and whom to tell.

A *clock* runs per volunteer and kind of contact moment (intake, onboarding,
periodic, quiet) from a moment taken from an event (registered_at, offered_at,
ended_at, held_at), never from the wall clock, so a backfilled history gives the
same deadlines as a live one. The sweep asks `rungs_due` which rungs of the
ladder (reminder to the coordinator, then escalation to the lead) are due.
"""

from __future__ import annotations

import calendar
import re
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Literal

Kind = Literal["intake", "onboarding", "periodic", "quiet"]
Rung = Literal["reminder", "escalation"]
LADDER: tuple[Rung, ...] = ("reminder", "escalation")


@dataclass(frozen=True)
class Rules:
    """Deadlines: the rules file's `followups:` section, overridden by environment
    variables (`services/checkins/rules.py` reads them)."""

    intake: timedelta = timedelta(days=7)
    onboarding: timedelta = timedelta(days=14)
    periodic_months: int = 6
    quiet: timedelta = timedelta(days=60)
    escalation_after: timedelta = timedelta(days=7)


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


def still_overdue(seen_started_at: datetime, now: Clock | None, erased: bool) -> bool:
    """Whether a rung the sweep found due may still be raised once the volunteer is
    locked: the clock it saw still runs from the same start, and the person was not
    erased meanwhile (a check-in, an update or an erasure may have committed since)."""
    return not erased and now is not None and now.running and now.started_at == seen_started_at


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


OVERDUE_EVENT_IDS = uuid.UUID("5d0c1f5e-7a42-4c59-9a53-0b7f3c3f6a10")


def overdue_event_id(volunteer_id: str, kind: str, clock_started_at: datetime, rung: str) -> str:
    """The id of a rung's `followups.overdue`, from its key: raised again (a second
    sweep, a replay), it carries the same id."""
    started = clock_started_at.astimezone(timezone.utc).isoformat()
    return str(uuid.uuid5(OVERDUE_EVENT_IDS, f"{volunteer_id}/{kind}/{started}/{rung}"))


# Clocks a check-in of the same kind answers (the others restart or run on).
ANSWERABLE: frozenset[str] = frozenset({"intake", "onboarding"})
# An inactive volunteer (volunteers.updated active=false) gets no quiet or periodic follow-ups.
KINDS_OF_ACTIVE_VOLUNTEERS: frozenset[str] = frozenset({"quiet", "periodic"})


def clocks_closed_by(checkin_kind: str, held_at: datetime, running: Mapping[str, datetime],
                     rules: Rules) -> list[str]:
    """The running clocks (kind → started_at) a check-in held at `held_at` closes: its
    own kind's intake or onboarding clock when held after the start, and the quiet
    clock once the volunteer had gone quiet."""
    closed = []
    if checkin_kind in ANSWERABLE and checkin_kind in running and closes_clock(running[checkin_kind], held_at):
        closed.append(checkin_kind)
    if "quiet" in running and closes_quiet_clock(running["quiet"], held_at, rules):
        closed.append("quiet")
    return closed


def followed_up(kind: str, active: bool | None) -> bool:
    """Whether a running clock of this kind raises follow-ups for a volunteer marked
    (in)active; None: not known to be inactive."""
    return not (kind in KINDS_OF_ACTIVE_VOLUNTEERS and active is False)


def earliest_registration(known: datetime | None, reported: datetime) -> datetime:
    """A volunteer registered once: the earliest moment reported counts."""
    return reported if known is None or reported < known else known


def periodic_start_at_registration(registered_at: datetime, latest_checkin: datetime | None) -> datetime:
    """The periodic clock counts from the registration, or a check-in held after it."""
    return latest_checkin if latest_checkin is not None and latest_checkin > registered_at else registered_at


def quiet_start_at_registration(registered_at: datetime, last_shift_at: datetime | None) -> tuple[datetime, str]:
    """(start, subject) of the quiet clock on a registration: the last shift when one
    was reported after it (topics are not ordered among each other), else the registration."""
    if last_shift_at is not None and last_shift_at > registered_at:
        return last_shift_at, "last shift"
    return registered_at, "registration"


def offer_subject(opportunity_title: str | None, application_id: str) -> str:
    """What started an intake clock on an offer of help (read back by `origin`)."""
    what = f"for '{opportunity_title}'" if opportunity_title else f"(application {application_id})"
    return f"offer of help {what}"[:300]


def update_is_stale(applied_at: datetime | None, updated_at: datetime) -> bool:
    """An update older than one applied before (delivered late) must not undo it."""
    return applied_at is not None and updated_at < applied_at


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
