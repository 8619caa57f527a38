"""The console's rules as pure functions: which event answers which alert, what a
coordinator is asked to do, when a to-do is overdue, how names are searched, and
what an account and a sign-in must satisfy. (Which milestones are coming up is
appreciation's rule: the console shows what `milestones.upcoming` says.)"""

from __future__ import annotations

import hashlib
import unicodedata
import uuid
from datetime import date, datetime, timedelta

from email_validator import EmailNotValidError, validate_email

# Alerts appreciation raises (alerts.raised `reason`), the check-in that answers each
# when a coordinator says "I spoke to them", and what the console suggests doing.
CHECKIN_FOR_REASON = {"intake-overdue": "intake", "onboarding-overdue": "onboarding",
                      "periodic-overdue": "periodic", "quiet-volunteer": "periodic", "missed-shifts": "periodic"}


def checkin_kind_for(reason: str) -> str:
    """The kind of check-in a conversation about this alert is."""
    return CHECKIN_FOR_REASON.get(reason, "periodic")


def closed_by_checkin(reason: str, checkin_kind: str) -> bool:
    """A held check-in answers the overdue contact moment of its own kind, and any
    conversation answers worries about a quiet volunteer, missed shifts, a mail
    that could not be delivered (the coordinator reached them another way) or a
    shift they cannot come to (the coordinator has it in hand)."""
    return reason == f"{checkin_kind}-overdue" or reason in ("quiet-volunteer", "missed-shifts", "delivery-failed",
                                                             "shift-declined")


def closed_by_update(reason: str, changed: set[str]) -> bool:
    """A new email address answers a mail that could not be delivered."""
    return reason == "delivery-failed" and "email" in changed


SUGGESTION_FOR_REASON = {"delivery-failed": "suggest_address", "shift-declined": "suggest_replacement"}


def suggestion(reason: str) -> str:
    """The text key of what the console suggests doing about an alert."""
    return SUGGESTION_FOR_REASON.get(reason) or f"suggest_{checkin_kind_for(reason)}"


def closed_by_shift(reason: str) -> bool:
    """A completed shift shows the volunteer is active again."""
    return reason in ("quiet-volunteer", "missed-shifts")


SNOOZE = timedelta(days=7)


def todo_deadline(due_on: date, snoozed_until: date | None) -> date:
    """The last day a to-do can be done before it is overdue: its date, or the end
    of a snooze that reaches further."""
    return max(due_on, snoozed_until) if snoozed_until else due_on


def snoozed_until(today: date) -> date:
    """"Snooze a week": hidden from Today, and not overdue, until a week from today."""
    return today + SNOOZE


def todo_overdue(due_on: date, today: date, *, snoozed_until: date | None = None,
                 done: bool = False, escalated: bool = False) -> bool:
    """Whether the console should report this to-do overdue today: still open, not
    reported before, and its deadline (the due day itself included) has passed."""
    return not done and not escalated and todo_deadline(due_on, snoozed_until) < today


def search_key(name: str) -> str:
    """A name folded for search: case and accents ignored ("Zoë" is found as "zoe")."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def search_fragment(query: str) -> str:
    """What a search looks for inside the names' search keys: the query folded like a
    name, without the characters LIKE would read as wildcards or escapes."""
    return search_key(query).replace("\\", "").replace("%", "").replace("_", " ")


UPCOMING_DAYS = 30  # anniversaries this many days ahead (today and the 30th day included) show on Today


def upcoming_window(day: date) -> tuple[date, date]:
    """The dates within which Today shows a dated (years of service) upcoming milestone;
    shift and hour counts show always (appreciation announces them only when nearly reached)."""
    return day, day + timedelta(days=UPCOMING_DAYS)


def shift_hours(started_at: datetime, ended_at: datetime) -> float:
    """A shift's length as the timeline shows it: hours, two decimals."""
    return round((ended_at - started_at).total_seconds() / 3600, 2)


def account_ref(email: str) -> str:
    """The opaque id a coordinator is named by in events (their address stays in the console)."""
    return "u-" + hashlib.sha256(email.encode()).hexdigest()[:16]


OVERDUE_EVENT_NAMESPACE = uuid.UUID("8c2f4d1a-6b3e-4f57-a0d9-3e5b7c9a1f24")


def overdue_event_id(volunteer_id: str, todo_id: str) -> str:
    """The id of a to-do's todos.overdue, derived from its key: a replay carries the same id."""
    return str(uuid.uuid5(OVERDUE_EVENT_NAMESPACE, f"todo-overdue/{volunteer_id}/{todo_id}"))


# ---------------------------------------------------------------- accounts and signing in

ROLES: dict[str, frozenset[str]] = {
    "coordinator": frozenset({"console", "volunteers:read", "checkins:write"}),
    "admin": frozenset({"admin"}),
}
LANGUAGES = ("nl", "en")
MIN_PASSWORD_LENGTH = 12

ACCOUNT_FAILURES = 5
ADDRESS_FAILURES = 20  # higher: several coordinators may share an office's address
FAILURE_WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)


class AccountError(Exception):
    """An account cannot be added or changed as asked; the message says why."""


def normalise_email(email: str) -> str:
    """The address as stored: checked and lower-case."""
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise AccountError(f"{email!r} is not an email address: {error}") from None


def new_account_address(email: str, role: str, language: str, password: str) -> str:
    """The address a new account is stored under; AccountError when the role, language
    or password will not do."""
    address = normalise_email(email)
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; choose from {', '.join(ROLES)}")
    if language not in LANGUAGES:
        raise AccountError(f"unknown language {language!r}; choose from {', '.join(LANGUAGES)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password is shorter than {MIN_PASSWORD_LENGTH} characters")
    return address


def signin_keys(email: str, address: str) -> tuple[str, str, str]:
    """The address as looked up, and the keys its failures and the client's are counted under."""
    email = email.strip().lower()[:320]
    return email, f"account:{email}", f"address:{address}"[:400]
