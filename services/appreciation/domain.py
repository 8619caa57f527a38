"""Appreciation rules as pure functions: which milestones a change crosses, when an
anniversary and its reminder are due, whether a late discovery is still celebrated."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from services.appreciation.rules import MilestoneRule, Rules


@dataclass(frozen=True)
class Crossed:
    milestone: str
    rule: MilestoneRule


def crossed(rules: Rules, measure: str, before: float, after: float) -> list[Crossed]:
    """Milestones of `measure` whose threshold lies in (before, after]."""
    return [Crossed(rule.milestone(n), rule) for rule in rules.for_measure(measure)
            for n in rule.at if before < n <= after]


def should_celebrate(happened_at: datetime, detected_at: datetime, grace: timedelta) -> bool:
    """A milestone detected long after it happened is recorded but not mailed
    (importing years of history must not flood people with late cards)."""
    return detected_at - happened_at <= grace


def local_date(moment: datetime, tz) -> date:  # noqa: ANN001
    return moment.astimezone(tz).date()


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


def missed_in_a_row_alert(rules: Rules, missed_in_a_row: int) -> bool:
    """Alert exactly when the run of no-shows reaches the configured length."""
    return missed_in_a_row == rules.alerts.missed_shifts_in_a_row
