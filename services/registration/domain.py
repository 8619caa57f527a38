"""Registration rules as pure functions: names, availability and matching.

Availability vocabulary (the same for volunteers and for when an opportunity takes place):

* weekly:   {"kind": "weekly", "weekdays": ["tuesday"], "parts_of_day": ["morning"]}
* monthly:  {"kind": "monthly", "week": "first", "weekday": "thursday", "parts_of_day": ["afternoon"]}
* on call:  {"kind": "on-call"}
* one-off:  {"kind": "one-off", "on": "2026-12-05", "parts_of_day": ["evening"]}

An empty `parts_of_day` means "any time of day".
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Literal, TypeVar, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter

from shared.values import SaneDate, clean_text

_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")
T = TypeVar("T")


def clean_name(name: str) -> str:
    """A person's name as shown in mail: control characters (CR/LF among them) removed,
    inner whitespace collapsed."""
    return " ".join(_UNSAFE.sub(" ", name).split())


def clean_labels(labels: list[str]) -> list[str]:
    """Interests, skills, tasks: cleaned like names, empty ones dropped, duplicates
    (ignoring case) removed, first spelling and order kept."""
    seen: set[str] = set()
    cleaned = []
    for label in labels:
        label = clean_name(label)
        if label and label.casefold() not in seen:
            seen.add(label.casefold())
            cleaned.append(label)
    return cleaned


def not_blank(text: str) -> str:
    if not text:
        raise ValueError("must not be blank")
    return text


# Names and labels as people type them: control and bidi characters refused,
# zero-width ones removed (shared.values), inner whitespace collapsed.
Name = Annotated[clean_text(200), AfterValidator(clean_name)]
Label = Annotated[clean_text(100), AfterValidator(clean_name)]
Labels = Annotated[list[Label], Field(max_length=50), AfterValidator(clean_labels)]

# --- availability -------------------------------------------------------------------------

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
PartOfDay = Literal["morning", "afternoon", "evening"]
WeekOfMonth = Literal["first", "second", "third", "fourth", "last"]

WEEKDAYS: tuple[str, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
PARTS_OF_DAY: tuple[str, ...] = ("morning", "afternoon", "evening")
WEEKS_OF_MONTH: tuple[str, ...] = ("first", "second", "third", "fourth", "last")


class _Slot(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Weekly(_Slot):
    """Every week on these weekdays."""

    kind: Literal["weekly"] = "weekly"
    weekdays: list[Weekday] = Field(min_length=1, max_length=7)
    parts_of_day: list[PartOfDay] = Field(default_factory=list, max_length=3)


class Monthly(_Slot):
    """The Nth weekday of every month ("first Thursday")."""

    kind: Literal["monthly"] = "monthly"
    week: WeekOfMonth
    weekday: Weekday
    parts_of_day: list[PartOfDay] = Field(default_factory=list, max_length=3)


class OnCall(_Slot):
    """Can be called when needed."""

    kind: Literal["on-call"] = "on-call"


class OneOff(_Slot):
    """Once, on this date."""

    kind: Literal["one-off"] = "one-off"
    on: SaneDate
    parts_of_day: list[PartOfDay] = Field(default_factory=list, max_length=3)


Slot = Annotated[Union[Weekly, Monthly, OnCall, OneOff], Field(discriminator="kind")]


class Availability(BaseModel):
    """When a volunteer can help: any of the slots, and at most so many hours a month."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    slots: list[Slot] = Field(default_factory=list, max_length=20)
    max_hours_per_month: int | None = Field(default=None, ge=1, le=744)


def week_of_month(day: date) -> set[str]:
    """Which "Nth weekday of the month" a date is: {"first"}, {"fourth", "last"}, …"""
    weeks = set()
    if day.day <= 28:
        weeks.add(WEEKS_OF_MONTH[(day.day - 1) // 7])
    if day.day + 7 > calendar.monthrange(day.year, day.month)[1]:
        weeks.add("last")
    return weeks


def _common_parts(a: list[str], b: list[str]) -> list[str] | None:
    """Parts of day both sides can do ([] = any time); None when they cannot meet."""
    if not a or not b:
        return list(a or b)
    common = [part for part in PARTS_OF_DAY if part in a and part in b]
    return common or None


def slot_fit(available: Slot, needed: Slot) -> Slot | None:
    """The part of `needed` (when the opportunity takes place) that the volunteer's
    `available` slot covers, or None. A monthly or one-off need is covered by a weekly
    availability on that weekday; a weekly need is not covered by a monthly availability."""
    if isinstance(needed, OnCall) or isinstance(available, OnCall):
        return needed if isinstance(needed, OnCall) and isinstance(available, OnCall) else None
    parts = _common_parts(available.parts_of_day, needed.parts_of_day)
    if parts is None:
        return None
    if isinstance(needed, Weekly):
        if isinstance(available, Weekly):
            days = [day for day in needed.weekdays if day in available.weekdays]
            return Weekly(weekdays=days, parts_of_day=parts) if days else None
        return None
    if isinstance(needed, Monthly):
        covered = (isinstance(available, Weekly) and needed.weekday in available.weekdays) or (
            isinstance(available, Monthly) and (available.week, available.weekday) == (needed.week, needed.weekday))
        return Monthly(week=needed.week, weekday=needed.weekday, parts_of_day=parts) if covered else None
    # one-off
    weekday = WEEKDAYS[needed.on.weekday()]
    covered = (
        (isinstance(available, OneOff) and available.on == needed.on)
        or (isinstance(available, Weekly) and weekday in available.weekdays)
        or (isinstance(available, Monthly) and available.weekday == weekday
            and available.week in week_of_month(needed.on))
    )
    return OneOff(on=needed.on, parts_of_day=parts) if covered else None


def occurrences_per_month(slot: Slot) -> int:
    """How often a volunteer doing this slot comes, at the least (one weekday of a weekly
    slot is enough); on call is unknown and counted as 0."""
    return {"weekly": 4, "monthly": 1, "one-off": 1, "on-call": 0}[slot.kind]


# --- readable words -----------------------------------------------------------------------

Language = Literal["nl", "en"]

_WORDS: dict[str, dict[str, str]] = {
    "nl": dict(zip(WEEKDAYS, ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")))
    | dict(zip(PARTS_OF_DAY, ("ochtend", "middag", "avond")))
    | dict(zip(WEEKS_OF_MONTH, ("eerste", "tweede", "derde", "vierde", "laatste")))
    | {"and": "en", "or": "of", "every": "elke", "of the month": "van de maand", "on call": "op afroep",
       "on": "op"},
    "en": {day: day.capitalize() for day in WEEKDAYS}
    | {part: part for part in PARTS_OF_DAY}
    | {week: week for week in WEEKS_OF_MONTH}
    | {"and": "and", "or": "or", "every": "every", "of the month": "of the month", "on call": "on call",
       "on": "on"},
}
_MONTHS = {
    "nl": ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober",
           "november", "december"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
}


def _join(words: list[str], conjunction: str) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {conjunction} {words[-1]}"


def describe_slot(slot: Slot, language: Language = "en") -> str:
    """'first Thursday of the month, afternoon', 'elke dinsdag, ochtend of middag', 'on call'."""
    w = _WORDS[language]
    if isinstance(slot, OnCall):
        return w["on call"]
    if isinstance(slot, Weekly):
        text = f"{w['every']} {_join([w[day] for day in slot.weekdays], w['and'])}"
    elif isinstance(slot, Monthly):
        text = f"{w[slot.week]} {w[slot.weekday]} {w['of the month']}"
    else:
        text = f"{w['on']} {slot.on.day} {_MONTHS[language][slot.on.month - 1]} {slot.on.year}"
    if slot.parts_of_day:
        text += f", {_join([w[part] for part in slot.parts_of_day], w['or'])}"
    return text


def describe_duration(minutes: int, language: Language = "nl") -> str:
    """150 → '2 uur en 30 minuten' / '2 hours 30 minutes'."""
    hours, rest = divmod(minutes, 60)
    if language == "nl":
        words = ([f"{hours} uur"] if hours else []) + ([f"{rest} minuten"] if rest else [])
        return " en ".join(words) or "0 minuten"
    words = ([f"{hours} hour{'s' if hours != 1 else ''}"] if hours else []) + (
        [f"{rest} minute{'s' if rest != 1 else ''}"] if rest else [])
    return " ".join(words) or "0 minutes"


_REASONS = {
    "nl": {"skill": "gebruikt je vaardigheid: {}", "interest": "past bij je interesse: {}", "fits": "past: {}",
           "hours": "past binnen je maximum van {} uur per maand"},
    "en": {"skill": "uses your skill: {}", "interest": "matches your interest: {}", "fits": "fits: {}",
           "hours": "within your maximum of {} hours a month"},
}

# --- matching -----------------------------------------------------------------------------

# A shared skill or interest counts 2; a time the volunteer can make counts 3. An offer
# mail goes out from OFFER_THRESHOLD: a shared skill or interest and a fitting time, or
# two shared skills/interests when one side said nothing about time.
SKILL_POINTS = 2
INTEREST_POINTS = 2
AVAILABILITY_POINTS = 3
OFFER_THRESHOLD = 4


@dataclass(frozen=True)
class VolunteerProfile:
    interests: list[str]
    skills: list[str]
    availability: Availability | None
    language: Language = "en"


@dataclass(frozen=True)
class OpportunityProfile:
    interests: list[str]
    skills: list[str]
    when: list[Slot]
    minutes_per_occurrence: int


@dataclass(frozen=True)
class Match:
    score: int
    reasons: tuple[str, ...]

    @property
    def worth_offering(self) -> bool:
        return self.score >= OFFER_THRESHOLD


NO_MATCH = Match(0, ())


def _shared(mine: list[str], theirs: list[str]) -> list[str]:
    """My labels that also appear in theirs, ignoring case; in my spelling and order."""
    wanted = {label.casefold() for label in theirs}
    return [label for label in mine if label.casefold() in wanted]


def _fitting_time(availability: Availability, opportunity: OpportunityProfile) -> Slot | None:
    """The first of the opportunity's times the volunteer can make within their maximum
    hours a month (when there are slots on both sides: otherwise the caller decides)."""
    for needed in opportunity.when:
        for available in availability.slots or [needed]:  # no slots given: only the hours count
            fit = slot_fit(available, needed)
            if fit is None:
                continue
            hours = opportunity.minutes_per_occurrence * occurrences_per_month(fit) / 60
            if availability.max_hours_per_month is None or hours <= availability.max_hours_per_month:
                return fit
    return None


def match(volunteer: VolunteerProfile, opportunity: OpportunityProfile) -> Match:
    """How well an opportunity fits a volunteer, and why, in the volunteer's language.

    An opportunity at times the volunteer cannot make (or needing more hours a month
    than they have) does not match at all, however well the rest fits. When either
    side says nothing about time, time neither adds nor excludes."""
    words = _REASONS[volunteer.language]
    score, reasons, time_reasons = 0, [], []
    availability = volunteer.availability
    if availability is not None and opportunity.when and (availability.slots or availability.max_hours_per_month):
        fit = _fitting_time(availability, opportunity)
        if fit is None:
            return NO_MATCH
        if availability.slots:
            score += AVAILABILITY_POINTS
            time_reasons.append(words["fits"].format(describe_slot(fit, volunteer.language)))
        if availability.max_hours_per_month is not None and occurrences_per_month(fit):
            time_reasons.append(words["hours"].format(availability.max_hours_per_month))
    for skill in _shared(volunteer.skills, opportunity.skills):
        score += SKILL_POINTS
        reasons.append(words["skill"].format(skill))
    for interest in _shared(volunteer.interests, opportunity.interests):
        score += INTEREST_POINTS
        reasons.append(words["interest"].format(interest))
    # What you would do first, when second: reads best in a list or a mail.
    return Match(score, tuple(reasons + time_reasons)) if score else NO_MATCH


def opportunity_times(schedule: str, when: list[Slot]) -> list[Slot]:
    """When an opportunity takes place, for matching: an on-call opportunity that named
    no times is on call."""
    return when or ([OnCall()] if schedule == "on-call" else [])


_SLOTS = TypeAdapter(list[Slot])


def slots_from_json(stored: list[dict]) -> list[Slot]:
    return _SLOTS.validate_python(stored)


def availability_from_json(stored: dict | None) -> Availability | None:
    return None if stored is None else Availability.model_validate(stored)


def rank_matches(found: Iterable[tuple[Match, str, T]]) -> list[tuple[Match, T]]:
    """(fit, title, item) → the items that fit at all, best first; equal scores by
    title, ignoring case."""
    fitting = [(fit, title, item) for fit, title, item in found if fit.score > 0]
    fitting.sort(key=lambda entry: (-entry[0].score, entry[1].casefold()))
    return [(fit, item) for fit, _, item in fitting]


# --- opportunities ------------------------------------------------------------------------

# Which kinds of slot (`when`) each schedule allows.
SLOTS_BY_SCHEDULE: dict[str, frozenset[str]] = {
    "one-off": frozenset({"one-off"}),
    "recurring": frozenset({"weekly", "monthly"}),
    "on-call": frozenset({"on-call"}),
    "short-project": frozenset({"weekly", "monthly", "one-off"}),
}


def slot_kinds_not_allowed(schedule: str, kinds: Iterable[str]) -> list[str]:
    """The slot kinds an opportunity of `schedule` cannot take place at, sorted."""
    return sorted(set(kinds) - SLOTS_BY_SCHEDULE.get(schedule, frozenset()))


def refuse_application(opportunity_open: bool, applied_before: bool) -> str | None:
    """Why an offer of help for an opportunity is refused, or None when it is welcome."""
    if not opportunity_open:
        return "the opportunity is closed"
    if applied_before:
        return "the volunteer already offered help for this opportunity"
    return None


def follow_up_address(opportunity_contact: str | None, volunteer_coordinator: str | None) -> str | None:
    """Who follows up an offer of help: the opportunity's contact person, else (help
    offered in general) the volunteer's coordinator."""
    return opportunity_contact if opportunity_contact is not None else volunteer_coordinator


# --- volunteers ---------------------------------------------------------------------------

# `volunteers.updated` carries these; the others (interests, availability, …) are registration's own.
PUBLISHED_FIELDS: tuple[str, ...] = (
    "name", "email", "language", "coordinator_email", "appreciation_mail_consent", "shift_reminder_consent", "active")


def changed_fields(current: Mapping[str, object], sent: Mapping[str, object]) -> dict[str, object]:
    """The fields sent whose value differs from the current one."""
    return {field: value for field, value in sent.items() if current[field] != value}


# A consent sent is published even when registration holds that value already: a
# volunteer can turn shift reminders off in appreciation alone (the link in a
# reminder), so only an explicit value from here turns them on again there.
CONSENT_FIELDS: tuple[str, ...] = ("appreciation_mail_consent", "shift_reminder_consent")


def published_changes(changes: Mapping[str, object], sent: Mapping[str, object] | None = None) -> dict[str, object]:
    """What of a change other services hear about: fields they know, changed to a
    value (a cleared coordinator address is registration's business only), and the
    consents `sent`, changed or not."""
    consents = {field: value for field, value in (sent or {}).items() if field in CONSENT_FIELDS}
    return {field: value for field, value in (changes | consents).items()
            if field in PUBLISHED_FIELDS and value is not None}


def registration_predates_erasure(registered_at: datetime, erased_at: datetime | None) -> bool:
    """A registration from before the id's erasure (late, or replayed) must not
    bring the person's data back."""
    return erased_at is not None and registered_at <= erased_at


def later_erasure(erased_at: datetime | None, requested_at: datetime) -> datetime:
    """The erasure moment to keep: the latest request."""
    return requested_at if erased_at is None or requested_at > erased_at else erased_at
