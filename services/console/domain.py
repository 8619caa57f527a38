"""The console's rules as pure functions: which event answers which alert, what a
coordinator is asked to do, when a to-do is overdue, and how names are searched.
(Which milestones are coming up is appreciation's rule: the console shows what
`milestones.upcoming` says.)"""

from __future__ import annotations

import unicodedata
from datetime import date, timedelta

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


def todo_overdue(due_on: date, today: date, *, snoozed_until: date | None = None,
                 done: bool = False, escalated: bool = False) -> bool:
    """Whether the console should report this to-do overdue today: still open, not
    reported before, and its deadline (the due day itself included) has passed."""
    return not done and not escalated and todo_deadline(due_on, snoozed_until) < today


def search_key(name: str) -> str:
    """A name folded for search: case and accents ignored ("Zoë" is found as "zoe")."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))
