"""The rules file: which milestones count and what each triggers (configuration, not code).

Its `followups:` section belongs to check-ins (services/checkins/rules.py)."""

from __future__ import annotations

from datetime import time
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.settings import Settings, SettingsError
from shared.yamlfile import read_yaml, validated

DEFAULT_RULES_FILE = Path(__file__).parent / "rules.yaml"

VolunteerNotification = Literal["first-shift-thanks", "milestone-card", "service-anniversary", "lunch-invitation"]


class RulesError(SettingsError):
    """The rules file cannot be used; the message names the file and line."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Lunch(Strict):
    days_after_anniversary: int = Field(ge=0, le=365)
    time: time
    # One text, or one per language ({nl: de kantine, en: the canteen}): every free
    # text of the rules reaches a volunteer in their own language.
    place: str | dict[Literal["nl", "en"], str] = Field(min_length=1, max_length=200)


class MilestoneRule(Strict):
    measure: Literal["shifts", "hours", "years"]
    at: list[int] = Field(min_length=1)
    name: str | None = Field(default=None, pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    notify: list[VolunteerNotification] = Field(min_length=1)
    coordinator_reminder_days: int | None = Field(default=None, ge=1, le=90)
    lunch: Lunch | None = None
    # `per: year`: n shifts (hours) within one calendar year in ORG_TIMEZONE, reached
    # once per year; the milestone's name carries the year (`shifts-10-2026`).
    per: Literal["year"] | None = None

    @field_validator("at")
    @classmethod
    def _positive_ascending(cls, at: list[int]) -> list[int]:
        if any(n <= 0 for n in at) or at != sorted(set(at)):
            raise ValueError("thresholds must be positive, ascending and distinct")
        return at

    @model_validator(mode="after")
    def _consistent(self) -> "MilestoneRule":
        if self.name and len(self.at) != 1:
            raise ValueError("`name` can only be given for a single threshold")
        if self.per and self.measure == "years":
            raise ValueError("`per: year` applies to shifts and hours only")
        if self.measure != "years" and (self.coordinator_reminder_days or self.lunch):
            raise ValueError("coordinator_reminder_days and lunch apply to years of service only")
        if self.lunch and "lunch-invitation" not in self.notify:
            raise ValueError("`lunch` is set but notify has no lunch-invitation")
        if self.measure != "years" and {"service-anniversary", "lunch-invitation"} & set(self.notify):
            # their templates speak of years of service and the anniversary's date
            raise ValueError("service-anniversary and lunch-invitation apply to years of service only")
        return self

    def base_name(self, threshold: int) -> str:
        return self.name or f"{self.measure}-{threshold}"

    def milestone(self, threshold: int, year: int | None = None) -> str:
        """The ledger's name: `shifts-10`, a custom name, or for `per: year` the name
        with the year (`shifts-10-2026`, `busy-bee-2026`)."""
        if self.per == "year":
            if year is None:
                raise ValueError(f"{self.base_name(threshold)} is reached per year: name the year")
            return f"{self.base_name(threshold)}-{year}"
        return self.base_name(threshold)


class AlertRules(Strict):
    missed_shifts_in_a_row: int = Field(default=2, ge=1)
    followup_overdue: bool = True
    quiet_volunteer: bool = True


class Rules(Strict):
    grace_days: int = Field(default=14, ge=0)
    milestones: list[MilestoneRule]
    alerts: AlertRules = AlertRules()
    # Check-ins' deadlines: read and validated by check-ins (services/checkins/rules.py),
    # which parses only this section; appreciation leaves it alone.
    followups: dict | None = None

    @model_validator(mode="after")
    def _unique_milestones(self) -> "Rules":
        seen: set[str] = set()
        yearly: set[str] = set()
        for rule in self.milestones:
            for threshold in rule.at:
                # `shifts-10` over all time and `shifts-10` per year (`shifts-10-2026`) may both exist
                name = rule.base_name(threshold)
                group = yearly if rule.per else seen
                if name in group:
                    raise ValueError(f"milestone {name!r} is defined twice")
                group.add(name)
        for name in seen:  # `busy-2026` must not be both a name and `busy` in 2026
            stem, _, year = name.rpartition("-")
            if stem in yearly and year.isdigit() and len(year) == 4:
                raise ValueError(f"milestone {name!r} reads like {stem!r} per year in {year}; rename one")
        return self

    def for_measure(self, measure: str) -> list[MilestoneRule]:
        """The rules of `measure` counted over the whole time of service (not `per`)."""
        return [rule for rule in self.milestones if rule.measure == measure and rule.per is None]

    def per_year(self, measure: str) -> list[MilestoneRule]:
        """The rules of `measure` counted per calendar year."""
        return [rule for rule in self.milestones if rule.measure == measure and rule.per == "year"]


@lru_cache(maxsize=4)
def _rules_at(path: Path | None) -> Rules:
    return load_rules(path)


def rules_for(settings: Settings) -> Rules:
    """The rules of RULES_FILE (or the shipped file), read once per process."""
    return _rules_at(settings.rules_file)


def load_rules(path: Path | None = None) -> Rules:
    """Read and validate a rules file; RulesError names the line of the first problem."""
    path = path or DEFAULT_RULES_FILE
    root, data = read_yaml(path, RulesError)
    if not isinstance(data, dict):
        raise RulesError(f"{path}: expected a mapping with grace_days, milestones and alerts")
    return validated(Rules, data, path, root, RulesError)
